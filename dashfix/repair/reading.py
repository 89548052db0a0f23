"""Reading one store entry safely: never through a symlink, only regular files."""

from __future__ import annotations

import errno
import os
import stat

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
MAX_ENTRY_BYTES = 256 * 1024 * 1024
"""Larger files are not read into memory. DashFlow's executor caps a state at 100 MiB by
default, so a checkpoint this large is far outside what it writes."""


def read_entry(
    path: str, dir_fd: int | None = None, limit: int = MAX_ENTRY_BYTES
) -> tuple[bytes, os.stat_result] | str:
    """The bytes and stat of a regular file, or why it could not be read as one.

    ``path`` is relative to ``dir_fd`` when given (saves a path lookup per file)."""
    # O_NOFOLLOW + fstat: one open and one stat per file, and a symlink is never followed.
    try:
        fd = os.open(path, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return "a symlink" if exc.errno == errno.ELOOP else f"unreadable: {exc.strerror or exc}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > limit:
            return f"too large to check ({info.st_size} bytes, limit {limit})"
        # One read of size+1 bytes sees EOF at once; only a file that grew meanwhile loops.
        chunks = [os.read(fd, info.st_size + 1)]
        total = len(chunks[0])
        while chunks[-1] and total > info.st_size:
            if total > limit:
                return f"too large to check (grew past {limit} bytes while being read)"
            chunks.append(os.read(fd, 1 << 16))
            total += len(chunks[-1])
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    finally:
        os.close(fd)
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), info
