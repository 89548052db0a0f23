"""Where inputs come from: discovering stores, logs and dumps under the scanned PATHs.

An *input kind* (checkpoint store, stream log, DLQ dump, ...) tells discovery which
folders or files it claims and checks a claimed target.  Kinds are listed in
``dashfix.checks.kinds`` (which wires each kind to its checks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashfix.context import CheckContext
    from dashfix.findings import Finding


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to check: a store folder, a log file, a dump, ..."""

    kind: str
    path: Path
    """Absolute path of the target, inside ``root``."""
    rel: str
    """Path relative to the scanned root, POSIX separators; ``.`` for the root itself."""
    root: Path
    input_format: str | None = None
    """The detected (or forced) concrete format, when the kind has several."""


@dataclass(frozen=True, slots=True)
class Skipped:
    rel: str
    reason: str


class InputFormat(StrEnum):
    """The stream log containers (``--input-format``); read by ``dashfix.inputs.streams``,
    named here so that the command line can list them without importing the readers."""

    KCAT = "kcat"
    JSONL = "jsonl"
    FRAME = "frame"
    FRAME_DIR = "frames"
    SQLITE = "sqlite"


INPUT_FORMATS = tuple(f.value for f in InputFormat)


HEAD_BYTES = 4096
"""How much of a file discovery reads to recognise it."""


@dataclass(frozen=True, slots=True)
class InputKind:
    name: str
    check: Callable[[Target, CheckContext], Iterator[Finding]]
    claims_dir: Callable[[Path], bool] | None = None
    """True when a folder is one target of this kind; discovery does not descend into it."""
    sniff_file: Callable[[Path, bytes], str | None] | None = None
    """Given a file and its first HEAD_BYTES bytes: the input format it is, or None."""
    description: str = ""
    caches_itself: bool = False
    """The kind's check uses the verify cache itself; verify does not memoize it whole."""
