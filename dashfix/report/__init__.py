"""Renderers: each turns a Report into one output format. They never decide anything.

Each renderer's module is imported when that format is rendered: the names are needed for
every command's options, the renderers (rich, XML, ...) only for the format chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from dashfix.results import Report

Renderer = Callable[["Report", TextIO], None]


def _deferred(module: str, function: str = "render") -> Renderer:
    def render(report: Report, out: TextIO) -> None:
        getattr(import_module(f"dashfix.report.{module}"), function)(report, out)

    return render


RENDERERS: dict[str, Renderer] = {
    "text": _deferred("text"),
    "concise": _deferred("text", "render_concise"),
    "table": _deferred("text", "render_table"),
    "json": _deferred("json_format"),
    "jsonl": _deferred("jsonl"),
    "sarif": _deferred("sarif"),
    "junit": _deferred("junit"),
    "github": _deferred("github"),
}

TEXT_FORMATS = frozenset({"text", "concise", "table"})
"""Formats for people; ``text`` is ``table`` on a terminal and ``concise`` elsewhere."""

MACHINE_FORMATS = frozenset(RENDERERS) - TEXT_FORMATS
"""Formats read by programs: even a failed run must leave a valid document in them."""


def render(fmt: str, report: Report, out: TextIO) -> None:
    RENDERERS[fmt](report, out)
