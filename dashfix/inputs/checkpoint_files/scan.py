"""One store folder in one pass (``scan_store``): the listing, the index, the lock, odd
entries and dashfix's leftovers, and every store file's row (behind sample, time limit and
cache)."""

from __future__ import annotations

import bisect
import errno
import functools
import operator
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dashfix import native
from dashfix.formats.bincode import DecodeError
from dashfix.formats.dashfix_files import (
    JOURNAL_NAME,
    MANIFEST_NAME,
    QUARANTINE_DIR,
    TEMP_SUFFIX,
    is_temp_name,
)
from dashfix.formats.index import IndexEntry, IndexStream
from dashfix.formats.variants import INDEX_NAME, LOCK_NAME, Variant, classify_name
from dashfix.inputs.checkpoint_files.file_reader import READ_FLAGS, is_store_file, summarise_file
from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
from dashfix.inputs.checkpoint_files.reader_pool import FilesRead, never, read_store_rows
from dashfix.inputs.checkpoint_record import (
    ABSENT,
    DIRECTORY,
    SPECIAL,
    SYMLINK,
    UNREADABLE,
    FileProblem,
    FileRecord,
    entry_kind,
)
from dashfix.inputs.checkpoint_rows import StoreRows

if TYPE_CHECKING:
    from dashfix.cache import VerifyCache
    from dashfix.sampling import Selection

MAX_INDEX_BYTES = 256 * 1024 * 1024


@dataclass
class StoreScan:
    """One store folder after the single pass: its entries as rows plus the raw index."""

    path: Path
    rows: StoreRows = field(default_factory=lambda: StoreRows([]))
    index_present: bool = False
    index_size: int = 0
    index_entries: list[tuple[str, IndexEntry]] | None = None
    """Decoded ``index.bin`` pairs in file order (None when missing or corrupt)."""
    index_error: DecodeError | None = None
    index_unreadable: str | None = None
    lock_present: bool = False
    dashfix_leftovers: list[tuple[str, str]] = field(default_factory=list)
    """(path relative to the store, what it is) of what killed dashfix runs left: temp
    files, and repair sessions whose journal has no manifest yet."""

    @classmethod
    def of_records(cls, path: Path, records: Iterable[FileRecord]) -> StoreScan:
        return cls(path, StoreRows.of_records(records))

    @functools.cached_property
    def records(self) -> list[FileRecord]:
        """Every entry's record, by name (built on first use: a big store's checks and
        index rebuild work on ``rows`` without them)."""
        return self.rows.records()


def _scan_index(scan: StoreScan, dir_fd: int, info: os.stat_result) -> None:
    scan.index_present = True
    scan.index_size = info.st_size
    if info.st_size > MAX_INDEX_BYTES:
        scan.index_unreadable = f"too large to check ({info.st_size} bytes)"
        return
    try:
        fd = os.open(INDEX_NAME, READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        scan.index_unreadable = ("it became a symlink while being scanned"
                                 if exc.errno == errno.ELOOP else
                                 f"cannot open: {exc.strerror or exc}")
        return
    # Streamed: the entries are kept, never the file's bytes besides them.
    with os.fdopen(fd, "rb", buffering=0) as handle:
        try:
            scan.index_entries = list(IndexStream(handle, info.st_size))
        except DecodeError as exc:
            scan.index_error = exc
        except OSError as exc:
            scan.index_unreadable = f"cannot read: {exc.strerror or exc}"


TEMP_LEFTOVER = "temp"
UNSETTLED_SESSION = "session"


def _quarantine_leftovers(base: Path) -> list[tuple[str, str]]:
    """Temps in the quarantine and its sessions, and sessions with a journal but no
    manifest (their run was killed; the next writing run settles them)."""
    found: list[tuple[str, str]] = []
    try:
        for entry in sorted(os.scandir(base), key=lambda e: e.name):
            where = f"{QUARANTINE_DIR}/{entry.name}"
            if entry.is_file(follow_symlinks=False) and is_temp_name(entry.name):
                found.append((where, TEMP_LEFTOVER))
            elif entry.is_dir(follow_symlinks=False):
                names = set(os.listdir(entry.path))
                found += [(f"{where}/{name}", TEMP_LEFTOVER) for name in sorted(names)
                          if is_temp_name(name)]
                if JOURNAL_NAME in names and MANIFEST_NAME not in names:
                    found.append((where, UNSETTLED_SESSION))
    except OSError:
        pass  # an unreadable quarantine: nothing dashfix wrote can be told from it
    return found


_LISTED_BY_NAME = frozenset({Variant.DCHK, Variant.GZIP_BIN, Variant.VERSIONED,
                             Variant.VERSIONED_GZ})
"""Names some DashFlow file checkpointer lists and reads whole, whatever the entry is."""


def _take(names: list[str], name: str, is_sorted: bool) -> bool:
    """Remove ``name`` from ``names``; whether it was there."""
    if not is_sorted:
        if name in names:
            names.remove(name)
            return True
        return False
    at = bisect.bisect_left(names, name)
    if at < len(names) and names[at] == name:
        del names[at]
        return True
    return False


def _is_folder(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _odd_entry_record(name: str, dir_fd: int) -> FileRecord | None:
    """A record for a symlink, a ``*.bin`` folder, or a folder, FIFO, socket or device
    where DashFlow reads ``index.bin`` or a checkpoint or takes its lock (found by
    ``lstat``, never opened), else None."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        return FileRecord(name, UNREADABLE, 0, 0, FileProblem.UNREADABLE,
                          f"cannot stat: {exc.strerror or exc}")
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"
        return FileRecord(name, SYMLINK, 0, info.st_mtime_ns, FileProblem.SYMLINK,
                          f"symlink to {target!r} was not followed", actual=target)
    folder = stat.S_ISDIR(info.st_mode)
    special = not folder and not stat.S_ISREG(info.st_mode)
    if name == INDEX_NAME and (folder or special):
        kind = entry_kind(info.st_mode)
        return FileRecord(name, DIRECTORY if folder else SPECIAL, 0, info.st_mtime_ns,
                          FileProblem.INDEX_NOT_A_FILE, f"{kind} where DashFlow keeps its index "
                          "(not opened)", expected="a regular file", actual=kind)
    if name == LOCK_NAME and (folder or special):
        kind = entry_kind(info.st_mode)
        return FileRecord(name, DIRECTORY if folder else SPECIAL, 0, info.st_mtime_ns,
                          FileProblem.LOCK_NOT_A_FILE, f"{kind} where DashFlow takes its store "
                          "lock (not opened)", expected="a regular file", actual=kind)
    if folder and classify_name(name) is Variant.DCHK:
        return FileRecord(name, DIRECTORY, 0, info.st_mtime_ns, FileProblem.BIN_DIRECTORY,
                          "a folder named like a checkpoint file")
    if special and classify_name(name) in _LISTED_BY_NAME:
        kind = entry_kind(info.st_mode)
        return FileRecord(name, SPECIAL, 0, info.st_mtime_ns, FileProblem.BIN_SPECIAL_FILE,
                          f"{kind} named like a checkpoint file (not opened)",
                          expected="a regular file", actual=kind)
    if stat.S_ISREG(info.st_mode) and is_store_file(name):
        return summarise_file(dir_fd, name, info)
    return None


def scan_store(
    path: Path, *, selection: Selection | None = None, target: str = "",
    cache: VerifyCache | None = None, on_read: FilesRead | None = None,
    on_listed: FilesRead | None = None,
    read_index: bool = True,
) -> StoreScan:
    """Scan one store folder (its top level only, as DashFlow does).

    ``selection`` (verify's ``--sample`` and ``--max-duration``) leaves files unread and
    counts them against ``target``; ``cache`` answers files whose stat is unchanged from
    the last run (``dashfix.inputs.checkpoint_cache``). Every other file is read straight
    into rows. ``on_listed`` is told how many files the scan will report once they are
    listed, and ``on_read`` as they come (progress with a total).
    """
    scan = StoreScan(path)
    # Regular files by name (sorted), everything else by name (rare). Which names are
    # store files is left to the readers: listing is the one part of a scan that runs in
    # one thread, over every file (in C where built: native.list_folder).
    # A sample without a cache makes strings of and sorts only the plain names it picks
    # (native.list_sampled); the other names are sampled in _read_selected.
    sorting = selection is None or selection.sample is None or cache is not None
    picked: list[str] = []
    dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if sorting:
            names, others = native.list_folder(dir_fd, sort=True)
        else:
            assert selection is not None and selection.sample is not None
            picked, names, others, dropped = native.list_sampled(dir_fd, selection.sample)
            selection.sampled_out[target] += dropped
        if _take(names, INDEX_NAME, sorting):
            scan.index_present = True
            if read_index:  # rebuild-index, repair and inspect read it their own way
                _scan_index(scan, dir_fd, os.stat(INDEX_NAME, dir_fd=dir_fd,
                                                  follow_symlinks=False))
        if _take(names, LOCK_NAME, sorting):
            scan.lock_present = True
        odd: list[FileRecord] = []
        # A temp's name starts with "." (formats.dashfix_files): among sorted names, those
        # lie in one range, so the other million names are not looked at.
        hidden = (names[bisect.bisect_left(names, "."):bisect.bisect_left(names, "/")]
                  if sorting else names)
        scan.dashfix_leftovers = [(name, TEMP_LEFTOVER) for name in hidden
                                  if name[-12:] == TEMP_SUFFIX and is_temp_name(name)]
        for name in others:
            if name == LOCK_NAME:
                scan.lock_present = True
            if name == QUARANTINE_DIR and _is_folder(name, dir_fd):
                scan.dashfix_leftovers += _quarantine_leftovers(path / QUARANTINE_DIR)
            elif (record := _odd_entry_record(name, dir_fd)) is not None:
                odd.append(record)
        with paused_gc():
            scan.rows = _read_selected(str(path), dir_fd, names, picked, odd, selection, target,
                                       cache, on_read, on_listed)
    finally:
        os.close(dir_fd)
    return scan


def _read_selected(store: str, dir_fd: int, names: list[str], picked: list[str],
                   odd: list[FileRecord], selection: Selection | None, target: str,
                   cache: VerifyCache | None, on_read: FilesRead | None,
                   on_listed: FilesRead | None) -> StoreRows:
    """``read_store_rows`` behind the run's sample, time limit and cache. A store that
    was not read whole keeps only the rows read (or answered by the cache) in the sample:
    its cross-file checks do not run, and its unread files are counted in ``selection``.
    ``picked`` are names the listing already sampled (``native.list_sampled``)."""
    skip: bytearray | None = None
    chosen: bytearray | None = None
    if selection is not None and selection.sample is not None:
        # A plain `{id}.bin` is a store file: the common name is settled inline.
        sampled = picked + selection.sampled_names(target, [
            name for name in names
            if (name[-4:] == ".bin" and name[-6:] != ".v.bin") or is_store_file(name)])
        if cache is None:
            names = sampled  # nothing else is read, so nothing else needs a row (or a sort)
        else:
            names.sort()
            wanted = set(sampled)
            chosen = bytearray(name in wanted for name in names)
            skip = bytearray(not row_wanted for row_wanted in chosen)
    names.sort()  # rows come by name
    count = len(names)
    if on_listed is not None:
        on_listed(count if chosen is None else sum(chosen))
    rows = StoreRows(names + [record.name for record in odd])
    row_cache = None
    if cache is not None:
        from dashfix.inputs.checkpoint_cache import RowCache

        row_cache = RowCache(cache, Path(store))
        filled = row_cache.fill(rows, count, dir_fd)
        skip = filled if skip is None else bytearray(map(operator.or_, skip, filled))
        if on_read is not None:
            on_read(sum(filled if chosen is None else map(operator.and_, filled, chosen)))
    expired = never if selection is None else selection.expired
    rows, unread = read_store_rows(store, names, odd, on_read=on_read, skip=skip, rows=rows,
                                   expired=expired)
    if row_cache is not None:
        row_cache.save()
    if unread:
        assert selection is not None
        selection.ran_out(target, sum(is_store_file(names[row])
                                      for start, stop in unread for row in range(start, stop)))
    if chosen is None and not unread:
        return rows
    left_out = set() if not unread else {row for start, stop in unread
                                         for row in range(start, stop)}
    return StoreRows.of_records([
        *(rows.record(row) for row in range(count)
          if rows.kinds[row] != ABSENT and (chosen is None or chosen[row])
          and row not in left_out),
        *odd])


def scan_single_file(path: Path) -> StoreScan:
    """A scan holding one checkpoint file given directly on the command line."""
    info = os.stat(path, follow_symlinks=False)
    return StoreScan.of_records(path.parent, [summarise_file(str(path.parent), path.name, info)])
