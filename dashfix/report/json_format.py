"""``--format json``: one document with a schema version, nothing else on stdout."""

from __future__ import annotations

from typing import TextIO

from dashfix.osnames import json_text
from dashfix.results import Report


def render(report: Report, out: TextIO) -> None:
    out.write(json_text(report.to_dict()))
    out.write("\n")
