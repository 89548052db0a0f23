"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Baselined findings stay in the log with ``suppressions`` and ``baselineState:
"unchanged"``: dropping them would make code scanning close the alerts and reopen them
when the baseline entry expires.
"""

from __future__ import annotations

from typing import Any, TextIO
from urllib.parse import quote

import orjson

from dashfix import __version__
from dashfix.findings import Finding, Rule
from dashfix.report.locations import SARIF_LEVEL, full_message, rule_for, single_root
from dashfix.results import Report
from dashfix.rules import all_rules, rules_by_code

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "SRCROOT"
FINGERPRINT_KEY = "dashfix/v1"
"""Versioned so a future change of the fingerprint recipe does not collide with old alerts."""


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    help_text = f"{rule.explanation}\n\nDashFlow bug: {rule.bug}\nFix: {rule.fix}"
    help_markdown = f"{rule.explanation}\n\n- DashFlow bug: {rule.bug}\n- Fix: {rule.fix}"
    if not rule.baselinable:
        note = "Cannot be baselined: a baseline never suppresses this code."
        help_text += f"\n{note}"
        help_markdown += f"\n- {note}"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {
            "tags": [rule.family],
            "family": rule.family,
            "dashflowBug": rule.bug,
            "baselinable": rule.baselinable,
        },
    }


def _location(finding: Finding, rooted: bool) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": quote(finding.path, safe="/")}
    if rooted and not finding.path.startswith("/"):
        artifact["uriBaseId"] = ROOT_ID
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if finding.offset is not None:
        physical["region"] = {"byteOffset": finding.offset}
    location: dict[str, Any] = {"physicalLocation": physical}
    logical = [
        {"name": value, "kind": kind}
        for kind, value in (("thread", finding.thread_id), ("checkpoint", finding.checkpoint_id))
        if value
    ]
    if logical:
        location["logicalLocations"] = logical
    return location


def _result(finding: Finding, rule_index: int, rooted: bool, baselined: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        key: value
        for key, value in (
            ("threadId", finding.thread_id),
            ("checkpointId", finding.checkpoint_id),
            ("record", finding.record),
            ("expected", finding.expected),
            ("actual", finding.actual),
            ("fix", finding.fix_command),
        )
        if value is not None
    }
    if finding.details:
        properties["details"] = finding.details
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": full_message(finding)},
        "locations": [_location(finding, rooted)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    if properties:
        result["properties"] = properties
    if baselined:
        result["baselineState"] = "unchanged" if finding.suppressed else "new"
    if finding.suppressed:
        suppression: dict[str, Any] = {"kind": "external", "state": "accepted"}
        if finding.suppression_reason:
            suppression["justification"] = finding.suppression_reason
        result["suppressions"] = [suppression]
    return result


def to_sarif(report: Report) -> dict[str, Any]:
    rules = list(all_rules())
    table = rules_by_code()
    # Findings whose code is missing from the catalogue still need a descriptor to point at.
    for finding in report.findings:
        if finding.code not in table:
            table[finding.code] = rule_for(finding, table)
            rules.append(table[finding.code])
    index = {rule.code: position for position, rule in enumerate(rules)}
    root = single_root(report)
    baselined = report.baseline is not None
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "dashfix",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule_descriptor(rule) for rule in rules],
            }
        },
        "results": [
            _result(finding, index[finding.code], root is not None, baselined)
            for finding in sorted(report.findings, key=Finding.sort_key)
        ],
        "invocations": [_invocation(report)],
        "properties": {"summary": report.summary()},
    }
    if root is not None:
        # A base URI must end with "/" or relative references would replace its last segment.
        base = root.as_uri()
        run["originalUriBaseIds"] = {ROOT_ID: {"uri": base if base.endswith("/") else base + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _invocation(report: Report) -> dict[str, Any]:
    invocation: dict[str, Any] = {
        "executionSuccessful": report.error is None,
        "exitCode": int(report.exit_code()),
    }
    if report.error is not None:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": report.error}}
        ]
    return invocation


def render(report: Report, out: TextIO) -> None:
    out.write(orjson.dumps(to_sarif(report), option=orjson.OPT_INDENT_2).decode())
    out.write("\n")
