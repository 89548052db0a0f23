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

from dashfix import native

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


Record = tuple[int, int, bytes | None]
"""``(record_index, byte_offset, value | None)``."""
BLOCK_RECORDS = 1024
"""Records per block of ``read_blocks`` at most."""


def read_blocks(
    stream: BinaryIO, total_size: int, *, max_value_bytes: int, start: int = 0,
    first_index: int = 0, end: int | None = None,
) -> Iterator[list[Record] | KcatProblem]:
    """Yield the records in blocks (lists of up to ``BLOCK_RECORDS`` records, in order),
    or a problem.

    ``total_size`` is the capture's size (from ``fstat``): a length prefix is compared with
    the bytes actually left before anything is read.  A truncated capture or a negative
    length ends the walk, since the next record boundary is unknown; an oversize value is
    reported and skipped unread.  ``start`` / ``first_index`` / ``end`` read one run of
    records whose boundaries ``find_boundary`` found: from the record at byte ``start``
    (number ``first_index``) up to the record boundary ``end`` (None: the end of the
    capture).  Values are sliced from reads of ``_CHUNK`` bytes (more for a larger value):
    a loop over a buffer costs fewer Python steps per record than a read per record, and
    the C helper ``split_kcat`` (``dashfix.native``), where built, takes the records that
    lie whole in the buffer in one call; the loop below reads the others.
    """
    split = None if native.MODULE is None else native.MODULE.split_kcat
    read = stream.read
    unpack_from = PREFIX.unpack_from
    offset = start  # of the record at buffer[at]
    index = first_index
    stream.seek(start)
    stop = (1 << 63) if end is None else end
    buffer = b""
    at = 0
    block: list[Record] = []
    problem: KcatProblem | None = None  # the one that ends the walk
    while offset < stop:
        if split is not None:
            taken = len(block)
            bound = at + min(total_size, stop) - offset  # where the records may end
            moved = split(buffer, at, max(at, min(len(buffer), bound)), max_value_bytes,
                          index, offset, block, BLOCK_RECORDS) - at
            if moved:
                index += len(block) - taken
                offset += moved
                at += moved
                if len(block) >= BLOCK_RECORDS:
                    yield block
                    block = []
                continue
        remaining = total_size - offset - 4
        if remaining < 0:
            if remaining > -4:
                problem = KcatProblem(KcatFault.TRUNCATED_PREFIX, index, offset, None,
                                      remaining + 4)
            break
        if len(buffer) - at < 4:
            buffer, at = buffer[at:] + read(max(_CHUNK, 4)), 0
            if len(buffer) < 4:  # the capture shrank after its fstat
                problem = KcatProblem(KcatFault.TRUNCATED_PREFIX, index, offset, None,
                                      len(buffer))
                break
        (length,) = unpack_from(buffer, at)
        if 0 <= length <= max_value_bytes and length <= remaining:
            value_end = at + 4 + length
            if value_end > len(buffer):
                buffer, at = buffer[at:] + read(max(_CHUNK, value_end - len(buffer))), 0
                value_end = 4 + length
                if value_end > len(buffer):  # the capture shrank after its fstat
                    problem = KcatProblem(KcatFault.TRUNCATED_VALUE, index, offset, length,
                                          len(buffer) - 4)
                    break
            block.append((index, offset, buffer[at + 4:value_end]))
            at = value_end
        elif length == NULL_LENGTH:
            block.append((index, offset, None))
            length = 0
            at += 4
        elif length < 0:
            problem = KcatProblem(KcatFault.NEGATIVE_LENGTH, index, offset, length, remaining)
            break
        elif length > remaining:
            problem = KcatProblem(KcatFault.TRUNCATED_VALUE, index, offset, length, remaining)
            break
        else:
            if block:
                yield block
                block = []
            yield KcatProblem(KcatFault.OVERSIZE, index, offset, length, remaining)
            stream.seek(offset + 4 + length)
            buffer, at = b"", 0
        offset += 4 + length
        index += 1
        if len(block) >= BLOCK_RECORDS:
            yield block
            block = []
    if block:
        yield block
    if problem is not None:
        yield problem


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
