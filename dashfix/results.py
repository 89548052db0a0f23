"""The outcome of a run: findings plus the summary every renderer shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dashfix import __version__
from dashfix.errors import ExitCode
from dashfix.findings import Finding, Severity
from dashfix.rules import rules_by_code

SCHEMA_VERSION = 2
"""2: findings carry `root` and `path_in_root`, and `path` includes the root."""

_COUNT_WORDS = (
    ("stores", "store", "stores"),
    ("files", "file", "files"),
    ("threads", "thread", "threads"),
    ("logs", "log", "logs"),
    ("dumps", "DLQ dump", "DLQ dumps"),
    ("topics", "topic", "topics"),
    ("records", "record", "records"),
)


@dataclass
class Report:
    roots: list[str]
    findings: list[Finding] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    not_checked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Problems of the run that did not change its result (e.g. the cache was not usable)."""
    fail_on: Severity | None = Severity.ERROR
    error: str | None = None
    """Set when the run itself failed; the summary is still rendered."""
    error_exit: ExitCode = ExitCode.FAILURE
    """The exit code of the failure recorded in ``error``."""
    targets: list[tuple[str, str]] = field(default_factory=list)
    """``(kind, rel)`` of every target that was checked, for per-target outputs (JUnit)."""
    baseline: str | None = None
    """The baseline file that was applied, if any."""

    @property
    def live(self) -> list[Finding]:
        return [f for f in self.findings if not f.suppressed]

    @property
    def suppressed(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed]

    @property
    def unreadable(self) -> int:
        table = rules_by_code()
        return sum(1 for f in self.live if (rule := table.get(f.code)) and rule.unreadable)

    def exit_code(self) -> ExitCode:
        if self.error is not None:
            return self.error_exit
        if self.unreadable:
            return ExitCode.FAILURE
        if self.fail_on is not None and any(
            f.severity.rank >= self.fail_on.rank for f in self.live
        ):
            return ExitCode.FINDINGS
        return ExitCode.CLEAN

    def counts_phrase(self) -> str:
        parts = []
        for key, one, many in _COUNT_WORDS:
            count = self.stats.get(key, 0)
            if count:
                parts.append(f"{count} {one if count == 1 else many}")
        return ", ".join(parts) if parts else "nothing"

    def summary(self) -> dict[str, Any]:
        by_severity = Counter(f.severity.value for f in self.live)
        return {
            "exit_code": int(self.exit_code()),
            "fail_on": self.fail_on.value if self.fail_on else "never",
            "checked": dict(sorted(self.stats.items())),
            "findings": len(self.live),
            "errors": by_severity.get("error", 0),
            "warnings": by_severity.get("warning", 0),
            "infos": by_severity.get("info", 0),
            "suppressed": len(self.suppressed),
            "unreadable": self.unreadable,
            "not_checked": list(self.not_checked),
            "notes": list(self.notes),
            "error": self.error,
        }

    def summary_line(self) -> str:
        checked = f"{self.counts_phrase()} checked"
        if self.error is not None:
            return f"{checked}: dashfix failed: {self.error}"
        live = self.live
        if not live:
            # A partial run must not read as a clean bill for what it left out.
            scope = " in what was read" if self.not_checked else ""
            text = f"{checked}: no problems found{scope}"
        else:
            by_severity = Counter(f.severity for f in live)
            pieces = [
                f"{by_severity[sev]} {sev.value}{'' if by_severity[sev] == 1 else 's'}"
                for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO)
                if by_severity[sev]
            ]
            text = f"{checked}: {', '.join(pieces)}"
        if self.suppressed:
            text += f" ({len(self.suppressed)} suppressed by baseline)"
        if self.not_checked:
            text += "; NOT checked: " + "; ".join(self.not_checked)
        if self.notes:
            text += "; note: " + "; ".join(self.notes)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "dashfix", "version": __version__},
            "roots": self.roots,
            "findings": [f.to_dict() for f in sorted(self.findings, key=Finding.sort_key)],
            "summary": self.summary(),
        }
