"""The C helpers of the stream checks (``_scan.c``), when this install has them.

``pip install`` compiles the extension where a C compiler is available (``setup.py``,
``optional=True``); without one (or with ``DASHFIX_PURE_PYTHON=1``), every helper here
falls back to the same rule in Python, slower.  ``scan.py`` holds the scanner's Python
twin.
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
        from dashfix.checks.stream import _scan as MODULE  # type: ignore[attr-defined,no-redef]
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
