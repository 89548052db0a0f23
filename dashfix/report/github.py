"""``--format github``: workflow commands that GitHub Actions turns into annotations.

GitHub shows only a handful of annotations per step, so when ``$GITHUB_STEP_SUMMARY`` is
set a Markdown table of every live finding is appended to it as well.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from dashfix.findings import Finding, Severity
from dashfix.osnames import visible
from dashfix.report.locations import full_message, location_text, rule_for
from dashfix.results import Report
from dashfix.roots import is_url
from dashfix.rules import rules_by_code

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
SUMMARY_CAP = 1024 * 1024
"""GitHub rejects a step summary larger than 1 MiB."""


def escape_data(text: str) -> str:
    """Escape a message the way the Actions runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding, rule_name: str) -> str:
    """One workflow command. ``file`` is the finding's location: relative to the current
    folder (the checkout) when its root lies under it, as GitHub expects."""
    properties = {"title": f"{finding.code} {rule_name}"}
    if not is_url(finding.location):  # a topic's record is no file of the checkout
        properties = {"file": visible(finding.location), **properties}
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    message = f"{location_text(finding)}: {full_message(finding)}"
    return f"::{_COMMAND[finding.severity]} {rendered}::{escape_data(message)}"


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def step_summary(report: Report) -> str:
    lines = ["## dashfix verify", "", visible(report.summary_line()), ""]
    live = sorted(report.live, key=Finding.sort_key)
    if live:
        lines += ["| severity | code | location | finding |", "|---|---|---|---|"]
        budget = SUMMARY_CAP - 4096
        used = sum(len(line) + 1 for line in lines)
        for shown, finding in enumerate(live):
            row = "| " + " | ".join(
                _markdown_cell(cell)
                for cell in (
                    finding.severity.value,
                    finding.code,
                    location_text(finding),
                    full_message(finding),
                )
            ) + " |"
            if used + len(row.encode()) + 1 > budget:
                lines += ["", f"... and {len(live) - shown} more; see the full report."]
                break
            lines.append(row)
            used += len(row.encode()) + 1
    if report.suppressed:
        count = len(report.suppressed)
        lines += ["", f"{count} finding(s) suppressed by baseline {report.baseline}."]
    return "\n".join(lines) + "\n"


def render(report: Report, out: TextIO, environ: Mapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    table = rules_by_code()
    for finding in sorted(report.live, key=Finding.sort_key):
        out.write(annotation(finding, rule_for(finding, table).name) + "\n")
    if report.error is not None:
        out.write(f"::error title=dashfix failed::{escape_data(visible(report.error))}\n")
    out.write(visible(report.summary_line()) + "\n")
    summary_file = environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with Path(summary_file).open("a", encoding="utf-8") as summary:
            summary.write(step_summary(report))
