"""Reading a checkpoint store folder: one pass, one read per file, one compact record each.

``scan_store`` lists the folder once with ``os.scandir`` (never following a symlink) and
reads every store file once (relative to the folder's descriptor, ``O_NOFOLLOW``).
``summarise_file`` checks one file and returns a ``FileRecord``: a tuple of primitives that
can be cached (msgpack) and compared across files without keeping any payload. A whole store
is kept as columns (``dashfix.inputs.checkpoint_rows.StoreRows``): a healthy plain DCHK
checkpoint, nearly every file, goes straight from its bytes to a row without a record. The
cross-file checks in ``dashfix.checks.checkpoint`` only see these rows and records.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import multiprocessing
import operator
import os
import queue
import stat
import struct
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashfix import native
from dashfix.cpus import usable_cpus
from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import (
    DEFAULT_SECS_BOUNDS,
    CheckpointHead,
    TailRules,
    empty_metadata_tails,
    last_tail_end,
    parse_tail,
    read_ids,
    sole_some_parent_tail,
)
from dashfix.formats.dashfix_files import (
    JOURNAL_NAME,
    MANIFEST_NAME,
    QUARANTINE_DIR,
    TEMP_SUFFIX,
    is_temp_name,
)
from dashfix.formats.ids import IdScheme, id_matches_thread, is_path_unsafe
from dashfix.formats.index import IndexEntry, IndexStream
from dashfix.formats.variants import (
    INDEX_NAME,
    LOCK_NAME,
    Variant,
    classify,
    classify_name,
    decode_legacy_json,
    decode_versioned,
    gunzip_bounded,
    parse_temp_name,
    zero_filled,
)
from dashfix.inputs.checkpoint_record import (
    ABSENT,
    ABSENT_ROW,
    CHECKPOINT_VARIANTS,
    COUNTER_MAX,
    DCHK,
    DIRECTORY,
    FLAG_FOREIGN_ID,
    FLAG_NAME_MISMATCH,
    FLAG_PATH_UNSAFE,
    FLAG_VERSION_ZERO,
    FOREIGN,
    PLAIN,
    SPECIAL,
    SUFFIX,
    SYMLINK,
    UNREADABLE,
    VERSIONED_GZ,
    RowValues,
    entry_kind,
    plain_record,
    row_values,
)
from dashfix.inputs.checkpoint_record import FileRecord as FileRecord
from dashfix.inputs.checkpoint_rows import RowBatch, StoreRows, batch_of, records_batch
from dashfix.interrupts import forking, in_worker
from dashfix.rules import checkpoint as ck

if TYPE_CHECKING:
    from dashfix.cache import VerifyCache
    from dashfix.sampling import Selection

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Larger files are not read: DashFlow's executor caps a state at 100 MiB by default."""
MAX_INDEX_BYTES = 256 * 1024 * 1024
PARALLEL_MIN_FILES_PER_WORKER = 2000
ROWS_PER_SPAN = 4096
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_HEADER_SIZE = dchk.HEADER_SIZE
_MAGIC = dchk.MAGIC
_HEADER_BODY = struct.Struct("<IIQ")  # version, crc, length after the magic
_U64 = struct.Struct("<Q")
_intern = sys.intern
# How far back from the end a legacy file is searched for where a valid tail ends.
_GARBAGE_SEARCH = 64 * 1024

_INTEGRITY_CODES = {
    dchk.IntegrityErrorKind.FILE_TOO_SMALL: ck.FILE_TOO_SMALL.code,
    dchk.IntegrityErrorKind.UNSUPPORTED_VERSION: ck.UNSUPPORTED_VERSION.code,
    dchk.IntegrityErrorKind.LENGTH_MISMATCH: ck.LENGTH_MISMATCH.code,
    dchk.IntegrityErrorKind.CHECKSUM_MISMATCH: ck.CHECKSUM_MISMATCH.code,
}


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


# -- one file ----------------------------------------------------------------------------


def _problem(base: FileRecord, code: str, message: str, offset: int | None = None,
             expected: object = None, actual: object = None) -> FileRecord:
    return base._replace(
        problem=code, message=message, offset=offset,
        expected=None if expected is None else str(expected),
        actual=None if actual is None else str(actual),
    )


def _with_tail(base: FileRecord, data: bytes, at: int, checkpoint_id: str, thread_id: str,
               state_start: int, flags: int = 0) -> FileRecord:
    """The record of a checkpoint whose payload starts at offset ``at`` of ``data`` and whose
    state starts at payload offset ``state_start``: the per-file hot path, so the tail's
    fast path runs on ``data`` itself and the record is built in one constructor call."""
    thread_id = _intern(thread_id)
    tails = empty_metadata_tails(data, -at, state_start, len(data) - at,
                                 TailRules(checkpoint_id, thread_id))
    parsed = proc_and_counter(checkpoint_id)
    flags |= identity_flags(base.name, base.variant, checkpoint_id, thread_id, parsed)
    proc, counter = (None, -1) if parsed is None else (parsed[1], parsed[2])
    if len(tails) == 1:
        node, secs, nanos, parent_id, state_end = tails[0]
        return FileRecord(base.name, base.variant, base.size, base.mtime_ns, None, None, None,
                          None, None, checkpoint_id, thread_id, _intern(node), secs, nanos,
                          parent_id, 0, False, state_start, state_end, -1, flags, proc, counter)
    if tails:
        ambiguous = True
    else:
        # Nothing with empty metadata: the full search (parse_tail skips the fast path).
        searched = parse_tail(memoryview(data)[at:],
                              CheckpointHead(checkpoint_id, thread_id, state_start),
                              exhaustive=True)
        tail = searched.unique
        if tail is not None:
            return FileRecord(base.name, base.variant, base.size, base.mtime_ns, None, None,
                              None, None, None, checkpoint_id, thread_id, _intern(tail.node),
                              tail.secs, tail.nanos, tail.parent_id, len(tail.metadata), False,
                              state_start, tail.state_end, -1, flags, proc, counter)
        ambiguous = searched.ambiguous
    return FileRecord(base.name, base.variant, base.size, base.mtime_ns, None, None, None,
                      None, None, checkpoint_id, thread_id, None, -1, 0, None, -1, ambiguous,
                      state_start, -1, -1, flags, proc, counter)


def _summarise_plain_dchk(name: str, info: os.stat_result, data: bytes) -> RowValues | None:
    """The PLAIN row of the common file straight from its bytes, without the layers of the
    general path: DCHK version 1 with the right length and CRC, ids that decode, and a
    payload ending in a non-empty parent and empty metadata, and no identity flag. None for
    anything else; then ``_summarise_dchk`` decides (and builds the same record for these
    files: a test compares both)."""
    size = len(data)
    if size < _HEADER_SIZE + 16:
        return None
    version, stored_crc, declared = _HEADER_BODY.unpack_from(data, 4)
    if version != 1 or declared != size - _HEADER_SIZE or (
        zlib.crc32(memoryview(data)[_HEADER_SIZE:]) != stored_crc
    ):
        return None
    id_end = _HEADER_SIZE + 8 + _U64.unpack_from(data, _HEADER_SIZE)[0]
    if id_end + 8 > size:
        return None
    thread_end = id_end + 8 + _U64.unpack_from(data, id_end)[0]
    if thread_end > size:
        return None
    try:
        checkpoint_id = str(data[_HEADER_SIZE + 8 : id_end], "utf-8")
        thread_id = _intern(str(data[id_end + 8 : thread_end], "utf-8"))
    except UnicodeDecodeError:
        return None
    state_start = thread_end - _HEADER_SIZE
    tail = sole_some_parent_tail(data, -_HEADER_SIZE, state_start, size - _HEADER_SIZE,
                                 TailRules(checkpoint_id, thread_id))
    if tail is None:
        return None
    node, secs, nanos, parent_id, state_end = tail
    head = checkpoint_id.rstrip(_DIGITS)
    proc = None if head == checkpoint_id else _clean_current_head(head, thread_id)
    if proc is not None and name == checkpoint_id + ".bin":
        counter = int(checkpoint_id[len(head) :])
    else:
        parsed = proc_and_counter(checkpoint_id)
        if identity_flags(name, DCHK, checkpoint_id, thread_id, parsed):
            return None
        proc, counter = (None, -1) if parsed is None else (parsed[1], parsed[2])
    if counter > COUNTER_MAX:
        return None
    return (PLAIN, thread_id, _intern(node), proc, counter, secs, nanos, info.st_mtime_ns,
            info.st_size, state_start, state_end, parent_id)


_DIGITS = "0123456789"


@functools.lru_cache(maxsize=4096)
def _clean_current_head(head: str, thread_id: str) -> str | None:
    """The process part of the current-scheme ids ``{head}{digits}`` of thread
    ``thread_id`` when such an id, in a file named after it, has no identity flag; else
    None. The flags and the process part of those ids depend on ``head`` alone (digits hold
    no separator, no '.' and nothing unsafe), so one id answers for all of a process's
    checkpoints: the per-file cost of ``proc_and_counter`` and ``identity_flags``."""
    sample = head + "0"
    parsed = proc_and_counter(sample)
    if parsed is None or parsed[0] is not IdScheme.CURRENT or identity_flags(
        sample + SUFFIX[DCHK], DCHK, sample, thread_id, parsed
    ):
        return None
    return parsed[1]


def _summarise_dchk(base: FileRecord, data: bytes) -> FileRecord:
    size = len(data)
    if size >= _HEADER_SIZE:
        version, stored_crc, declared = _HEADER_BODY.unpack_from(data, 4)
        if version <= 1 and declared == size - _HEADER_SIZE and (
            zlib.crc32(memoryview(data)[_HEADER_SIZE:]) == stored_crc
        ):
            flags = FLAG_VERSION_ZERO if version == 0 else 0
            return _decode_payload(base, data, _HEADER_SIZE, flags)
    failure = dchk.verify(data)
    assert failure is not None  # the fast test above only passes files verify accepts
    expected: object = failure.expected
    actual: object = failure.actual
    if isinstance(expected, int) and isinstance(actual, int) and (
        failure.kind is dchk.IntegrityErrorKind.CHECKSUM_MISMATCH
    ):
        expected, actual = f"0x{expected:08X}", f"0x{actual:08X}"
    return _problem(base, _INTEGRITY_CODES[failure.kind], failure.message, failure.offset,
                    expected, actual)


def _decode_payload(base: FileRecord, data: bytes, at: int, flags: int = 0) -> FileRecord:
    """ids and tail of a bincode ``Checkpoint`` payload starting at offset ``at`` of ``data``."""
    try:
        checkpoint_id, thread_id, state_start = read_ids(data, at)
    except DecodeError as exc:
        return _problem(base, ck.PAYLOAD_UNDECODABLE.code,
                        f"the checkpoint ids do not decode: {exc.reason}", exc.offset)
    return _with_tail(base, data, at, checkpoint_id, thread_id, state_start, flags)


def _summarise_legacy(base: FileRecord, data: bytes) -> FileRecord:
    try:
        checkpoint_id, thread_id, state_start = read_ids(data)
    except DecodeError as exc:
        return _problem(base, ck.LEGACY_TRUNCATED.code,
                        f"the ids run off the end of the file: {exc.reason}", exc.offset)
    record = _with_tail(base, data, 0, checkpoint_id, thread_id, state_start)
    if record.secs >= 0 or record.tail_ambiguous:
        return record
    garbage = last_tail_end(data, CheckpointHead(checkpoint_id, thread_id, state_start),
                            _GARBAGE_SEARCH)
    if garbage is not None:
        return _problem(record, ck.LEGACY_TRAILING_GARBAGE.code,
                        f"the checkpoint ends at byte {garbage}; "
                        f"{len(data) - garbage} bytes follow it", garbage, garbage, len(data))
    return _problem(record, ck.LEGACY_TRUNCATED.code,
                    "no checkpoint tail (node, timestamp, parent, metadata) ends at the end "
                    "of the file: the file is cut short or not a checkpoint", len(data))


def _gunzip(base: FileRecord, data: bytes) -> FileRecord | bytes:
    try:
        return gunzip_bounded(data)
    except DecodeError as exc:
        code = (ck.DECOMPRESSED_TOO_LARGE.code if "exceeds" in exc.reason
                else ck.GZIP_CORRUPT.code)
        return _problem(base, code, exc.reason, exc.offset)


def _summarise_versioned(base: FileRecord, data: bytes) -> FileRecord:
    payload = data
    if base.variant == VERSIONED_GZ:
        inflated = _gunzip(base, data)
        if isinstance(inflated, FileRecord):
            return inflated
        payload = inflated
    try:
        versioned = decode_versioned(payload)
    except DecodeError as exc:
        return _problem(base, ck.PAYLOAD_UNDECODABLE.code,
                        f"the Versioned checkpoint does not decode: {exc.reason}", exc.offset)
    checkpoint_id, thread_id = versioned.checkpoint_id, _intern(versioned.thread_id)
    parsed = proc_and_counter(checkpoint_id)
    record = base._replace(
        checkpoint_id=checkpoint_id, thread_id=thread_id,
        node=sys.intern(versioned.node), secs=versioned.secs, nanos=versioned.nanos,
        parent_id=versioned.parent_id, metadata_count=len(versioned.metadata),
        schema_version=versioned.version,
        flags=identity_flags(base.name, base.variant, checkpoint_id, thread_id, parsed),
        proc=None if parsed is None else parsed[1],
        counter=-1 if parsed is None else parsed[2],
    )
    if not versioned.data_is_json:
        return _problem(record, ck.VERSIONED_DATA_NOT_JSON.code,
                        "the `data` field is not valid JSON, so load fails", None)
    return record


def _summarise_gzip(base: FileRecord, data: bytes) -> FileRecord:
    payload = _gunzip(base, data)
    if isinstance(payload, FileRecord):
        return payload
    return _decode_payload(base, payload, 0)


def _summarise_json(base: FileRecord, data: bytes) -> FileRecord:
    try:
        legacy = decode_legacy_json(data)
    except DecodeError:
        # DashFlow ignores .json files, so an undecodable one is reported as ignored only.
        return base
    return base._replace(
        checkpoint_id=legacy.checkpoint_id, thread_id=sys.intern(legacy.thread_id),
        node=legacy.node, secs=legacy.secs, nanos=legacy.nanos, parent_id=legacy.parent_id,
        metadata_count=len(legacy.metadata),
    )


def _summarise_foreign(base: FileRecord, data: bytes) -> FileRecord:
    if dchk.has_damaged_magic(data):
        return _problem(base, ck.DAMAGED_MAGIC.code,
                        "the magic is damaged; version, length and CRC prove the header",
                        dchk.MAGIC_OFFSET, _MAGIC.decode(), bytes(data[:4]).hex())
    what = "the file is empty" if not data else (
        f"the first bytes ({bytes(data[:8]).hex()}) are neither DCHK, a legacy bincode "
        "checkpoint nor the variant its name promises"
    )
    return _problem(base._replace(variant=FOREIGN), ck.FOREIGN_BIN.code, what, 0)


def _summarise_temp(base: FileRecord, data: bytes) -> FileRecord:
    temp = parse_temp_name(base.name)
    target = None if temp is None else temp[0]
    failure = dchk.verify(data)
    if failure is not None:
        return _problem(base._replace(checkpoint_id=target),
                        _INTEGRITY_CODES.get(failure.kind, ck.FOREIGN_BIN.code),
                        failure.message, failure.offset)
    return base._replace(checkpoint_id=target)


_BY_VARIANT = {
    Variant.DCHK: _summarise_dchk,
    Variant.LEGACY_BINCODE: _summarise_legacy,
    Variant.GZIP_BIN: _summarise_gzip,
    Variant.VERSIONED: _summarise_versioned,
    Variant.VERSIONED_GZ: _summarise_versioned,
    Variant.LEGACY_JSON: _summarise_json,
    Variant.TEMP_CHECKPOINT: _summarise_temp,
    Variant.UNKNOWN: _summarise_foreign,
}
_READ_BY_NAME = frozenset(
    {Variant.DCHK, Variant.GZIP_BIN, Variant.VERSIONED, Variant.VERSIONED_GZ,
     Variant.LEGACY_JSON, Variant.TEMP_CHECKPOINT}
)


def _read(dir_fd: int | str, name: str, size: int) -> bytes | str:
    """The file's bytes, or why they could not be read."""
    try:
        if isinstance(dir_fd, int):
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        else:
            fd = os.open(os.path.join(dir_fd, name), _READ_FLAGS)
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
        return _problem(FileRecord(name, UNREADABLE, info.st_size, info.st_mtime_ns),
                        ck.FILE_UNREADABLE.code,
                        f"too large to check ({info.st_size} bytes, limit {MAX_FILE_BYTES})")
    return _summarise_read(name, by_name, info, _read(dir_fd, name, info.st_size))


_ZERO_CHECKED = frozenset({Variant.DCHK, Variant.GZIP_BIN, Variant.VERSIONED,
                           Variant.VERSIONED_GZ})
"""Names DashFlow reads as checkpoints; a zero-filled temp is left to the temp checks."""


def _summarise_read(name: str, by_name: Variant, info: os.stat_result,
                    data: bytes | str) -> FileRecord | RowValues:
    """``summarise_file`` once the bytes are read (or ``data`` says why they are not); a
    healthy plain DCHK file gives its PLAIN row instead of a record."""
    if by_name is Variant.DCHK and not isinstance(data, str) and data[:4] == _MAGIC:
        plain = _summarise_plain_dchk(name, info, data)
        if plain is not None:
            return plain
        return _summarise_dchk(FileRecord(name, DCHK, info.st_size, info.st_mtime_ns), data)
    base = FileRecord(name, by_name.value, info.st_size, info.st_mtime_ns)
    if isinstance(data, str):
        return _problem(base._replace(variant=UNREADABLE), ck.FILE_UNREADABLE.code, data)
    if by_name in _ZERO_CHECKED and zero_filled(data):
        return _problem(base._replace(variant=FOREIGN), ck.ZERO_FILLED.code,
                        f"all {len(data)} bytes are zero: a crash leftover (the file was "
                        "extended but its data never written); no checkpoint to recover", 0)
    variant = classify(name, data[:_HEADER_SIZE]) if by_name in _READ_BY_NAME else by_name
    if variant is Variant.UNKNOWN and by_name is Variant.LEGACY_JSON:
        return base  # DashFlow ignores .json files whatever they hold
    return _BY_VARIANT[variant](base._replace(variant=variant.value), data)


# -- the folder --------------------------------------------------------------------------


def _classify_name(name: str) -> Variant:
    # Nearly every name in a store is a plain `{id}.bin`: answer that without regexes.
    if name[-4:] == ".bin" and name[-6:] != ".v.bin" and name != INDEX_NAME:
        return Variant.DCHK
    return classify_name(name)


def is_store_file(name: str) -> bool:
    """Names the scan reads: what any DashFlow file checkpointer writes or lists."""
    return _classify_name(name) not in (Variant.INDEX, Variant.LOCK, Variant.BACKUP,
                                        Variant.UNKNOWN)


def _scan_index(scan: StoreScan, dir_fd: int, info: os.stat_result) -> None:
    scan.index_present = True
    scan.index_size = info.st_size
    if info.st_size > MAX_INDEX_BYTES:
        scan.index_unreadable = f"too large to check ({info.st_size} bytes)"
        return
    try:
        fd = os.open(INDEX_NAME, _READ_FLAGS, dir_fd=dir_fd)
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


def _odd_entry_record(entry: os.DirEntry[str], dir_fd: int) -> FileRecord | None:
    """A record for a symlink, a ``*.bin`` folder, or a folder, FIFO, socket or device
    where DashFlow reads ``index.bin`` or a checkpoint or takes its lock (found by
    ``lstat``, never opened), else None."""
    name = entry.name
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return FileRecord(name, UNREADABLE, 0, 0, ck.FILE_UNREADABLE.code,
                          f"cannot stat: {exc.strerror or exc}")
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"
        return FileRecord(name, SYMLINK, 0, info.st_mtime_ns, ck.SYMLINK_IN_STORE.code,
                          f"symlink to {target!r} was not followed", actual=target)
    folder = stat.S_ISDIR(info.st_mode)
    special = not folder and not stat.S_ISREG(info.st_mode)
    if name == INDEX_NAME and (folder or special):
        kind = entry_kind(info.st_mode)
        return FileRecord(name, DIRECTORY if folder else SPECIAL, 0, info.st_mtime_ns,
                          ck.INDEX_NOT_A_FILE.code, f"{kind} where DashFlow keeps its index "
                          "(not opened)", expected="a regular file", actual=kind)
    if name == LOCK_NAME and (folder or special):
        kind = entry_kind(info.st_mode)
        return FileRecord(name, DIRECTORY if folder else SPECIAL, 0, info.st_mtime_ns,
                          ck.LOCK_NOT_A_FILE.code, f"{kind} where DashFlow takes its store "
                          "lock (not opened)", expected="a regular file", actual=kind)
    if folder and classify_name(name) is Variant.DCHK:
        return FileRecord(name, DIRECTORY, 0, info.st_mtime_ns, ck.BIN_DIRECTORY.code,
                          "a folder named like a checkpoint file")
    if special and classify_name(name) in _LISTED_BY_NAME:
        kind = entry_kind(info.st_mode)
        return FileRecord(name, SPECIAL, 0, info.st_mtime_ns, ck.BIN_SPECIAL_FILE.code,
                          f"{kind} named like a checkpoint file (not opened)",
                          expected="a regular file", actual=kind)
    if stat.S_ISREG(info.st_mode) and is_store_file(name):
        return summarise_file(dir_fd, name, info)
    return None


def _summarise_plain(dir_fd: int, name: str) -> FileRecord | RowValues | None:
    """``_summarise_stat`` of a ``*.bin`` regular file opened first and then ``fstat``-ed:
    one path lookup instead of two for nearly every file of a store. None for anything
    else (another name, not openable, not regular, too large): the caller stats it first.
    The names come from a listing of regular files, so opening one has no side effect."""
    by_name = _classify_name(name)
    if by_name is not Variant.DCHK:
        return None
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        return _summarise_read(name, by_name, info, _read_open(fd, info.st_size))
    finally:
        os.close(fd)


def _summarise_name(dir_fd: int, name: str) -> FileRecord | RowValues | None:
    """``_summarise_stat`` of the listed regular file ``name``; None when it is not a store
    file (``is_store_file``) or no longer a regular file."""
    summary = _summarise_plain(dir_fd, name)
    if summary is not None:
        return summary
    if not is_store_file(name):
        return None
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        return FileRecord(name, UNREADABLE, 0, 0, ck.FILE_UNREADABLE.code,
                          f"cannot stat: {exc.strerror or exc}")
    return _summarise_stat(dir_fd, name, info) if stat.S_ISREG(info.st_mode) else None


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large store's records (or what is built
    from them) are made: a few small objects per file trigger collections over everything
    built so far, again and again (measured: ~12% of the scan), and none of it has cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _read_rows(store: str, names: list[str], start: int, stop: int,
               row_of: dict[str, int]) -> RowBatch:
    """The rows of the listed regular files ``names[start:stop]`` of one store folder, in
    Python (a forked reader's work when the C reader is not in use)."""
    values: list[RowValues] = []
    others: list[tuple[int, FileRecord]] = []
    append = values.append
    dir_fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with paused_gc():
            for row, name in enumerate(names[start:stop], start):
                summary = _summarise_name(dir_fd, name)
                if summary is None:
                    append(ABSENT_ROW)
                elif isinstance(summary, FileRecord):
                    row_value = row_values(summary)
                    append(row_value)
                    if row_value[0] != PLAIN:
                        others.append((row, summary))
                else:
                    append(summary)
    finally:
        os.close(dir_fd)
    return batch_of(start, values, others, row_of)


def read_rows_native(rows: StoreRows, dir_fd: int, start: int, stop: int) -> None:
    """Fill rows ``start:stop`` of ``rows`` (listed regular files of the folder ``dir_fd``)
    in place: the C reader (``dashfix._native.read_checkpoints``) reads every healthy plain
    checkpoint with one open, fstat and read, the GIL released; the files it leaves (any
    other name, variant or damage) take the Python path, which reports them."""
    left = native.MODULE.read_checkpoints(
        dir_fd, rows.names, start, stop, rows.row_of, rows.columns(), MAX_FILE_BYTES,
        *DEFAULT_SECS_BOUNDS)
    names = rows.names
    for row in left:
        summary = _summarise_name(dir_fd, names[row])
        if summary is None:
            continue
        if isinstance(summary, FileRecord):
            rows.set_row(row, row_values(summary), summary)
        else:
            rows.set_row(row, summary, None)


Spans = list[tuple[int, int]]


def _read_native(store: str, rows: StoreRows, spans: Spans, workers: int,
                 on_read: FilesRead | None, expired: Callable[[], bool]) -> Spans:
    """``read_rows_native`` over ``spans`` on ``workers`` threads: the C reader releases the
    GIL while it reads, so the threads read at once and fill the columns in place (no
    messages, no copies); this thread reports progress. No span is started once
    ``expired()``; the spans not read are returned."""
    dir_fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pending = iter(spans)
        unread: Spans = []
        done: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()

        def work() -> None:
            try:
                for start, stop in pending:  # next() on a list iterator is atomic
                    if expired():
                        unread.append((start, stop))
                        continue
                    read_rows_native(rows, dir_fd, start, stop)
                    done.put(stop - start)
            except BaseException as exc:  # re-raised in the calling thread
                done.put(exc)
            done.put(None)

        if workers <= 1:
            work()
            workers = 0
        threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        failure: BaseException | None = None
        running = max(workers, 1)
        while running:
            news = done.get()
            if news is None:
                running -= 1
            elif isinstance(news, BaseException):
                failure = failure or news
            elif on_read is not None:
                on_read(news)
        for thread in threads:
            thread.join()
        if failure is not None:
            raise failure
        return unread
    finally:
        os.close(dir_fd)


def _read_forked(store: str, rows: StoreRows, spans: Spans, workers: int,
                 on_read: FilesRead | None, expired: Callable[[], bool]) -> Spans:
    """The Python readers over ``spans``: in this process, or forked ones (one per CPU)
    that inherit the listing (a task is only a range of rows) and send back column batches
    (``RowBatch``). The spans not read once ``expired()`` are returned."""
    names = rows.names
    done: set[int] = set()
    if workers <= 1:
        for start, stop in spans:
            if expired():
                break
            _fill(rows, _read_rows(store, names, start, stop, rows.row_of), on_read)
            done.add(start)
    else:
        _read_in_pool(store, names, rows, spans, workers, on_read, expired, done)
    return [span for span in spans if span[0] not in done]


FilesRead = Callable[[int], None]
"""Told how many more files of a store have been read."""

_shared_listing: tuple[str, list[str], dict[str, int], Any] | None = None
"""What a forked reader inherits from the scanning process: store, names, rows by name and
the shared stop flag (set by ``_share_listing`` in the worker, never pickled)."""


def _share_listing(store: str, names: list[str], row_of: dict[str, int],
                   stopping: Any) -> None:
    global _shared_listing
    in_worker()  # a Ctrl-C reaches the whole process group: the scanning process ends us
    _shared_listing = (store, names, row_of, stopping)


def _read_shared_rows(span: tuple[int, int]) -> RowBatch:
    assert _shared_listing is not None
    store, names, row_of, stopping = _shared_listing
    # Once the scan is given up (Ctrl-C), every span left comes back empty at once.
    return _read_rows(store, names, span[0], span[0] if stopping.value else span[1], row_of)


def _never() -> bool:
    return False


def _spans(skip: bytearray | None, count: int) -> Spans:
    """Spans of at most ``ROWS_PER_SPAN`` rows of ``0:count``, leaving out the rows marked
    in ``skip``."""
    if skip is None or not any(skip):
        return [(start, min(start + ROWS_PER_SPAN, count))
                for start in range(0, count, ROWS_PER_SPAN)]
    spans: Spans = []
    start = None
    for row in range(count + 1):
        if row < count and not skip[row] and start is None:
            start = row
        elif start is not None and (row == count or skip[row] or row - start == ROWS_PER_SPAN):
            spans.append((start, row))
            start = None if row == count or skip[row] else row
    return spans


def read_store_rows(store: str, names: list[str], odd: Iterable[FileRecord] = (), *,
                    parallel: bool = True, on_read: FilesRead | None = None,
                    skip: bytearray | None = None, rows: StoreRows | None = None,
                    expired: Callable[[], bool] = _never) -> tuple[StoreRows, Spans]:
    """The rows of the listed regular files ``names`` (sorted) of one store folder, then
    of the ``odd`` entries found while listing it (symlinks, folders); rows marked in
    ``skip`` are not read (``rows``, when given, already holds them). ``on_read(n)`` is told
    each time ``n`` more files are in (progress on a large store). Also the spans of rows
    left unread because ``expired()`` said so before they were started.

    Reading and CRC-checking is the whole cost of a big store, so it is split over the
    CPUs, in spans of ``ROWS_PER_SPAN`` rows that each worker takes as it gets to them (a
    worker slowed by other jobs takes fewer). With the C reader the workers are threads
    filling the columns in place. Without it (no compiler, ``DASHFIX_PURE_PYTHON=1``) they
    are forked processes.

    Measured on a 2-core machine with one core kept busy by other jobs, two processes were
    as fast as one (within the noise), at 0.4-0.8 s more CPU per 100,000 files; on idle
    CPUs they are faster. A load-based choice was tried and dropped: the 1-minute load
    counts this program's own previous runs, so back-to-back runs went single-process."""
    odd = list(odd)
    if rows is None:
        rows = StoreRows(names + [record.name for record in odd])
    count = len(names)
    spans = _spans(skip, count)
    workers = min(usable_cpus(), count // PARALLEL_MIN_FILES_PER_WORKER) if parallel else 1
    read = _read_native if native.MODULE is not None else _read_forked
    unread = read(store, rows, spans, workers, on_read, expired)
    rows.fill(records_batch(count, odd, rows.row_of))
    return rows, unread


def _read_in_pool(store: str, names: list[str], rows: StoreRows, spans: Spans, workers: int,
                  on_read: FilesRead | None, expired: Callable[[], bool], done: set[int]) -> None:
    """``read_store_rows`` on ``workers`` forked readers; the first row of each span read
    goes into ``done``.

    The readers ignore SIGINT and are never killed: ``Pool.terminate`` kills them with
    SIGTERM, and one killed while it holds a pool queue's lock hangs the pool's own cleanup
    for ever. When this process gives up (Ctrl-C, an error, ``expired()``), the readers are
    told to stop, answer every span left with an empty batch, and leave like after a
    complete scan."""
    context = multiprocessing.get_context("fork")
    stopping = context.RawValue("b", 0)
    pool = None
    try:
        with forking():  # a Ctrl-C while the readers start is raised once `pool` is set
            pool = context.Pool(workers, initializer=_share_listing,
                                initargs=(store, names, rows.row_of, stopping))
        parts = pool.imap_unordered(_read_shared_rows, spans)
        try:
            for part in parts:
                if part.kinds:  # a span given up comes back empty
                    _fill(rows, part, on_read)
                    done.add(part.start)
                if not stopping.value and expired():
                    stopping.value = 1
        except BaseException:
            stopping.value = 1
            for _ in parts:
                pass
            raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def _fill(rows: StoreRows, batch: RowBatch, on_read: FilesRead | None) -> None:
    rows.fill(batch)
    if on_read is not None:
        on_read(len(batch.kinds))


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
    # Regular files by name, everything else as entries (rare). Which names are store
    # files is left to the readers: this loop is the one part of a scan that runs in one
    # process, over every file.
    names: list[str] = []
    others: list[os.DirEntry[str]] = []
    regular = names.append
    dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    regular(entry.name)
                else:
                    others.append(entry)
        if INDEX_NAME in names:
            names.remove(INDEX_NAME)
            scan.index_present = True
            if read_index:  # rebuild-index, repair and inspect read it their own way
                _scan_index(scan, dir_fd, os.stat(INDEX_NAME, dir_fd=dir_fd,
                                                  follow_symlinks=False))
        if LOCK_NAME in names:
            names.remove(LOCK_NAME)
            scan.lock_present = True
        odd: list[FileRecord] = []
        scan.dashfix_leftovers = [(name, TEMP_LEFTOVER) for name in names
                                  if name[-12:] == TEMP_SUFFIX and is_temp_name(name)]
        for entry in others:
            if entry.name == LOCK_NAME:
                scan.lock_present = True
            if entry.name == QUARANTINE_DIR and entry.is_dir(follow_symlinks=False):
                scan.dashfix_leftovers += _quarantine_leftovers(path / QUARANTINE_DIR)
            elif (record := _odd_entry_record(entry, dir_fd)) is not None:
                odd.append(record)
        with paused_gc():
            scan.rows = _read_selected(str(path), dir_fd, names, odd, selection, target, cache,
                                       on_read, on_listed)
    finally:
        os.close(dir_fd)
    return scan


def _read_selected(store: str, dir_fd: int, names: list[str], odd: list[FileRecord],
                   selection: Selection | None, target: str, cache: VerifyCache | None,
                   on_read: FilesRead | None, on_listed: FilesRead | None) -> StoreRows:
    """``read_store_rows`` behind the run's sample, time limit and cache. A store that
    was not read whole keeps only the rows read (or answered by the cache) in the sample:
    its cross-file checks do not run, and its unread files are counted in ``selection``."""
    skip: bytearray | None = None
    chosen: bytearray | None = None
    if selection is not None and selection.sample is not None:
        # A plain `{id}.bin` is a store file: the common name is settled inline.
        sampled = selection.sampled_names(target, [
            name for name in names
            if (name[-4:] == ".bin" and name[-6:] != ".v.bin") or is_store_file(name)])
        if cache is None:
            names = sampled  # nothing else is read, so nothing else needs a row (or a sort)
        else:
            names.sort()
            picked = set(sampled)
            chosen = bytearray(name in picked for name in names)
            skip = bytearray(not wanted for wanted in chosen)
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
    expired = _never if selection is None else selection.expired
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


# -- ids -------------------------------------------------------------------------------

IdParts = tuple[IdScheme, str, int]
"""(scheme, proc, counter) of a current-scheme or counter-scheme id."""

_HEX_DIGITS = frozenset("0123456789abcdef")


def proc_and_counter(checkpoint_id: str) -> IdParts | None:
    """(scheme, proc, counter) of a current-scheme or counter-scheme id, else None.

    The same answer as ``parse_id`` without regexes: it runs for every checkpoint. The
    proc is interned: a store has a handful of distinct ones.
    """
    parts = checkpoint_id.rsplit("_", 2)
    if len(parts) == 3:
        proc, last = parts[1], parts[2]
        digits = last[5:]
        if (last[:5] == "chkpt" and digits.isdecimal() and digits.isascii()
                and 5 <= len(proc) <= 16 and _HEX_DIGITS.issuperset(proc)):
            return IdScheme.CURRENT, _intern(proc), int(digits)
    _, separator, digits = checkpoint_id.rpartition("_")
    if separator and digits.isdecimal() and digits.isascii():
        return IdScheme.COUNTER, "", int(digits)
    return None


def expected_name(record: FileRecord) -> str:
    """The file name DashFlow loads the record's embedded id from."""
    return f"{record.checkpoint_id}{SUFFIX[record.variant]}"


def identity_flags(name: str, variant: str, checkpoint_id: str, thread_id: str,
                   parsed: IdParts | None) -> int:
    """FLAG_* bits for a checkpoint's name and ids (computed where the file is read);
    ``parsed`` is ``proc_and_counter`` of its id."""
    flags = 0
    if is_path_unsafe(checkpoint_id) is not None or is_path_unsafe(thread_id) is not None:
        flags |= FLAG_PATH_UNSAFE
    elif name != checkpoint_id + SUFFIX[variant]:
        flags |= FLAG_NAME_MISMATCH
    if parsed is not None and parsed[0] is IdScheme.CURRENT:
        own = checkpoint_id.rsplit("_", 2)[0] == thread_id
    else:
        own = id_matches_thread(checkpoint_id, thread_id)
    if not own:
        flags |= FLAG_FOREIGN_ID
    return flags


# -- latest checkpoint per thread (DashFlow's rule) ------------------------------------------


def latest_per_thread(records: Iterable[FileRecord]) -> dict[str, FileRecord]:
    """Per thread, the checkpoint DashFlow's file scan picks: the greatest embedded
    timestamp, ties broken by the greater id *string* (so ``chkpt9`` beats ``chkpt10``).

    Only loadable checkpoints with a known timestamp take part; a corrupt file is never chosen.
    """
    best: dict[str, FileRecord] = {}
    for record in records:
        if record.secs < 0 or record.problem is not None or record.thread_id is None or (
            record.variant not in CHECKPOINT_VARIANTS
        ):
            continue
        current = best.get(record.thread_id)
        if current is None or record.secs > current.secs or (
            record.secs == current.secs
            and (record.nanos, record.checkpoint_id or "")
            > (current.nanos, current.checkpoint_id or "")
        ):
            best[record.thread_id] = record
    return best


# -- discovery -----------------------------------------------------------------------------

_CLAIMING = frozenset(
    {Variant.DCHK, Variant.LEGACY_BINCODE, Variant.GZIP_BIN, Variant.VERSIONED,
     Variant.VERSIONED_GZ}
)


def _head(dir_fd: int, name: str) -> bytes:
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return b""
    try:
        return os.read(fd, _HEADER_SIZE)
    except OSError:
        return b""
    finally:
        os.close(fd)


def claims_dir(path: Path) -> bool:
    """A store has index.bin or .checkpoint.lock, or a file that classifies as a checkpoint."""
    try:
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        for marker in (INDEX_NAME, LOCK_NAME):
            try:
                os.stat(marker, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            return True  # no need to list a folder of 100,000 files to know it is a store
        with os.scandir(dir_fd) as entries:
            candidates = []
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    continue
                if classify_name(entry.name) in _CLAIMING:
                    candidates.append(entry.name)
        return any(
            classify(name, _head(dir_fd, name)) in _CLAIMING or
            dchk.has_damaged_magic(_head(dir_fd, name))
            for name in candidates
        )
    except OSError:
        return False
    finally:
        os.close(dir_fd)


def sniff_file(path: Path, head: bytes) -> str | None:
    """A single checkpoint file given as PATH."""
    return "checkpoint-file" if classify(path.name, head[:_HEADER_SIZE]) in _CLAIMING else None




CHECKPOINT_STORE_KIND = "checkpoint-store"

