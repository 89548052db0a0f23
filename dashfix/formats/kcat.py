"""kcat binary captures written with ``-f '%R%s'``: big-endian i32 length, then the value.

A length of -1 is a null value.  The reader streams through the caller's buffered file
and never reads a value larger than the caller's cap: an oversize value is skipped by
seeking.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

NULL_LENGTH = -1
PREFIX = struct.Struct(">i")
_CHUNK = 1 << 20


class KcatFault(StrEnum):
    TRUNCATED_PREFIX = "truncated-prefix"
    TRUNCATED_VALUE = "truncated-value"
    NEGATIVE_LENGTH = "negative-length"
    OVERSIZE = "oversize"


@dataclass(frozen=True, slots=True)
class KcatProblem:
    fault: KcatFault
    index: int
    offset: int
    """Byte offset of the record's length prefix."""
    length: int | None
    remaining: int
    """Bytes left in the capture after the prefix (after the offset for a cut prefix)."""


def encode_record(value: bytes | None) -> bytes:
    if value is None:
        return PREFIX.pack(NULL_LENGTH)
    return PREFIX.pack(len(value)) + value


def read_records(
    stream: BinaryIO, total_size: int, *, max_value_bytes: int, start: int = 0,
    first_index: int = 0, end: int | None = None,
) -> Iterator[tuple[int, int, bytes | None] | KcatProblem]:
    """Yield ``(record_index, byte_offset, value | None)`` or a problem.

    ``total_size`` is the capture's size (from ``fstat``): a length prefix is compared with
    the bytes actually left before anything is read.  A truncated capture or a negative
    length ends the walk, since the next record boundary is unknown; an oversize value is
    reported and skipped.  ``start`` / ``first_index`` / ``end`` read one run of records
    whose boundaries ``find_boundary`` found: from the record at byte ``start`` (number
    ``first_index``) up to the record boundary ``end`` (None: the end of the capture).
    """
    read = stream.read
    unpack = PREFIX.unpack
    offset = start
    index = first_index
    if start:
        stream.seek(start)
    stop = (1 << 63) if end is None else end  # an open run ends where the data does
    # One buffered read per prefix and per value (the caller's stream buffers): fewer
    # Python steps per record than slicing our own chunks.
    while offset < stop:
        prefix = read(4)
        if len(prefix) < 4:
            if prefix:
                yield KcatProblem(KcatFault.TRUNCATED_PREFIX, index, offset, None, len(prefix))
            return
        (length,) = unpack(prefix)
        remaining = total_size - offset - 4
        if 0 <= length <= max_value_bytes and length <= remaining:
            yield index, offset, read(length)
        elif length == NULL_LENGTH:
            yield index, offset, None
            length = 0
        elif length < 0:
            yield KcatProblem(KcatFault.NEGATIVE_LENGTH, index, offset, length, remaining)
            return
        elif length > remaining:
            yield KcatProblem(KcatFault.TRUNCATED_VALUE, index, offset, length, remaining)
            return
        else:
            yield KcatProblem(KcatFault.OVERSIZE, index, offset, length, remaining)
            stream.seek(length, 1)
        offset += 4 + length
        index += 1


def find_boundary(read_at: Callable[[int, int], bytes], start: int, count: int,
                  total_size: int) -> int | None:
    """Byte offset of the record ``count`` records after the one at ``start``, or None when
    the capture ends (or is damaged: a cut or negative length prefix) before that.

    Only length prefixes are read, in ``_CHUNK`` reads through ``read_at(size, offset)``
    (``os.pread`` on the capture), so the walk costs no more memory than one chunk.
    """
    unpack = PREFIX.unpack_from
    base = start  # absolute offset of buffer[0]
    buffer = b""
    at = 0
    last = -4  # the last position in buffer where a whole prefix starts
    while count:
        if at > last:
            base += at
            if base >= total_size:  # a value ran past the end, or the capture ended
                return None
            buffer = read_at(_CHUNK, base)
            at = 0
            last = len(buffer) - 4
            if last < 0:
                return None
        (length,) = unpack(buffer, at)
        if length < 0:
            if length != NULL_LENGTH:
                return None
            length = 0
        at += 4 + length
        count -= 1
    end = base + at
    return end if end < total_size else None
