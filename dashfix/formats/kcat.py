"""kcat binary captures written with ``-f '%R%s'``: big-endian i32 length, then the value.

A length of -1 is a null value.  The reader streams fixed-size chunks and never reads a
value larger than the caller's cap: an oversize value is skipped by seeking.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
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
    stream: BinaryIO, total_size: int, *, max_value_bytes: int
) -> Iterator[tuple[int, int, bytes | None] | KcatProblem]:
    """Yield ``(record_index, byte_offset, value | None)`` or a problem.

    ``total_size`` is the capture's size (from ``fstat``): a length prefix is compared with
    the bytes actually left before anything is read.  A truncated capture or a negative
    length ends the walk, since the next record boundary is unknown; an oversize value is
    reported and skipped.
    """
    buffer = b""
    pos = 0
    base = 0  # absolute offset of buffer[0]
    index = 0
    unpack = PREFIX.unpack_from
    while True:
        if len(buffer) - pos < 4:
            buffer = buffer[pos:] + stream.read(_CHUNK)
            base += pos
            pos = 0
            if not buffer:
                return
            if len(buffer) < 4:
                yield KcatProblem(KcatFault.TRUNCATED_PREFIX, index, base, None, len(buffer))
                return
        offset = base + pos
        (length,) = unpack(buffer, pos)
        pos += 4
        remaining = total_size - offset - 4
        if length == NULL_LENGTH:
            yield index, offset, None
        elif length < 0:
            yield KcatProblem(KcatFault.NEGATIVE_LENGTH, index, offset, length, remaining)
            return
        elif length > remaining:
            yield KcatProblem(KcatFault.TRUNCATED_VALUE, index, offset, length, remaining)
            return
        elif length > max_value_bytes:
            yield KcatProblem(KcatFault.OVERSIZE, index, offset, length, remaining)
            skip = length - (len(buffer) - pos)
            if skip > 0:
                stream.seek(skip, 1)
                base += len(buffer)
                buffer = b""
                pos = 0
            else:
                pos += length
        else:
            end = pos + length
            if end > len(buffer):
                buffer = buffer[pos:] + stream.read(max(_CHUNK, length - (len(buffer) - pos)))
                base += pos
                pos = 0
                end = length
            yield index, offset, buffer[pos:end]
            pos = end
        index += 1
