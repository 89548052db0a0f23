"""dashfix's C helpers (``dashfix/_native.c``), when this install has them.

They serve the hot path of stream validation: splitting kcat records out of a chunk
(``formats/kcat.py``), reading DashStream messages from their wire bytes
(``checks/stream/scan.py``) and comparing windows' message_id hashes (below).
``pip install`` compiles the extension where a C compiler is available (``setup.py``,
``optional=True``); without one (or with ``DASHFIX_PURE_PYTHON=1``), each caller uses its
Python twin of the same rule, slower, and tests hold the two to the same answers.
"""

from __future__ import annotations

import os
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
