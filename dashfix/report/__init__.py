"""Renderers: each turns a Report into one output format. They never decide anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from dashfix.report import json_format, text
from dashfix.results import Report

Renderer = Callable[[Report, TextIO], None]

RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_format.render,
}


def render(fmt: str, report: Report, out: TextIO) -> None:
    RENDERERS[fmt](report, out)
