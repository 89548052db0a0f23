"""Helpers that several renderers share: where a finding is, and how bad, in words."""

from __future__ import annotations

import os
from pathlib import Path

from dashfix.findings import Finding, Rule, Severity
from dashfix.results import Report
from dashfix.rules import rules_by_code


def location_text(finding: Finding) -> str:
    """``path record N @offset``: the human-readable location of a finding."""
    where = finding.path
    if finding.record is not None:
        where += f" record {finding.record}"
    if finding.offset is not None:
        where += f" @{finding.offset}"
    return where


def full_message(finding: Finding) -> str:
    """The message plus expected/actual and the fix command, for one-line formats."""
    text = finding.message
    compared = [
        f"{label} {value}"
        for label, value in (("expected", finding.expected), ("found", finding.actual))
        if value is not None
    ]
    if compared:
        text += f" ({', '.join(compared)})"
    if finding.fix_command:
        text += f"; fix: {finding.fix_command}"
    return text


def single_root(report: Report) -> Path | None:
    """The one scanned root folder, when exactly one PATH was given.

    Finding paths are relative to their own root; with several PATHs a renderer cannot
    tell which root a finding belongs to, so it leaves the paths as they are.
    """
    if len(report.roots) != 1:
        return None
    root = Path(os.path.abspath(report.roots[0]))
    return root if root.is_dir() else root.parent


def workspace_path(report: Report, finding: Finding) -> str:
    """The finding's path relative to the current directory (where CI checked out the repo)."""
    root = single_root(report)
    if root is None or os.path.isabs(finding.path):
        return finding.path
    absolute = root / finding.path
    relative = os.path.relpath(absolute)
    return Path(relative).as_posix() if not relative.startswith("..") else absolute.as_posix()


def rule_for(finding: Finding, table: dict[str, Rule] | None = None) -> Rule:
    """The catalogue entry of a finding; a minimal stand-in when the code is unregistered."""
    table = rules_by_code() if table is None else table
    rule = table.get(finding.code)
    if rule is not None:
        return rule
    return Rule(
        code=finding.code,
        name=finding.code.lower(),
        severity=finding.severity,
        family="unknown",
        summary=finding.message,
        explanation="This code is not in the rule catalogue of this dashfix version.",
        bug="-",
        fix="-",
    )


SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
