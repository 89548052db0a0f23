"""The verify pipeline: discover inputs, run each kind's checks, collect one Report.

This is the core behind ``dashfix verify``; it never prints and never writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dashfix.context import CheckContext, Progress, VerifyOptions
from dashfix.findings import Finding
from dashfix.inputs import InputKind
from dashfix.inputs.discover import discover
from dashfix.inputs.kinds import input_kinds
from dashfix.results import Report
from dashfix.rules.general import NOTHING_TO_CHECK


def verify(
    paths: Sequence[Path],
    options: VerifyOptions | None = None,
    *,
    progress: Progress | None = None,
    kinds: Sequence[InputKind] | None = None,
) -> Report:
    options = options or VerifyOptions()
    kinds = input_kinds() if kinds is None else kinds
    by_name = {kind.name: kind for kind in kinds}
    report = Report(roots=[str(p) for p in paths], fail_on=options.fail_on)
    for root, found in discover(paths, kinds):
        report.findings.extend(found.findings)
        if not found.targets and not found.findings:
            report.findings.append(
                NOTHING_TO_CHECK.at(str(root), f"no store, log or dump found under {str(root)!r}")
            )
        ctx = CheckContext(root=root, options=options)
        if progress is not None:
            ctx.progress = progress
        for target in found.targets:
            report.targets.append((target.kind, target.rel))
            findings: list[Finding] = list(by_name[target.kind].check(target, ctx))
            report.findings.extend(findings)
        report.stats.update(ctx.stats)
        report.not_checked.extend(ctx.not_checked)
    report.findings.sort(key=Finding.sort_key)
    return report
