"""Before the first change: can this run write everything it plans to write?

A repair that fails half way leaves a store part repaired (recoverable through the journal,
but still a surprise). So before the first change a writing run tries, without changing
anything visible, each thing it will need:

- the store folder: a probe temp file is created, given the bytes the run will write
  (``posix_fallocate``: a full disk answers ENOSPC here) and removed;
- the quarantine folder, if it exists: a probe file is created and removed in it;
- each file it moves or rewrites, and ``index.bin``: opened for writing (never written).
  As root, permission bits do not stop anything, but an immutable or append-only flag
  (``chattr +i``/``+a``) or a read-only filesystem does, and the open says so;
- each folder it moves: its immutable/append-only flags are read.

``os.access`` is not used for files: as root it says yes to everything but a read-only
filesystem.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import struct
import uuid
from collections.abc import Iterable
from pathlib import Path

from dashfix.errors import InputError, WriteError, describe_os_error
from dashfix.formats.dashfix_files import QUARANTINE_DIR, temp_name
from dashfix.repair import fsops

_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x00000010
_FS_APPEND_FL = 0x00000020
_PROBE_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def write_error(exc: OSError, doing: str) -> WriteError:
    """``exc`` as the user should read it: what failed (``doing``), where and why."""
    return WriteError(f"{doing} {describe_os_error(exc)}" if doing else describe_os_error(exc))


def _probe_folder(folder: Path, reserve_bytes: int) -> None:
    probe = folder / temp_name("write-check", str(uuid.uuid4()))
    fd = fsops.create_exclusive(probe, 0o600)
    try:
        fsops.reserve(fd, reserve_bytes, probe)
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror} (this run writes up to {reserve_bytes} "
                      "bytes)", str(folder)) from None
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            fsops.unlink(probe)


def _flags(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        packed = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("l", 0))
    except OSError:
        return 0  # a filesystem without these flags cannot set them either
    finally:
        os.close(fd)
    return int(struct.unpack("l", packed)[0])


def _probe_entry(path: Path) -> None:
    """Raise ``OSError`` if ``path`` cannot be renamed or replaced."""
    info = os.stat(path, follow_symlinks=False)
    if stat.S_ISREG(info.st_mode):
        os.close(os.open(path, _PROBE_FLAGS))
    elif stat.S_ISDIR(info.st_mode):
        if _flags(path) & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
            raise OSError(errno.EPERM, "immutable or append-only (chattr -i / -a)", str(path))
        if not os.access(path, os.W_OK):  # moving a folder rewrites its ".." entry
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def check_can_write(store: Path, entries: Iterable[str] = (), *,
                    reserve_bytes: int = 0) -> None:
    """Raise ``WriteError`` (nothing changed) unless the store folder, the quarantine
    folder and every entry named can be written, with ``reserve_bytes`` free.

    The entries are tried first, as that changes nothing at all; the folder probes then
    leave no trace but the folders' modification times."""
    try:
        for name in entries:
            path = store / name
            if os.path.lexists(path):
                _probe_entry(path)
        quarantine = store / QUARANTINE_DIR
        if quarantine.is_symlink() or (quarantine.exists() and not quarantine.is_dir()):
            raise InputError(f"{quarantine} is not a folder; move it away (dashfix keeps its "
                             "quarantine there)")
        if quarantine.is_dir():
            _probe_folder(quarantine, 0)
        _probe_folder(store, reserve_bytes)
    except OSError as exc:
        raise WriteError(f"{write_error(exc, 'cannot write')}; nothing was changed") from None
