"""Timestamped backups of files a repair rewrites, under names DashFlow never reads.

DashFlow's FileCheckpointer lists only names whose extension is exactly ``bin``, the
Compressed variant names ending ``.bin``/``.bin.gz`` and the Versioned variant names
containing ``.v.bin``. ``index.bin.dashfix-<UTC stamp>.bak`` matches none of them, so a
backup is never mistaken for a checkpoint or an index.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dashfix.repair.atomic import atomic_write_bytes

BACKUP_MARK = ".dashfix-"
BACKUP_SUFFIX = ".bak"


def utc_stamp(now: float | None = None) -> str:
    """``YYYYmmddTHHMMSSZ``: sorts by time and is safe in a file name."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def backup_name(original: str, stamp: str) -> str:
    return f"{original}{BACKUP_MARK}{stamp}{BACKUP_SUFFIX}"


def is_backup_name(name: str) -> bool:
    return BACKUP_MARK in name and name.endswith(BACKUP_SUFFIX)


def _free_path(directory: Path, original: str, stamp: str) -> Path:
    # Two runs within one second must not overwrite the first backup.
    candidate = directory / backup_name(original, stamp)
    counter = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = directory / backup_name(original, f"{stamp}-{counter}")
        counter += 1
    return candidate


def backup_file(path: Path, stamp: str) -> Path | None:
    """Copy ``path`` beside itself as ``<name>.dashfix-<stamp>.bak`` (crash-safe, same mode
    and mtime). Returns the backup's path, or None when there was nothing to back up."""
    try:
        info = os.stat(path, follow_symlinks=False)
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    target = _free_path(path.parent, path.name, stamp)
    atomic_write_bytes(target, data, mode=info.st_mode & 0o7777)
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)
    return target
