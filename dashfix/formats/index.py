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
from collections.abc import Mapping
from dataclasses import dataclass

from dashfix.formats.bincode import Buffer, DecodeError, Reader, encode_string, encode_u64

NANOS_PER_SEC = 1_000_000_000
# thread len (8) + id len (8) + secs (8) + nanos (4), with both strings empty.
MIN_ENTRY_SIZE = 28

_TIME = struct.Struct("<QI")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    checkpoint_id: str
    secs: int
    nanos: int


def decode_index_entries(data: Buffer) -> list[tuple[str, IndexEntry]]:
    """Every (thread_id, entry) pair in file order, duplicates included."""
    reader = Reader(data)
    count = reader.count(min_element_size=MIN_ENTRY_SIZE)
    entries: list[tuple[str, IndexEntry]] = []
    for _ in range(count):
        thread_id = reader.string()
        checkpoint_id = reader.string()
        secs = reader.u64()
        nanos_at = reader.pos
        nanos = reader.u32()
        if nanos >= NANOS_PER_SEC:
            raise DecodeError(nanos_at, f"nanos {nanos} is not below 1000000000")
        entries.append((thread_id, IndexEntry(checkpoint_id, secs, nanos)))
    reader.expect_end()
    return entries


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
