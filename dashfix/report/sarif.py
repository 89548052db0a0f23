"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Baselined findings stay in the log with ``suppressions`` and ``baselineState:
"unchanged"``: dropping them would make code scanning close the alerts and reopen them
when the baseline entry expires.
"""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from dashfix import __version__
from dashfix.findings import Finding, Rule
from dashfix.osnames import json_text
from dashfix.report.locations import SARIF_LEVEL, full_message, rule_for
from dashfix.results import Report
from dashfix.roots import is_url
from dashfix.rules import all_rules, rules_by_code

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "SRCROOT"
FINGERPRINT_KEY = "dashfix/v2"
"""Versioned so a change of the fingerprint recipe does not collide with old alerts; v2
covers the root (``Finding.location``), v1 only the path inside it."""


_URI_SAFE = re.compile(r"[A-Za-z0-9._~/-]*")


def _uri(location: str) -> str:
    """A URI reference for a location: percent-encoded from the name's own bytes, so a
    name that is not UTF-8 keeps them (``a%FF.bin``); absolute paths become file URIs."""
    if is_url(location):
        return location
    uri = location if _URI_SAFE.fullmatch(location) else quote(os.fsencode(location), safe="/")
    return f"file://{uri}" if location.startswith("/") else uri


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


_KAFKA = "kafka://"
_SQLITE_ROW = "#checkpoints/"
"""How a row of a SQLite file found under a folder is named: ``{file}#checkpoints/{id}``
(``SqliteCheckpointer``'s table)."""


def _location(finding: Finding) -> dict[str, Any]:
    """A file (or a Kafka record) is a physical location. A database row, key, object or
    item is a logical location only: its ``fullyQualifiedName`` is the finding's location,
    ``postgresql://host/db#dashflow_checkpoints/{id}`` (the password removed, as everywhere),
    and there is no file to point at (a ``postgresql://`` artifact is not one; GitHub's
    upload skips such locations when it fingerprints, and dashfix gives its own
    fingerprints, which leave host and password out). A row of a SQLite file is both: the
    file, and the table/row inside it."""
    location_path = finding.location
    location: dict[str, Any] = {}
    logical = []
    if is_url(location_path) and not location_path.startswith(_KAFKA):
        store, _, entry = location_path.partition("#")
        logical.append({"name": entry or store, "fullyQualifiedName": location_path,
                        "kind": "resource"})
    else:
        file_path, row, entry = location_path.partition(_SQLITE_ROW)
        if row and not is_url(location_path):
            logical.append({"name": row[1:] + entry, "fullyQualifiedName": location_path,
                            "kind": "resource"})
            location_path = file_path
        artifact: dict[str, Any] = {"uri": _uri(location_path)}
        if not location_path.startswith("/") and not is_url(location_path):
            artifact["uriBaseId"] = ROOT_ID
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if finding.offset is not None:
            physical["region"] = {"byteOffset": finding.offset}
        location["physicalLocation"] = physical
    # Plain ifs rather than a generic loop: this runs once per result, 10,000s of times.
    if finding.thread_id:
        logical.append({"name": finding.thread_id, "kind": "thread"})
    if finding.checkpoint_id:
        logical.append({"name": finding.checkpoint_id, "kind": "checkpoint"})
    if logical:
        location["logicalLocations"] = logical
    return location


_PROPERTY_FIELDS = (
    ("threadId", "thread_id"),
    ("checkpointId", "checkpoint_id"),
    ("record", "record"),
    ("expected", "expected"),
    ("actual", "actual"),
    ("fix", "fix_command"),
)


def _result(finding: Finding, rule_index: int, baselined: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for key, attribute in _PROPERTY_FIELDS:
        value = getattr(finding, attribute)
        if value is not None:
            properties[key] = value
    if finding.details:
        properties["details"] = finding.details
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": full_message(finding)},
        "locations": [_location(finding)],
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
    baselined = report.baseline is not None
    summary = report.summary()
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
            _result(finding, index[finding.code], baselined)
            for finding in sorted(report.findings, key=Finding.sort_key)
        ],
        "invocations": [_invocation(report, summary)],
        "properties": {"summary": summary},
    }
    # Locations are relative to the current folder (the checkout, in CI) unless their root
    # lies outside it. A base URI must end with "/" or relative references would replace
    # its last segment.
    base = Path.cwd().as_uri()
    run["originalUriBaseIds"] = {ROOT_ID: {"uri": base if base.endswith("/") else base + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _invocation(report: Report, summary: dict[str, Any]) -> dict[str, Any]:
    invocation: dict[str, Any] = {
        "executionSuccessful": report.error is None,
        "exitCode": summary["exit_code"],
    }
    if report.error is not None:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": report.error}}
        ]
    return invocation


def render(report: Report, out: TextIO) -> None:
    # Building ~10 small dicts per result makes the cyclic GC run full collections over and
    # over (a third of the render time at 10,000 findings); none of them can form a cycle.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        document = to_sarif(report)
    finally:
        if was_enabled:
            gc.enable()
    # Compact: code scanning caps upload size, and nobody reads 10,000 results by eye.
    out.write(json_text(document, indent=False))
    out.write("\n")
