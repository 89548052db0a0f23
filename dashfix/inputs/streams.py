"""Reading stream logs record by record, whatever their container.

``iter_records(path)`` is the one entry point: it detects the format from the content
(or takes ``input_format``) and yields a ``StreamRecord`` per record, or a
``RecordProblem`` where the container itself is damaged.  Nothing is ever read whole:
captures stream in chunks, JSONL lines are capped while being read, SQLite rows come one
at a time from a read-only, immutable connection.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import quote

from dashfix.context import CONSUMER_LIMIT
from dashfix.formats import filelog, kcat
from dashfix.formats.frame import FLAG_UNCOMPRESSED, FLAG_ZSTD, ZSTD_MAGIC, FrameKind, classify
from dashfix.inputs import InputFormat as InputFormat  # re-exported: readers import it from here
from dashfix.inputs.checkpoint_record import entry_kind

FRAME_SUFFIX = ".frame"
SQLITE_MAGIC = b"SQLite format 3\x00"
JSONL_OVERHEAD = 4096
"""Room for the JSON keys, integers and whitespace of one file-backend line."""


def default_max_line_bytes(limit: int) -> int:
    """A line can hold base64 of a ``limit``-byte value plus the JSON around it."""
    return filelog.base64_cap(limit + 1) + JSONL_OVERHEAD


@dataclass(frozen=True, slots=True)
class ReadOptions:
    limit: int = CONSUMER_LIMIT
    """Frame size cap (``--limits``); values larger than ``limit + 1`` are never read."""
    max_line_bytes: int | None = None
    """JSONL line cap; None derives it from ``limit``."""

    @property
    def line_cap(self) -> int:
        return self.max_line_bytes or default_max_line_bytes(self.limit)


UNFRAMED_FORMATS = frozenset(("jsonl", "sqlite"))


@dataclass(slots=True)
class StreamRecord:
    """One record of a log.  Not frozen: a frozen __init__ costs a microsecond, and
    millions are made per run."""

    index: int
    """0-based record number in the log (line number - 1 for JSONL, row order for SQLite)."""
    offset: int
    """Byte offset of the record in its file (kcat prefix, JSONL line start; 0 for frames)."""
    value: bytes | None
    """The record value; None for a null Kafka value."""
    source_format: str
    timestamp_us: int | None = None
    """The container's own write time (JSONL/SQLite), not the header's."""
    key: str | None = None
    topic: str | None = None
    partition: int | None = None
    kafka_offset: int | None = None
    """The log's own offset field (JSONL ``offset``, SQLite ``offset`` column)."""
    member: str | None = None
    """For a folder of frames: the file name this record came from."""

    @property
    def unframed(self) -> bool:
        """File and SQLite backends store bare protobuf; Kafka values carry the flag byte."""
        return self.source_format in UNFRAMED_FORMATS


class ProblemKind(StrEnum):
    UNREADABLE = "unreadable"
    TRUNCATED = "truncated"
    BAD_LENGTH = "bad-length"
    OVERSIZE = "oversize"
    LINE_TOO_LONG = "line-too-long"
    NOT_UTF8 = "not-utf8"
    BAD_LINE = "bad-line"
    BAD_BASE64 = "bad-base64"


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """The container is damaged here; ``index``/``offset`` locate it like a record."""

    kind: ProblemKind
    index: int
    offset: int
    message: str
    source_format: str
    size: int | None = None
    """The record size that broke a cap, when known."""
    expected: str | None = None
    actual: str | None = None
    member: str | None = None


# -- detection ---------------------------------------------------------------------------

_DLQ_KEYS = (b'"original_payload_base64"', b'"payload_sha256"', b'"first_bytes_hex"',
             b'"source_topic"', b'"kafka_offset"')


def _looks_like_frame_start(value: bytes) -> bool:
    """``value``: up to the first 5 bytes of a record."""
    kind = classify(value)
    if kind is FrameKind.ZSTD:
        return value[1:5] == ZSTD_MAGIC[: len(value) - 1]
    if kind is FrameKind.UNCOMPRESSED:
        return len(value) == 1 or classify(value[1:]) is FrameKind.LEGACY_PROTOBUF
    return kind in (FrameKind.LEGACY_PROTOBUF, FrameKind.LEGACY_ZSTD)


def _looks_like_kcat(head: bytes, size: int) -> bool:
    """The first record must be a null or hold a frame; later prefixes in ``head`` must
    chain inside the file (a damaged later record is still a capture, reported later)."""
    if len(head) < 4:
        return False
    (length,) = kcat.PREFIX.unpack_from(head, 0)
    if length == kcat.NULL_LENGTH:
        return True
    if length < 1 or 4 + length > size or not _looks_like_frame_start(head[4:9]):
        return False
    pos = 4 + length
    while pos + 4 <= len(head):
        (length,) = kcat.PREFIX.unpack_from(head, pos)
        if length < kcat.NULL_LENGTH:
            return True
        pos += 4 + max(length, 0)
    return True


def _looks_like_filelog(head: bytes) -> bool:
    stripped = head.lstrip()
    if not stripped.startswith(b"{"):
        return False
    first_line = stripped.split(b"\n", 1)[0]
    if any(key in first_line for key in _DLQ_KEYS):
        return False
    return all(key in first_line for key in (b'"offset"', b'"timestamp_us"', b'"data"'))


def detect_format(path: Path, head: bytes, size: int) -> InputFormat | None:
    """What a stream file is, from its first bytes and size; None when it is none of them.

    DLQ-shaped JSON lines give None, so the DLQ input kind can claim them.
    """
    if head.startswith(SQLITE_MAGIC):
        return InputFormat.SQLITE
    if _looks_like_filelog(head):
        return InputFormat.JSONL
    if _looks_like_kcat(head, size):
        return InputFormat.KCAT
    if head[:1] in (bytes([FLAG_UNCOMPRESSED]), bytes([FLAG_ZSTD])) and _looks_like_frame_start(
        head[:5]
    ):
        return InputFormat.FRAME
    if path.suffix == FRAME_SUFFIX and _looks_like_frame_start(head[:5]):
        return InputFormat.FRAME
    return None


def _detect_path(path: Path) -> InputFormat | None:
    if path.is_dir():
        return InputFormat.FRAME_DIR
    with open(path, "rb") as handle:
        head = handle.read(4096)
        size = os.fstat(handle.fileno()).st_size
    return detect_format(path, head, size)


# -- readers -----------------------------------------------------------------------------

_KCAT_PROBLEMS = {
    kcat.KcatFault.TRUNCATED_PREFIX: ProblemKind.TRUNCATED,
    kcat.KcatFault.TRUNCATED_VALUE: ProblemKind.TRUNCATED,
    kcat.KcatFault.NEGATIVE_LENGTH: ProblemKind.BAD_LENGTH,
    kcat.KcatFault.OVERSIZE: ProblemKind.OVERSIZE,
}


def _kcat_message(problem: kcat.KcatProblem, cap: int) -> str:
    if problem.fault is kcat.KcatFault.TRUNCATED_PREFIX:
        return f"capture ends inside a 4-byte length prefix ({problem.remaining} byte(s) left)"
    if problem.fault is kcat.KcatFault.TRUNCATED_VALUE:
        return (f"length prefix says {problem.length} bytes but only {problem.remaining} "
                "remain in the capture")
    if problem.fault is kcat.KcatFault.NEGATIVE_LENGTH:
        return f"length prefix is {problem.length}; only -1 (null) may be negative"
    return f"record of {problem.length} bytes is over the {cap}-byte frame cap; not read"


RecordValue = tuple[int, int, bytes | None]
"""A kcat or JSONL record as ``iter_values`` yields it: ``(index, byte offset, value)``."""
ValueBlock = list[RecordValue]
"""Consecutive records of a kcat capture or JSONL log, in order."""
BLOCK_RECORDS = kcat.BLOCK_RECORDS


def _kcat_values(path: Path, options: ReadOptions) -> Iterator[ValueBlock | RecordProblem]:
    return _kcat_run(path, options)


def _kcat_run(path: Path, options: ReadOptions, start: int = 0, first_index: int = 0,
              end: int | None = None) -> Iterator[ValueBlock | RecordProblem]:
    cap = options.limit + 1
    fmt = InputFormat.KCAT.value
    with open(path, "rb", buffering=1 << 20) as handle:
        size = os.fstat(handle.fileno()).st_size
        for item in kcat.read_blocks(handle, size, max_value_bytes=cap, start=start,
                                     first_index=first_index, end=end):
            if type(item) is list:
                yield item
                continue
            assert isinstance(item, kcat.KcatProblem)
            yield RecordProblem(
                _KCAT_PROBLEMS[item.fault], item.index, item.offset,
                _kcat_message(item, cap), fmt, size=item.length,
                expected=(f"<= {cap} bytes" if item.fault is kcat.KcatFault.OVERSIZE
                          else f"<= {item.remaining} bytes"),
                actual=None if item.length is None else f"{item.length} bytes",
            )


def _read_kcat(path: Path, options: ReadOptions) -> Iterator[StreamRecord | RecordProblem]:
    fmt = InputFormat.KCAT.value
    for item in _kcat_values(path, options):
        if isinstance(item, RecordProblem):
            yield item
        else:
            yield from (StreamRecord(*record, fmt) for record in item)


_LINE_PROBLEMS = {
    filelog.LineFault.NOT_UTF8: ProblemKind.NOT_UTF8,
    filelog.LineFault.NOT_JSON: ProblemKind.BAD_LINE,
    filelog.LineFault.BAD_FIELDS: ProblemKind.BAD_LINE,
    filelog.LineFault.BAD_BASE64: ProblemKind.BAD_BASE64,
    filelog.LineFault.OVERSIZE: ProblemKind.OVERSIZE,
}


def size_when_opened(handle: BinaryIO) -> int | None:
    """The size of the regular file ``handle`` reads (None for a pipe, which has none)."""
    info = os.fstat(handle.fileno())
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _capped_lines(handle: BinaryIO, cap: int, offset: int = 0,
                  end: int | None = None) -> Iterator[tuple[int, bytes | None, int]]:
    """``(offset, line | None, length)``: None when the line is longer than ``cap``; from
    byte ``offset`` (where ``handle`` is) up to ``end``.

    An overlong line is skipped in bounded reads, never held.
    """
    stop = (1 << 63) if end is None else end
    while offset < stop:
        line = handle.readline(cap + 1)
        if not line:
            return
        length = len(line)
        if length > cap and not line.endswith(b"\n"):
            while True:
                rest = handle.readline(1 << 20)
                length += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield offset, None, length
        else:
            yield offset, line, length
        offset += length


def _jsonl_entries(
    path: Path, options: ReadOptions, start: int = 0, first_index: int = 0,
    end: int | None = None,
) -> Iterator[tuple[int, int, filelog.FileLogEntry] | RecordProblem]:
    """``(index, byte offset, decoded line)`` per non-blank line, or the line's problem."""
    cap = options.line_cap
    fmt = InputFormat.JSONL.value
    with open(path, "rb", buffering=1 << 20) as handle:
        if end is None:  # a log still being written: its lines when opened, not a chase
            end = size_when_opened(handle)
        index = first_index
        handle.seek(start)
        for offset, line, length in _capped_lines(handle, cap, start, end):
            if line is None:
                yield RecordProblem(
                    ProblemKind.LINE_TOO_LONG, index, offset,
                    f"line of {length} bytes is over --max-line-bytes {cap}; skipped unread",
                    fmt, size=length, expected=f"<= {cap} bytes", actual=f"{length} bytes",
                )
                index += 1
                continue
            body = line.rstrip(b"\r\n")
            if not body or body.isspace():  # strip() would copy every line to test it
                index += 1  # keeps index == line number - 1
                continue
            entry = filelog.decode_line(body, value_cap=options.limit)
            if isinstance(entry, filelog.LineProblem):
                yield RecordProblem(_LINE_PROBLEMS[entry.fault], index, offset + entry.column,
                                    entry.message, fmt)
            else:
                yield index, offset, entry
            index += 1


def _read_jsonl(path: Path, options: ReadOptions) -> Iterator[StreamRecord | RecordProblem]:
    fmt = InputFormat.JSONL.value
    for item in _jsonl_entries(path, options):
        if isinstance(item, RecordProblem):
            yield item
        else:
            index, offset, entry = item
            yield StreamRecord(index, offset, entry.data, fmt, timestamp_us=entry.timestamp_us,
                               kafka_offset=entry.offset)


def _jsonl_values(path: Path, options: ReadOptions, start: int = 0, first_index: int = 0,
                  end: int | None = None) -> Iterator[ValueBlock | RecordProblem]:
    block: ValueBlock = []
    for item in _jsonl_entries(path, options, start, first_index, end):
        if isinstance(item, RecordProblem):
            if block:
                yield block
                block = []
            yield item
            continue
        block.append((item[0], item[1], item[2].data))
        if len(block) >= BLOCK_RECORDS:
            yield block
            block = []
    if block:
        yield block


RUN_FORMATS = (InputFormat.KCAT, InputFormat.JSONL)
"""Formats whose records can be read in runs cut by ``find_run_end``."""


def find_run_end(fmt: InputFormat, read_at: Callable[[int, int], bytes], start: int,
                 count: int, total_size: int) -> int | None:
    """Byte offset of the record ``count`` records after the one at ``start`` of a kcat
    capture or a JSONL log (a line is a record there, blank or not); None when the log
    ends (or, for a capture, is damaged) before that."""
    if fmt is InputFormat.KCAT:
        return kcat.find_boundary(read_at, start, count, total_size)
    return filelog.find_line_boundary(read_at, start, count, total_size)


def iter_run(path: Path, fmt: InputFormat, options: ReadOptions, start: int = 0,
             first_index: int = 0, end: int | None = None,
             ) -> Iterator[ValueBlock | RecordProblem]:
    """``iter_values`` of a kcat capture or JSONL log, or of the run of its records from the
    one at byte ``start`` (number ``first_index``) up to the boundary ``end`` found by
    ``find_run_end`` (None: to the end of the log)."""
    reader = _kcat_run if fmt is InputFormat.KCAT else _jsonl_values
    try:
        yield from reader(path, options, start, first_index, end)
    except OSError as exc:
        yield RecordProblem(ProblemKind.UNREADABLE, 0, 0, f"cannot read: {exc.strerror or exc}",
                            fmt.value)


def _oversize(index: int, offset: int, size: int, cap: int, fmt: str,
              member: str | None = None) -> RecordProblem:
    return RecordProblem(
        ProblemKind.OVERSIZE, index, offset,
        f"record of {size} bytes is over the {cap}-byte frame cap; not read", fmt, size=size,
        expected=f"<= {cap} bytes", actual=f"{size} bytes", member=member,
    )


def _read_frame_file(path: Path, index: int, cap: int, fmt: str,
                     member: str | None) -> StreamRecord | RecordProblem:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > cap:
            return _oversize(index, 0, size, cap, fmt, member)
        return StreamRecord(index, 0, handle.read(cap + 1), fmt, member=member)


def _read_frame(path: Path, options: ReadOptions) -> Iterator[StreamRecord | RecordProblem]:
    yield _read_frame_file(path, 0, options.limit + 1, InputFormat.FRAME.value, None)


def _read_frame_dir(path: Path, options: ReadOptions) -> Iterator[StreamRecord | RecordProblem]:
    """Every regular file of the folder in name order; symlinks and subfolders are ignored."""
    fmt = InputFormat.FRAME_DIR.value
    index = 0
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if not stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
            continue
        yield _read_frame_file(Path(entry.path), index, options.limit + 1, fmt, entry.name)
        index += 1


def _read_sqlite(path: Path, options: ReadOptions) -> Iterator[StreamRecord | RecordProblem]:
    fmt = InputFormat.SQLITE.value
    # immutable=1: no locks, no WAL/SHM files created; mode=ro: no writes.
    uri = f"file:{quote(str(path.absolute()))}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        yield RecordProblem(ProblemKind.UNREADABLE, 0, 0, f"cannot open SQLite database: {exc}",
                            fmt)
        return
    try:
        # length() is computed by SQLite before the BLOB is fetched into Python.
        rows = connection.execute(
            "SELECT topic, \"offset\", timestamp_us, length(data), "
            "CASE WHEN length(data) <= ? THEN data END FROM messages ORDER BY id",
            (options.limit,),
        )
        for index, (topic, offset, timestamp_us, size, data) in enumerate(rows):
            if size is not None and size > options.limit:
                yield _oversize(index, 0, size, options.limit, fmt)
                continue
            value = None if data is None else bytes(data)
            yield StreamRecord(index, 0, value, fmt, timestamp_us=timestamp_us, topic=topic,
                               kafka_offset=offset)
    except sqlite3.Error as exc:
        yield RecordProblem(
            ProblemKind.UNREADABLE, 0, 0,
            f"cannot read the messages table of the SQLite stream backend: {exc}", fmt,
        )
    finally:
        connection.close()


_READERS = {
    InputFormat.KCAT: _read_kcat,
    InputFormat.JSONL: _read_jsonl,
    InputFormat.FRAME: _read_frame,
    InputFormat.FRAME_DIR: _read_frame_dir,
    InputFormat.SQLITE: _read_sqlite,
}


_Item = TypeVar("_Item", StreamRecord | RecordProblem, ValueBlock | StreamRecord | RecordProblem)
_VALUE_READERS: dict[InputFormat, Callable[[Path, ReadOptions],
                                           Iterator[ValueBlock | StreamRecord | RecordProblem]]]
_VALUE_READERS = {**_READERS, InputFormat.KCAT: _kcat_values, InputFormat.JSONL: _jsonl_values}


def resolve_format(path: Path, input_format: str | None = None) -> InputFormat | None:
    """The forced format, or the detected one (None: not a stream log). Raises OSError for
    a FIFO, socket or device, found by ``stat``, never opened: a named FIFO without a writer
    would block the open for ever, and a log is read by offset, which no pipe allows."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise OSError(errno.ESPIPE, f"{entry_kind(mode)}, not a regular file or folder (a "
                      "stream log is read by offset; nothing was opened)")
    if input_format is not None:
        return InputFormat(input_format)
    return _detect_path(path)


def iter_records(
    path: Path, input_format: str | None = None, options: ReadOptions | None = None
) -> Iterator[StreamRecord | RecordProblem]:
    """Every record of the stream log at ``path``, in log order, streaming.

    ``input_format`` forces one of ``INPUT_FORMATS``; otherwise it is detected from the
    content (a folder is a folder of raw frames).  Damage to the container is yielded as
    ``RecordProblem`` (an unreadable input as a single ``UNREADABLE`` problem), never raised.
    """
    return _iterate(path, input_format, options or ReadOptions(), _READERS)


def iter_values(
    path: Path, input_format: str | None = None, options: ReadOptions | None = None
) -> Iterator[ValueBlock | StreamRecord | RecordProblem]:
    """``iter_records``, except that the records of a kcat capture or a JSONL log come in
    blocks of bare ``RecordValue`` tuples (``ValueBlock``): building a ``StreamRecord``
    costs more than validating a healthy small record's header, and a block is handed on
    in one step.  Their format (``resolve_format``) says whether the
    values are framed (kcat) or bare protobuf (JSONL)."""
    return _iterate(path, input_format, options or ReadOptions(), _VALUE_READERS)


def _iterate(
    path: Path, input_format: str | None, options: ReadOptions,
    readers: Mapping[InputFormat, Callable[[Path, ReadOptions], Iterator[_Item]]],
) -> Iterator[_Item]:
    try:
        fmt = resolve_format(path, input_format)
    except OSError as exc:
        yield RecordProblem(ProblemKind.UNREADABLE, 0, 0, f"cannot read: {exc.strerror or exc}",
                            input_format or "unknown")
        return
    if fmt is None:
        yield RecordProblem(
            ProblemKind.UNREADABLE, 0, 0,
            "not a recognised stream log (kcat capture, file-backend JSONL, raw frame, folder "
            "of frames or SQLite backend); use --input-format to force one",
            "unknown",
        )
        return
    try:
        yield from readers[fmt](path, options)
    except OSError as exc:
        yield RecordProblem(ProblemKind.UNREADABLE, 0, 0, f"cannot read: {exc.strerror or exc}",
                            fmt.value)


def _has_messages_table(path: Path) -> bool:
    uri = f"file:{quote(str(path.absolute()))}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            row = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return row is not None


def sniff_stream_file(path: Path, head: bytes) -> str | None:
    """Discovery's sniffer: the stream format of ``path``, or None.

    Stricter than ``detect_format`` where a guess could misfire in a folder of unrelated
    files: SQLite files count only with a ``messages`` table, a lone raw frame only with
    the ``.frame`` suffix; DLQ-shaped JSON lines are left to the DLQ kind.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return None
    fmt = detect_format(path, head, size)
    if fmt is InputFormat.SQLITE and not _has_messages_table(path):
        return None
    if fmt is InputFormat.FRAME and path.suffix != FRAME_SUFFIX:
        return None
    return None if fmt is None else fmt.value


def claims_frames_dir(path: Path) -> bool:
    """A folder holding only ``*.frame`` files (at least one) is one log: a folder of frames."""
    frames = 0
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False) or not entry.name.endswith(
                    FRAME_SUFFIX
                ):
                    return False
                frames += 1
    except OSError:
        return False
    return frames > 0
