"""``index.bin``: bincode ``HashMap<ThreadId, (CheckpointId, SystemTime)>`` (spec 2.5).

The decoder is strict where DashFlow's is lenient: it must consume exactly all bytes, every
string must be UTF-8 and every ``nanos`` below 1e9. The entry count is checked against the
remaining bytes before anything is allocated, so an absurd count fails at once.

Duplicate thread keys cannot come from a real HashMap but can come from damage or a foreign
writer. bincode builds the map by inserting in order, so the later entry wins; ``decode_index``
does the same and ``decode_index_entries`` keeps every entry so a check can report them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from dashfix.formats.bincode import Buffer, DecodeError, encode_string, encode_u64

NANOS_PER_SEC = 1_000_000_000
# thread len (8) + id len (8) + secs (8) + nanos (4), with both strings empty.
MIN_ENTRY_SIZE = 28

_TIME = struct.Struct("<QI")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    checkpoint_id: str
    secs: int
    nanos: int


READ_BLOCK = 1 << 16
"""Bytes read from a file at a time: with one entry, all ``IndexStream`` ever holds."""


class IndexStream:
    """Decode ``index.bin`` entry by entry from a binary stream, without holding the file.

    It keeps one window of the file: the entry being decoded plus at most one read block,
    so its memory is bounded by the largest entry whatever the file's size
    (``max_buffered`` records the most bytes held at once). Every declared length and the
    entry count are checked against the bytes the file still has before anything is read.
    Iterating yields (thread_id, entry) pairs in file order, duplicates included, and
    raises ``DecodeError`` (with the file offset) where the bytes stop making sense.
    """

    __slots__ = ("_base", "_block", "_buf", "_size", "_stream", "max_buffered")

    def __init__(self, stream: BinaryIO | None, size: int, block: int = READ_BLOCK,
                 data: Buffer = b"") -> None:
        self._stream, self._size, self._block = stream, size, block
        self._buf = data
        self._base = 0
        """The file offset of ``_buf[0]``."""
        self.max_buffered = len(data)

    @classmethod
    def of_bytes(cls, data: Buffer) -> IndexStream:
        """The whole file already in memory: no reads, the same checks."""
        return cls(None, len(data), data=data)

    def _window(self, pos: int, need: int) -> int:
        """Bring file bytes ``[pos, pos + need)`` into the buffer; their index in it."""
        start = pos - self._base
        if start + need <= len(self._buf):
            return start
        assert self._stream is not None, "an in-memory index is checked against its size"
        parts = [bytes(self._buf[start:])]
        held = len(parts[0])
        while held < need:
            chunk = self._stream.read(max(need - held, self._block))
            if not chunk:
                raise DecodeError(self._base + held, "the file ended early (it shrank while "
                                                     "being read)")
            parts.append(chunk)
            held += len(chunk)
        self._buf = b"".join(parts)
        self._base = pos
        self.max_buffered = max(self.max_buffered, held)
        return 0

    def _u64_at(self, pos: int) -> int:
        remaining = self._size - pos
        if remaining < 8:
            raise DecodeError(pos, f"u64 needs 8 bytes but only {remaining} remain")
        at = self._window(pos, 8)  # before reading self._buf: the window may replace it
        return int(_U64.unpack_from(self._buf, at)[0])

    def _string_at(self, pos: int) -> tuple[str, int]:
        length = self._u64_at(pos)
        remaining = self._size - pos - 8
        if length > remaining:
            raise DecodeError(pos, f"string length {length} exceeds the {remaining} bytes "
                                   "that remain")
        at = self._window(pos, 8 + length) + 8
        try:
            return str(self._buf[at:at + length], "utf-8"), pos + 8 + length
        except UnicodeDecodeError as exc:
            raise DecodeError(pos + 8 + exc.start, "invalid UTF-8 in string") from None

    def __iter__(self) -> Iterator[tuple[str, IndexEntry]]:
        size = self._size
        count = self._u64_at(0)
        if count > (size - 8) // MIN_ENTRY_SIZE:
            raise DecodeError(0, f"element count {count} cannot fit in the {size - 8} bytes "
                                 f"that remain (at least {MIN_ENTRY_SIZE} bytes each)")
        pos = 8
        for _ in range(count):
            thread_id, pos = self._string_at(pos)
            checkpoint_id, pos = self._string_at(pos)
            if size - pos < _TIME.size:
                self._u64_at(pos)
                raise DecodeError(pos + 8, f"u32 needs 4 bytes but only {size - pos - 8} "
                                           "remain")
            at = self._window(pos, _TIME.size)
            secs, nanos = _TIME.unpack_from(self._buf, at)
            if nanos >= NANOS_PER_SEC:
                raise DecodeError(pos + 8, f"nanos {nanos} is not below 1000000000")
            pos += _TIME.size
            yield thread_id, IndexEntry(checkpoint_id, secs, nanos)
        if pos != size:
            raise DecodeError(pos, f"{size - pos} trailing bytes after the value")


def decode_index_entries(data: Buffer) -> list[tuple[str, IndexEntry]]:
    """Every (thread_id, entry) pair in file order, duplicates included."""
    return list(IndexStream.of_bytes(data))


def decode_index(data: Buffer) -> dict[str, IndexEntry]:
    """thread_id -> entry; for a duplicated thread the later entry wins, as in DashFlow."""
    return dict(decode_index_entries(data))


def duplicate_threads(entries: list[tuple[str, IndexEntry]]) -> dict[str, list[IndexEntry]]:
    """Threads that appear more than once, with all their entries in file order."""
    by_thread: dict[str, list[IndexEntry]] = {}
    for thread_id, entry in entries:
        by_thread.setdefault(thread_id, []).append(entry)
    return {thread: found for thread, found in by_thread.items() if len(found) > 1}


def encoded_index_size(entries: Mapping[str, IndexEntry]) -> int:
    """``len(encode_index(entries))`` without building it."""
    size = 8
    for thread_id, entry in entries.items():
        size += MIN_ENTRY_SIZE + len(thread_id.encode()) + len(entry.checkpoint_id.encode())
    return size


def encode_index(entries: Mapping[str, IndexEntry]) -> bytes:
    """Entries sorted by thread id, so the same map always gives the same bytes."""
    parts = [encode_u64(len(entries))]
    for thread_id in sorted(entries):
        entry = entries[thread_id]
        parts.append(encode_string(thread_id))
        parts.append(encode_string(entry.checkpoint_id))
        parts.append(_TIME.pack(entry.secs, entry.nanos))
    return b"".join(parts)
