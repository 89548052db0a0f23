"""dashfix's C helpers (``dashfix/_native.c``), when this install has them.

They serve the hot paths: splitting kcat records out of a chunk (``formats/kcat.py``),
reading DashStream messages from their wire bytes (``checks/stream/scan.py``), comparing
windows' message_id hashes and listing a store folder (below), and reading checkpoint files
(``inputs/checkpoint_files/``).
``pip install`` compiles the extension where a C compiler is available (``setup.py``,
``optional=True``); without one (or with ``DASHFIX_PURE_PYTHON=1``), each caller uses its
Python twin of the same rule, slower, and tests hold the two to the same answers.
"""

from __future__ import annotations

import os
import sys
from array import array
from typing import Any

PURE_PYTHON_VARIABLE = "DASHFIX_PURE_PYTHON"
"""Set to 1, the C helpers are not used even where they are built (``make test`` checks
the Python twins that way too)."""

MODULE: Any = None
if os.environ.get(PURE_PYTHON_VARIABLE) != "1":
    try:
        from dashfix import _native as MODULE  # type: ignore[attr-defined,no-redef]
    except ImportError:
        MODULE = None


def key_hashes(dicts: list[dict[bytes, Any]]) -> array[int]:
    """``hash`` of every key of ``dicts``."""
    if MODULE is None:
        return array("q", (hash(key) for keys in dicts for key in keys))
    hashes = array("q")
    hashes.frombytes(MODULE.key_hashes(dicts))
    return hashes


def shares_any(first: array[int], second: array[int]) -> bool:
    """Whether two arrays of integers hold a value in common."""
    if MODULE is None:
        return not set(first).isdisjoint(second)
    return bool(MODULE.shares_any(first, second))


def list_folder(dir_fd: int, *, sort: bool = True) -> tuple[list[str], list[str]]:
    """The entries of the folder ``dir_fd`` (symlinks not followed): the names of its
    regular files, sorted (or, without ``sort``, in listing order), and the names of every
    other entry (folders, symlinks, special files) in listing order. In C: one ``readdir``
    pass and a sort of the bytes, with the GIL released, and a string per name; its twin
    below, or for a folder holding a name that is not UTF-8 (decoded with surrogate escapes,
    which do not sort as their bytes)."""
    if MODULE is not None and _UTF8_NAMES:
        listed: tuple[list[str], list[str]] | None = MODULE.list_folder(dir_fd, sort)
        if listed is not None:
            return listed
    regular: list[str] = []
    others: list[str] = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            (regular if entry.is_file(follow_symlinks=False) else others).append(entry.name)
    if sort:
        regular.sort()
    return regular, others


_UTF8_NAMES = sys.getfilesystemencoding() == "utf-8"
"""File names decode as UTF-8 (the C lister's assumption; any Linux with Python 3.7+)."""
