"""Crash-safe file output: temp file in the target folder, fsync, rename, fsync the folder.

A reader of the target sees either the old content or the complete new content, never a
partial file, and the rename survives a power cut once ``commit`` returns.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from types import TracebackType
from typing import BinaryIO


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """``with AtomicFile(target) as out: out.write(...)``; committed only if the block succeeds.

    The temp file is hidden (leading dot) and carries ``.dashfix.tmp`` so nobody mistakes it
    for a DashFlow temp. ``mode`` defaults to the mode of the file being replaced, if any.
    """

    def __init__(self, target: Path, mode: int | None = None) -> None:
        self.target = target
        self.temp = target.parent / f".{target.name}.{uuid.uuid4()}.dashfix.tmp"
        if mode is None:
            try:
                mode = target.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o644
        self.mode = mode
        self._handle: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.mode)
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
            handle.flush()
            os.fchmod(handle.fileno(), self.mode)
            os.fsync(handle.fileno())
        finally:
            handle.close()
        try:
            os.replace(self.temp, self.target)
        except BaseException:
            self.temp.unlink(missing_ok=True)
            raise
        fsync_dir(self.target.parent)


def atomic_write_bytes(target: Path, data: bytes, mode: int | None = None) -> None:
    with AtomicFile(target, mode) as out:
        out.write(data)
