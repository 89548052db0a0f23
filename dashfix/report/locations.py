"""Helpers that several renderers share: where a finding is, and how bad, in words."""

from __future__ import annotations

import os
from pathlib import Path

from dashfix.findings import Finding, Rule, Severity
from dashfix.inputs.kafka import is_kafka_url as is_kafka_url
from dashfix.results import Report
from dashfix.rules import rules_by_code


def location_text(finding: Finding) -> str:
    """``path record N @offset``: the human-readable location of a finding (a topic's
    record: its ``kafka://host/topic#pP@OFFSET`` alone, which says it all)."""
    where = finding.path
    if is_kafka_url(where):
        return where
    if finding.record is not None:
        where += f" record {finding.record}"
    if finding.offset is not None:
        where += f" @{finding.offset}"
    return where


def comparison_text(finding: Finding) -> str | None:
    """``expected X, found Y`` with whichever of the two the finding has."""
    compared = [
        f"{label} {value}"
        for label, value in (("expected", finding.expected), ("found", finding.actual))
        if value is not None
    ]
    return ", ".join(compared) if compared else None


def full_message(finding: Finding) -> str:
    """The message plus expected/actual and the fix command, for one-line formats."""
    text = finding.message
    compared = comparison_text(finding)
    if compared:
        text += f" ({compared})"
    if finding.fix_command:
        text += f"; fix: {finding.fix_command}"
    return text


def single_root(report: Report) -> Path | None:
    """The one scanned root folder, when exactly one PATH was given.

    Finding paths are relative to their own root; with several PATHs a renderer cannot
    tell which root a finding belongs to, so it leaves the paths as they are.
    """
    if len(report.roots) != 1 or is_kafka_url(report.roots[0]):
        return None
    root = Path(os.path.abspath(report.roots[0]))
    return root if root.is_dir() else root.parent


def workspace_prefix(report: Report) -> str | None:
    """What to put before root-relative paths to make them relative to the current folder
    (where CI checked out the repository): ``""`` for the current folder itself, None when
    the root is outside it or there are several roots."""
    root = single_root(report)
    if root is None:
        return None
    relative = os.path.relpath(root)
    if relative == ".":
        return ""
    return None if relative.startswith("..") else Path(relative).as_posix() + "/"


def workspace_path(prefix: str | None, finding: Finding) -> str:
    if prefix is None or os.path.isabs(finding.path):
        return finding.path
    return prefix + finding.path if finding.path != "." else prefix.rstrip("/") or "."


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
