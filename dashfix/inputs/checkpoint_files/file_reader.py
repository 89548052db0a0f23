"""Reading one regular store file (relative to the store's descriptor, never through a
symlink) and summarising it (``summarise_file``); which names a scan reads."""

from __future__ import annotations

import errno
import os
import stat

from dashfix.formats.variants import INDEX_NAME, Variant, classify_name
from dashfix.inputs.checkpoint_files.variants import (
    _summarise_plain_dchk,
    summarise_bytes,
    with_problem,
)
from dashfix.inputs.checkpoint_record import (
    UNREADABLE,
    FileProblem,
    FileRecord,
    RowValues,
    plain_record,
)

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Larger files are not read: DashFlow's executor caps a state at 100 MiB by default."""
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _read(dir_fd: int | str, name: str, size: int) -> bytes | str:
    """The file's bytes, or why they could not be read."""
    try:
        if isinstance(dir_fd, int):
            fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
        else:
            fd = os.open(os.path.join(dir_fd, name), READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "it became a symlink while being scanned"
        return f"cannot open: {exc.strerror or exc}"
    try:
        return _read_open(fd, size)
    finally:
        os.close(fd)


def _read_open(fd: int, size: int) -> bytes | str:
    try:
        # size + 1 sees EOF in one call; a file that grew meanwhile is read to its end.
        data = os.read(fd, size + 1)
        while len(data) > size:
            more = os.read(fd, 1 << 20)
            if not more:
                break
            if len(data) + len(more) > MAX_FILE_BYTES:
                return f"grew past {MAX_FILE_BYTES} bytes while being read"
            data += more
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return data


def summarise_file(dir_fd: int | str, name: str, info: os.stat_result) -> FileRecord:
    """Read, verify and decode one regular store file (``dir_fd``: the store's descriptor
    or path). The record depends only on the file's bytes and ``info``, so it can be cached
    by (st_dev, st_ino, st_size, st_mtime_ns)."""
    summary = _summarise_stat(dir_fd, name, info)
    return summary if isinstance(summary, FileRecord) else plain_record(name, summary)


def _summarise_stat(dir_fd: int | str, name: str,
                    info: os.stat_result) -> FileRecord | RowValues:
    """``summarise_file``, with the PLAIN row of a healthy plain DCHK file."""
    by_name = _classify_name(name)
    if by_name is Variant.TEMP_INDEX:
        return FileRecord(name, by_name.value, info.st_size, info.st_mtime_ns)
    if info.st_size > MAX_FILE_BYTES:
        return with_problem(FileRecord(name, UNREADABLE, info.st_size, info.st_mtime_ns),
                            FileProblem.UNREADABLE,
                            f"too large to check ({info.st_size} bytes, limit {MAX_FILE_BYTES})")
    return summarise_bytes(name, by_name, info, _read(dir_fd, name, info.st_size))


def _classify_name(name: str) -> Variant:
    # Nearly every name in a store is a plain `{id}.bin`: answer that without regexes.
    if name[-4:] == ".bin" and name[-6:] != ".v.bin" and name != INDEX_NAME:
        return Variant.DCHK
    return classify_name(name)


def is_store_file(name: str) -> bool:
    """Names the scan reads: what any DashFlow file checkpointer writes or lists."""
    return _classify_name(name) not in (Variant.INDEX, Variant.LOCK, Variant.BACKUP,
                                        Variant.UNKNOWN)


def read_plain_row(dir_fd: int, name: str) -> RowValues | None:
    """The PLAIN row of the listed regular file ``name`` when it is a healthy plain DCHK
    checkpoint (``_summarise_plain_dchk``) read whole at its ``fstat`` size; None for
    anything else, which ``summarise_name`` then reads again and reports, as it does the
    files the C reader leaves. The Python readers' per-file path: one open, fstat, read and
    close, and no object but the row (its calls are a third of the twin's CPU per file)."""
    if name[-4:] != ".bin" or name[-6:] == ".v.bin" or name == INDEX_NAME:
        return None
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        size = info.st_size
        if not stat.S_ISREG(info.st_mode) or size > MAX_FILE_BYTES:
            return None
        data = os.read(fd, size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _summarise_plain_dchk(name, info, data) if len(data) == size else None


def summarise_name(dir_fd: int, name: str) -> FileRecord | RowValues | None:
    """``_summarise_stat`` of the listed regular file ``name``; None when it is not a store
    file (``is_store_file``) or no longer a regular file. For the files ``read_plain_row``
    or the C reader leave (rare: they read nearly every file with one path lookup)."""
    if not is_store_file(name):
        return None
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        return FileRecord(name, UNREADABLE, 0, 0, FileProblem.UNREADABLE,
                          f"cannot stat: {exc.strerror or exc}")
    return _summarise_stat(dir_fd, name, info) if stat.S_ISREG(info.st_mode) else None
