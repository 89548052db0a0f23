"""Helpers that several renderers share: where a finding is, and how bad, in words."""

from __future__ import annotations

from dashfix.findings import Finding, Rule, Severity
from dashfix.osnames import visible
from dashfix.roots import is_url
from dashfix.rules import rules_by_code


def location_text(finding: Finding) -> str:
    """``path record N @offset``: the human-readable location of a finding (a URL, such as
    a topic's record ``kafka://host/topic#pP@OFFSET``, says it all alone)."""
    where = visible(finding.location)
    if is_url(where):
        return where
    if finding.record is not None:
        where += f" record {finding.record}"
    if finding.offset is not None:
        where += f" @{finding.offset}"
    return where


def comparison_text(finding: Finding) -> str | None:
    """``expected X, found Y`` with whichever of the two the finding has; None when there
    is neither, or when the message already quotes both values."""
    values = [(label, value)
              for label, value in (("expected", finding.expected), ("found", finding.actual))
              if value is not None]
    if not values or all(value in finding.message for _, value in values):
        return None
    return ", ".join(f"{label} {value}" for label, value in values)


def full_message(finding: Finding) -> str:
    """The message plus expected/actual and the fix command, for one-line formats; bytes of
    file names that are not UTF-8 are shown as ``\\xNN``."""
    text = finding.message
    compared = comparison_text(finding)
    if compared:
        text += f" ({compared})"
    if finding.fix_command:
        text += f"; fix: {finding.fix_command}"
    return visible(text)


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
