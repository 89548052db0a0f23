"""Crash-safe file output: temp file in the target folder, fsync, rename, fsync the folder.

A reader of the target sees either the old content or the complete new content, never a
partial file, and the rename survives a power cut once the ``with`` block returns. Mode and
times are set on the temp file before the rename, so the target never shows the new bytes
with the wrong mode or mtime, whenever the process dies.

A temp file's name is ``.{target}.{uuid}.dashfix.tmp`` (``dashfix.formats.dashfix_files``):
it only ever holds a copy of bytes that exist elsewhere, so the next repair run removes
the ones a killed run left behind, and ``verify`` reports them until then.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from dashfix.formats.dashfix_files import temp_name
from dashfix.repair import fsops
from dashfix.repair.fsops import fsync_dir

__all__ = ["AtomicFile", "atomic_write_bytes", "fsync_dir"]


class AtomicFile:
    """``with AtomicFile(target) as out: out.write(...)``; committed only if the block succeeds.

    ``mode`` defaults to the mode of the file being replaced, if any; ``times_ns`` (atime,
    mtime), when given, is set on the temp file before it is renamed over the target.
    """

    def __init__(self, target: Path, mode: int | None = None,
                 times_ns: tuple[int, int] | None = None) -> None:
        self.target = target
        self.temp = target.parent / temp_name(target.name, str(uuid.uuid4()))
        if mode is None:
            try:
                mode = target.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o644
        self.mode = mode
        self.times_ns = times_ns
        self._handle: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        fd = fsops.create_exclusive(self.temp, self.mode)
        self._handle = os.fdopen(fd, "wb")
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._handle is not None
        handle, self._handle = self._handle, None
        if exc_type is not None:
            handle.close()
            self.temp.unlink(missing_ok=True)
            return
        try:
            fsops.step(self.temp)  # the buffered bytes reach the file here
            handle.flush()
        except BaseException:
            handle.close()
            self.temp.unlink(missing_ok=True)
            raise
        try:
            _commit(os.dup(handle.fileno()), self.temp, self.target, self.mode, self.times_ns)
        finally:
            handle.close()


def _commit(fd: int, temp: Path, target: Path, mode: int,
            times_ns: tuple[int, int] | None) -> None:
    """Mode, times, fsync and close ``fd`` (the temp file), then rename it over ``target``
    and fsync the folder. On failure the temp file is removed."""
    try:
        try:
            fsops.fchmod(fd, mode, temp)
            if times_ns is not None:
                fsops.set_times(fd, times_ns, temp)
            fsops.fsync(fd, temp)
        finally:
            os.close(fd)
        fsops.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes, mode: int | None = None,
                       times_ns: tuple[int, int] | None = None) -> None:
    """``data`` as the complete new content of ``target``, one counted write step per
    ``write`` system call."""
    atomic = AtomicFile(target, mode, times_ns)
    fd = fsops.create_exclusive(atomic.temp, atomic.mode)
    try:
        fsops.write_all(fd, data, atomic.temp)
    except BaseException:
        os.close(fd)
        atomic.temp.unlink(missing_ok=True)
        raise
    _commit(fd, atomic.temp, target, atomic.mode, times_ns)
