"""The gate policy, applied once after the checks: baseline, select/ignore, severity.

Order matters: the baseline is matched first (so an ignored code does not make its
baseline entry look stale), then codes are filtered, then severities re-graded, so the
GT4xx findings about the baseline obey select/ignore/severity like every other code.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from dashfix.config import Settings
from dashfix.context import Progress, VerifyOptions
from dashfix.errors import UsageError
from dashfix.findings import Finding, Severity
from dashfix.inputs.sources import Locator
from dashfix.results import Report
from dashfix.rules import all_rules, rules_by_code, unreadable_codes
from dashfix.verify import verify

if TYPE_CHECKING:  # the baseline machinery is imported when a baseline is given
    from dashfix.baseline import Baseline


def check_codes(patterns: Iterable[str], origin: str) -> None:
    """Each pattern must be a known code or the prefix of one (``DF``, ``CK1``)."""
    codes = [rule.code for rule in all_rules()]
    unknown = [p for p in patterns if not p or not any(code.startswith(p) for code in codes)]
    if unknown:
        raise UsageError(
            f"{origin}: unknown code(s) {', '.join(map(repr, unknown))}; "
            "`dashfix rules` lists them all"
        )


def _matches(code: str, patterns: Sequence[str]) -> bool:
    return any(code.startswith(pattern) for pattern in patterns)


@dataclass(frozen=True)
class GatePolicy:
    select: tuple[str, ...] = ()
    """Report only codes matching one of these (empty: all)."""
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    baseline: Baseline | None = None
    today: date | None = None

    def keeps(self, finding: Finding, unreadable: frozenset[str]) -> bool:
        # "Could not read" must never be filtered into a clean run.
        if finding.code in unreadable:
            return True
        if self.select and not _matches(finding.code, self.select):
            return False
        return not _matches(finding.code, self.ignore)


def apply_policy(report: Report, policy: GatePolicy) -> Report:
    findings: list[Finding] = list(report.findings)
    if policy.baseline is not None:
        from dashfix.baseline import apply_baseline

        findings = apply_baseline(findings, policy.baseline, policy.today)
        report.baseline = policy.baseline.source
    unreadable = unreadable_codes()
    findings = [f for f in findings if policy.keeps(f, unreadable)]
    if policy.severity:
        findings = [
            dataclasses.replace(f, severity=policy.severity[f.code])
            if f.code in policy.severity
            else f
            for f in findings
        ]
    findings.sort(key=Finding.sort_key)
    report.findings = findings
    return report


def policy_from_settings(
    settings: Settings, *, with_baseline: bool = True,
    checked: Sequence[str | os.PathLike[str]] = (),
) -> GatePolicy:
    """Validate select/ignore/severity codes and load the baseline named by the settings;
    ``checked`` are the PATHs of the run, named in the advice for an outdated baseline."""
    for key in ("select", "ignore"):
        check_codes(settings[key], f"{key} (from {settings.source(key)})")
    known = rules_by_code()
    overrides: dict[str, str] = settings["severity"]
    unknown = sorted(code for code in overrides if code not in known)
    if unknown:
        raise UsageError(
            f"severity (from {settings.source('severity')}): unknown code(s) "
            f"{', '.join(unknown)}; `dashfix rules` lists them all"
        )
    baseline_path = settings["baseline"] if with_baseline else None
    if baseline_path is not None:
        from dashfix.baseline import load_baseline
    return GatePolicy(
        select=settings["select"],
        ignore=settings["ignore"],
        severity={code: Severity(level) for code, level in overrides.items()},
        baseline=(None if baseline_path is None
                  else load_baseline(baseline_path, checked=checked)),
    )


def run_gate(
    paths: Sequence[Locator],
    options: VerifyOptions,
    policy: GatePolicy,
    progress: Progress | None = None,
) -> Report:
    """``verify`` plus the gate policy: what ``dashfix verify`` reports."""
    return apply_policy(verify(paths, options, progress=progress), policy)
