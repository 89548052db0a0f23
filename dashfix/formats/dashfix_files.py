"""The names dashfix itself gives files in a checkpoint store.

DashFlow never reads any of them (none has the extension ``bin``): temp files of dashfix's
atomic writes, and the quarantine folder where each repair session keeps its journal,
manifest and the files it took out of the store. ``verify`` uses these names to report what
an interrupted dashfix run left behind; ``dashfix.repair`` writes them.
"""

from __future__ import annotations

import re

TEMP_SUFFIX = ".dashfix.tmp"
QUARANTINE_DIR = ".dashfix-quarantine"
JOURNAL_NAME = "journal.jsonl"
MANIFEST_NAME = "manifest.json"

_TEMP = re.compile(
    r"\..+\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" + re.escape(TEMP_SUFFIX),
    re.DOTALL,
)


def temp_name(target: str, unique: str) -> str:
    """``.{target}.{unique}.dashfix.tmp``: hidden, and never a name DashFlow reads."""
    return f".{target}.{unique}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    """A temp file of a dashfix write (``unique`` a uuid4, as dashfix always makes it)."""
    return name.endswith(TEMP_SUFFIX) and _TEMP.fullmatch(name) is not None
