"""Timestamped backups of ``index.bin``, under names DashFlow never reads.

DashFlow's FileCheckpointer lists only names whose extension is exactly ``bin``, the
Compressed variant names ending ``.bin``/``.bin.gz`` and the Versioned variant names
containing ``.v.bin``. ``index.bin.dashfix-<UTC stamp>.bak`` matches none of them, so a
backup is never mistaken for a checkpoint or an index.
"""

from __future__ import annotations

import time
from pathlib import Path

BACKUP_MARK = ".dashfix-"
BACKUP_SUFFIX = ".bak"


def utc_stamp(now: float | None = None) -> str:
    """``YYYYmmddTHHMMSSZ``: sorts by time and is safe in a file name."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def backup_name(original: str, stamp: str) -> str:
    return f"{original}{BACKUP_MARK}{stamp}{BACKUP_SUFFIX}"


def is_backup_name(name: str) -> bool:
    return BACKUP_MARK in name and name.endswith(BACKUP_SUFFIX)


def free_backup_path(directory: Path, original: str, stamp: str) -> Path:
    """``<original>.dashfix-<stamp>.bak`` in ``directory``, with a counter when two runs
    within one second would otherwise share the name (the first backup is never replaced)."""
    candidate = directory / backup_name(original, stamp)
    counter = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = directory / backup_name(original, f"{stamp}-{counter}")
        counter += 1
    return candidate
