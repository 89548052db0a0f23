"""Fenced blocks of the docs, and matching a command's output against what a doc shows.

A block's info string is its language, then optional marks:

- ```sh             a script: run as it is, every `dashfix` in it must exit 0 or 1
- ```console        `$ command` lines, each followed by the output the doc shows
- ```sh skip: WHY   not run by the docs test (needs a broker, a GitHub runner, ...)
- ```sh install     README's install commands: run by tests/test_install.py in a fresh venv

In shown output, a line that is only `...` (or `... some words ...`) stands for any number
of lines, and `...` inside a line for any text, as in doctest's ELLIPSIS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ELLIPSIS = "..."


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    marks: frozenset[str]
    skip_reason: str | None
    body: str

    @property
    def where(self) -> str:
        return f"{self.path.parent.name + '/' if self.path.parent.name == 'docs' else ''}" \
               f"{self.path.name}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    text = path.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        info = match.group(1).strip()
        language, _, rest = info.partition(" ")
        skip_reason = None
        if rest.startswith("skip"):
            skip_reason = rest.removeprefix("skip").lstrip(":").strip()
        blocks.append(Block(path, text.count("\n", 0, match.start()) + 1, language,
                            frozenset(rest.split()), skip_reason, match.group(2)))
    return blocks


@dataclass(frozen=True)
class Example:
    """One `$ command` of a console block and the output the doc shows after it."""

    command: str
    shown: list[str]


def console_examples(body: str) -> list[Example]:
    examples: list[Example] = []
    continued = False
    for line in body.splitlines():
        if continued:  # a command continued with a backslash, as in a shell
            examples[-1] = Example(f"{examples[-1].command}\n{line}", [])
            continued = line.endswith("\\")
        elif line.startswith("$ "):
            continued = line.endswith("\\")
            examples.append(Example(line[2:], []))
        elif examples:
            examples[-1].shown.append(line)
        elif line.strip():
            raise ValueError(f"output before the first `$ ` command: {line!r}")
    return examples


def shown_pattern(shown: list[str]) -> re.Pattern[str]:
    """A regex that output matching ``shown`` (with its ellipses) satisfies in full."""
    parts = []
    for line in shown:
        stripped = line.strip()
        if stripped.startswith(ELLIPSIS) and stripped.endswith(ELLIPSIS) and (
            stripped == ELLIPSIS or ELLIPSIS not in stripped[3:-3]
        ):
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = [re.escape(piece) for piece in line.rstrip().split(ELLIPSIS)]
            parts.append("[^\\n]*?".join(pieces) + r"[ \t]*\n")
    return re.compile("".join(parts))


def matches_shown(output: str, shown: list[str]) -> bool:
    lines = [line.rstrip() for line in output.splitlines()]
    while shown and not shown[-1].strip():
        shown = shown[:-1]
    text = "".join(line + "\n" for line in lines)
    return shown_pattern(shown).fullmatch(text) is not None
