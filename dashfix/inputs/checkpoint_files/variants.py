"""One store file's bytes to its ``FileRecord``, by variant (DCHK, legacy bincode, gzip,
Versioned, legacy JSON, temps); a healthy plain DCHK checkpoint straight to its row."""

from __future__ import annotations

import functools
import os
import struct
import sys
import zlib

from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import (
    DEFAULT_SECS_BOUNDS,
    ID_MAX_LEN,
    MIN_TAIL_SIZE,
    NANOS_PER_SEC,
    NODE_MAX_LEN,
    CheckpointHead,
    TailRules,
    empty_metadata_tails,
    last_tail_end,
    parse_tail,
    read_ids,
)
from dashfix.formats.ids import COUNTER_DIGITS_MAX, IdScheme, proc_and_counter
from dashfix.formats.variants import (
    Variant,
    classify,
    decode_legacy_json,
    decode_versioned,
    gunzip_bounded,
    parse_temp_name,
    zero_filled,
)
from dashfix.inputs.checkpoint_files.identity import identity_flags
from dashfix.inputs.checkpoint_record import (
    COUNTER_MAX,
    DCHK,
    FLAG_VERSION_ZERO,
    FOREIGN,
    PLAIN,
    SUFFIX,
    UNREADABLE,
    VERSIONED_GZ,
    FileProblem,
    FileRecord,
    RowValues,
)

_HEADER_SIZE = dchk.HEADER_SIZE
_MAGIC = dchk.MAGIC
_HEADER_BODY = struct.Struct("<IIQ")  # version, crc, length after the magic
_HEAD_AND_ID_LENGTH = struct.Struct("<4sIIQQ")  # the header, then the id's length
_TIME_TAG_LENGTH = struct.Struct("<QIBQ")  # timestamp, parent's Option tag, its length
_U64 = struct.Struct("<Q")
_EMPTY_MAP = bytes(8)
_MIN_SECS, _MAX_SECS = DEFAULT_SECS_BOUNDS
_intern = sys.intern
# How far back from the end a legacy file is searched for where a valid tail ends.
_GARBAGE_SEARCH = 64 * 1024

_INTEGRITY_PROBLEMS = {
    dchk.IntegrityErrorKind.FILE_TOO_SMALL: FileProblem.TOO_SMALL,
    dchk.IntegrityErrorKind.UNSUPPORTED_VERSION: FileProblem.UNSUPPORTED_VERSION,
    dchk.IntegrityErrorKind.LENGTH_MISMATCH: FileProblem.LENGTH_MISMATCH,
    dchk.IntegrityErrorKind.CHECKSUM_MISMATCH: FileProblem.CHECKSUM_MISMATCH,
}


def with_problem(base: FileRecord, problem: FileProblem, message: str,
                 offset: int | None = None, expected: object = None,
                 actual: object = None) -> FileRecord:
    return base._replace(
        problem=problem, message=message, offset=offset,
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
    files: a test compares both).

    The Python twin's per-file cost (~14 us of CPU per file before), so it is one function
    over whole-file offsets: the checks of ``empty_metadata_tails`` for one Some parent
    (``_nul_free_string_ending_at`` twice, ``_node_and_time``, ``TailRules``) in the order
    that fails soonest, one ``unpack_from`` for the header and the id's length and one for
    the timestamp, the Some tag and the parent's length (they are adjacent); no ``max``
    call, and ``bytes.decode`` (each ~40 ns less than ``max`` and ``str(..., "utf-8")``)."""
    size = len(data)
    if size < _HEADER_SIZE + 16:
        return None
    magic, version, stored_crc, declared, id_length = _HEAD_AND_ID_LENGTH.unpack_from(data)
    # A parent None would end with its zero tag byte just before the empty metadata.
    if magic != _MAGIC or version != 1 or declared != size - _HEADER_SIZE or (
        data[size - 9] == 0 or not data.endswith(_EMPTY_MAP)
    ) or zlib.crc32(memoryview(data)[_HEADER_SIZE:]) != stored_crc:
        return None
    id_end = _HEADER_SIZE + 8 + id_length
    if id_end + 8 > size:
        return None
    thread_end = id_end + 8 + _U64.unpack_from(data, id_end)[0]
    if size - thread_end < MIN_TAIL_SIZE:
        return None
    # The parent: a length whose seven high bytes are zero and a text without NUL, so its
    # length ends at the last zero byte before the metadata; a node length and a timestamp
    # (20 bytes) and the tag come before it.
    parent_floor = thread_end + 21
    lowest = size - 16 - ID_MAX_LEN
    parent_at = data.rfind(0, parent_floor if parent_floor > lowest else lowest, size - 8) - 7
    if parent_at < parent_floor:
        return None
    time_at = parent_at - 13
    secs, nanos, tag, parent_length = _TIME_TAG_LENGTH.unpack_from(data, time_at)
    if parent_length != size - 16 - parent_at or tag != 1 or nanos >= NANOS_PER_SEC or not (
        _MIN_SECS <= secs < _MAX_SECS
    ):
        return None
    lowest = time_at - 8 - NODE_MAX_LEN
    node_at = data.rfind(0, thread_end if thread_end > lowest else lowest, time_at) - 7
    if node_at < thread_end or _U64.unpack_from(data, node_at)[0] != time_at - node_at - 8:
        return None
    try:
        checkpoint_id = data[_HEADER_SIZE + 8 : id_end].decode()
        thread_id = _intern(data[id_end + 8 : thread_end].decode())
        parent_id = data[parent_at + 8 : size - 8].decode()
        node = _intern(data[node_at + 8 : time_at].decode())
    except UnicodeDecodeError:
        return None
    if not parent_id.startswith(thread_id + "_") and not TailRules(
        checkpoint_id, thread_id
    ).parent_ok(parent_id):
        return None
    head = checkpoint_id.rstrip(_DIGITS)
    digits = len(checkpoint_id) - len(head)
    proc = _clean_current_head(head, thread_id) if 0 < digits <= COUNTER_DIGITS_MAX else None
    if proc is not None and name == checkpoint_id + ".bin":
        counter = int(checkpoint_id[len(head) :])
    else:
        parsed = proc_and_counter(checkpoint_id)
        if identity_flags(name, DCHK, checkpoint_id, thread_id, parsed):
            return None
        proc, counter = (None, -1) if parsed is None else (parsed[1], parsed[2])
    if counter > COUNTER_MAX:
        return None
    return (PLAIN, thread_id, node, proc, counter, secs, nanos, info.st_mtime_ns,
            info.st_size, thread_end - _HEADER_SIZE, node_at - _HEADER_SIZE, parent_id)


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
    return with_problem(base, _INTEGRITY_PROBLEMS[failure.kind], failure.message, failure.offset,
                        expected, actual)


def _decode_payload(base: FileRecord, data: bytes, at: int, flags: int = 0) -> FileRecord:
    """ids and tail of a bincode ``Checkpoint`` payload starting at offset ``at`` of ``data``."""
    try:
        checkpoint_id, thread_id, state_start = read_ids(data, at)
    except DecodeError as exc:
        return with_problem(base, FileProblem.PAYLOAD_UNDECODABLE,
                            f"the checkpoint ids do not decode: {exc.reason}", exc.offset)
    return _with_tail(base, data, at, checkpoint_id, thread_id, state_start, flags)


def _summarise_legacy(base: FileRecord, data: bytes) -> FileRecord:
    try:
        checkpoint_id, thread_id, state_start = read_ids(data)
    except DecodeError as exc:
        return with_problem(base, FileProblem.LEGACY_TRUNCATED,
                            f"the ids run off the end of the file: {exc.reason}", exc.offset)
    record = _with_tail(base, data, 0, checkpoint_id, thread_id, state_start)
    if record.secs >= 0 or record.tail_ambiguous:
        return record
    garbage = last_tail_end(data, CheckpointHead(checkpoint_id, thread_id, state_start),
                            _GARBAGE_SEARCH)
    if garbage is not None:
        return with_problem(record, FileProblem.LEGACY_TRAILING_GARBAGE,
                            f"the checkpoint ends at byte {garbage}; "
                            f"{len(data) - garbage} bytes follow it", garbage, garbage, len(data))
    return with_problem(record, FileProblem.LEGACY_TRUNCATED,
                        "no checkpoint tail (node, timestamp, parent, metadata) ends at the end "
                        "of the file: the file is cut short or not a checkpoint", len(data))


def _gunzip(base: FileRecord, data: bytes) -> FileRecord | bytes:
    try:
        return gunzip_bounded(data)
    except DecodeError as exc:
        problem = (FileProblem.DECOMPRESSED_TOO_LARGE if "exceeds" in exc.reason
                   else FileProblem.GZIP_CORRUPT)
        return with_problem(base, problem, exc.reason, exc.offset)


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
        return with_problem(base, FileProblem.PAYLOAD_UNDECODABLE,
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
        return with_problem(record, FileProblem.VERSIONED_DATA_NOT_JSON,
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
        return with_problem(base, FileProblem.DAMAGED_MAGIC,
                            "the magic is damaged; version, length and CRC prove the header",
                            dchk.MAGIC_OFFSET, _MAGIC.decode(), bytes(data[:4]).hex())
    what = "the file is empty" if not data else (
        f"the first bytes ({bytes(data[:8]).hex()}) are neither DCHK, a legacy bincode "
        "checkpoint nor the variant its name promises"
    )
    return with_problem(base._replace(variant=FOREIGN), FileProblem.FOREIGN, what, 0)


def _summarise_temp(base: FileRecord, data: bytes) -> FileRecord:
    temp = parse_temp_name(base.name)
    target = None if temp is None else temp[0]
    failure = dchk.verify(data)
    if failure is not None:
        return with_problem(base._replace(checkpoint_id=target),
                            _INTEGRITY_PROBLEMS.get(failure.kind, FileProblem.FOREIGN),
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


_ZERO_CHECKED = frozenset({Variant.DCHK, Variant.GZIP_BIN, Variant.VERSIONED,
                           Variant.VERSIONED_GZ})
"""Names DashFlow reads as checkpoints; a zero-filled temp is left to the temp checks."""


def summarise_bytes(name: str, by_name: Variant, info: os.stat_result,
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
        return with_problem(base._replace(variant=UNREADABLE), FileProblem.UNREADABLE, data)
    if by_name in _ZERO_CHECKED and zero_filled(data):
        return with_problem(base._replace(variant=FOREIGN), FileProblem.ZERO_FILLED,
                            f"all {len(data)} bytes are zero: a crash leftover (the file was "
                            "extended but its data never written); no checkpoint to recover", 0)
    variant = classify(name, data[:_HEADER_SIZE]) if by_name in _READ_BY_NAME else by_name
    if variant is Variant.UNKNOWN and by_name is Variant.LEGACY_JSON:
        return base  # DashFlow ignores .json files whatever they hold
    return _BY_VARIANT[variant](base._replace(variant=variant.value), data)
