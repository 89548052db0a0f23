"""DashFlow's cross-process store lock: ``flock(LOCK_EX)`` on ``<store>/.checkpoint.lock``.

DashFlow takes this lock through fs2's ``lock_exclusive``, which is ``flock(fd, LOCK_EX)`` on
Unix, so holding it here excludes DashFlow's index writes and other dashfix runs alike.
It is advisory and unreliable on NFS; it does not stop a running DashFlow process from
writing its in-memory index later (bug #5), which is why repair commands warn about it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dashfix.errors import StoreLockedError, WriteError
from dashfix.formats.variants import LOCK_NAME
from dashfix.inputs.checkpoint_record import entry_kind
from dashfix.rules import checkpoint as ck

POLL_SECONDS = 0.05


def _open_lock_file(path: Path) -> int:
    """The lock file, opened as DashFlow opens it (create + read + write, never truncate,
    never delete afterwards), but never a symlink (O_NOFOLLOW: one planted in the store must
    not redirect the lock elsewhere) and never a folder, FIFO, socket or device (CK128):
    ``WriteError`` says so before anything is opened."""
    _refuse(odd_lock(path.parent))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        _refuse(_odd(path, os.fstat(fd).st_mode))  # replaced since the lstat
    except WriteError:
        os.close(fd)
        raise
    return fd


def odd_lock(store: Path) -> str | None:
    """Why the store lock cannot be taken when ``.checkpoint.lock`` is a folder, FIFO,
    socket or device (CK128) or a symlink (CK117), naming the way out; else None (found by
    ``lstat``)."""
    path = store / LOCK_NAME
    try:
        return _odd(path, os.lstat(path).st_mode)
    except FileNotFoundError:
        return None  # created when taken, as DashFlow creates it


def _odd(path: Path, mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):  # DashFlow follows it and locks what it names; dashfix never does
        return (f"{path} is a symlink, never followed ({ck.SYMLINK_IN_STORE.code}), so the "
                f"store lock cannot be taken. {_WAY_OUT}")
    return (f"{path} is {entry_kind(mode)}, not a regular file ({ck.LOCK_NOT_A_FILE.code}), "
            f"so the store lock cannot be taken (nor can DashFlow take it). {_WAY_OUT}")


_WAY_OUT = ("Stop every DashFlow process on the store, move the entry out of the store and run "
            "the command again")


def _refuse(blocker: str | None) -> None:
    if blocker is not None:
        raise WriteError(f"cannot open the store lock: {blocker}; nothing was changed")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


@contextmanager
def store_lock(store: Path, wait_seconds: float | None = None) -> Iterator[Path]:
    """Hold the store's exclusive lock for the ``with`` block.

    ``wait_seconds`` None (the default) fails at once when another process holds the lock;
    otherwise it polls until the lock is free or the time is up. Raises ``StoreLockedError``.
    """
    path = store / LOCK_NAME
    try:
        fd = _open_lock_file(path)
    except OSError as exc:
        cause = ("it is a symlink, never followed: remove it" if exc.errno == errno.ELOOP
                 else exc.strerror or str(exc))
        raise WriteError(f"cannot open the store lock {path}: {cause}; nothing was "
                         "changed") from None
    try:
        deadline = None if wait_seconds is None else time.monotonic() + max(wait_seconds, 0.0)
        while not _try_lock(fd):
            if deadline is None or time.monotonic() >= deadline:
                waited = "" if wait_seconds is None else f" after waiting {wait_seconds:g}s"
                raise StoreLockedError(
                    f"{path} is locked by another process{waited} (a running DashFlow "
                    "process or another dashfix). Stop it, or pass --wait SECONDS."
                )
            time.sleep(POLL_SECONDS)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
