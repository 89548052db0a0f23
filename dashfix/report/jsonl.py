"""``--format jsonl``: one finding per line, then one summary line.

Every line carries ``type`` ("finding" or "summary") so consumers can dispatch on it.
"""

from __future__ import annotations

from typing import TextIO

from dashfix import __version__
from dashfix.findings import Finding
from dashfix.osnames import json_text
from dashfix.results import SCHEMA_VERSION, Report


def render(report: Report, out: TextIO) -> None:
    for finding in sorted(report.findings, key=Finding.sort_key):
        out.write(json_text({"type": "finding", **finding.to_dict()}, indent=False))
        out.write("\n")
    summary = {
        "type": "summary",
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dashfix", "version": __version__},
        "roots": report.roots,
        **report.summary(),
    }
    out.write(json_text(summary, indent=False))
    out.write("\n")
