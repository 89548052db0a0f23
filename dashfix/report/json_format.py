"""``--format json``: one document with a schema version, nothing else on stdout."""

from __future__ import annotations

from typing import TextIO

import orjson

from dashfix.results import Report


def render(report: Report, out: TextIO) -> None:
    out.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    out.write("\n")
