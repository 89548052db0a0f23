"""Renderers: each turns a Report into one output format. They never decide anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from dashfix.report import github, json_format, jsonl, junit, sarif, text
from dashfix.results import Report

Renderer = Callable[[Report, TextIO], None]

RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_format.render,
    "jsonl": jsonl.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "github": github.render,
}

MACHINE_FORMATS = frozenset(RENDERERS) - {"text"}
"""Formats read by programs: even a failed run must leave a valid document in them."""


def render(fmt: str, report: Report, out: TextIO) -> None:
    RENDERERS[fmt](report, out)
