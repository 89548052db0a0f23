"""DashStream codec frames: flag byte triage, the zstd guard and the bounded protobuf parse.

Pure bytes -> values.  Every size is checked against the caller's cap before anything is
allocated or decompressed: python-zstandard honours neither ``max_output_size`` nor any
other bound when a frame declares its content size, so the declared size is read from the
zstd frame header by hand (and the frame walked block by block to find its end) first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import zstandard
from google.protobuf.message import DecodeError

from dashfix.formats.proto import dashstream_pb2

FLAG_UNCOMPRESSED = 0x00
FLAG_ZSTD = 0x01
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COMPRESSION_THRESHOLD = 512
"""DashFlow compresses only messages strictly larger than this (default, configurable)."""
MAX_MESSAGE_DEPTH = 100
"""Message nesting that prost and Python protobuf both refuse to exceed."""
MAX_VARINT_BYTES = 10

# Canonical DashStreamMessage encodings start with the LEN tag of oneof field 1..9.
LEGACY_PROTOBUF_FIRST_BYTES = frozenset((n << 3) | 2 for n in range(1, 10))


class FrameKind(StrEnum):
    """What the first bytes of a record value say it is (spec section 1.4)."""

    EMPTY = "empty"
    UNCOMPRESSED = "framed-uncompressed"
    ZSTD = "framed-zstd"
    LEGACY_PROTOBUF = "legacy-protobuf"
    LEGACY_ZSTD = "legacy-zstd"
    JSON = "json"
    INVALID = "invalid"


def classify(value: bytes) -> FrameKind:
    if not value:
        return FrameKind.EMPTY
    first = value[0]
    if first == FLAG_UNCOMPRESSED:
        return FrameKind.UNCOMPRESSED
    if first == FLAG_ZSTD:
        return FrameKind.ZSTD
    if first in LEGACY_PROTOBUF_FIRST_BYTES:
        return FrameKind.LEGACY_PROTOBUF
    if value[:4] == ZSTD_MAGIC:
        return FrameKind.LEGACY_ZSTD
    if first in (0x7B, 0x5B):
        return FrameKind.JSON
    return FrameKind.INVALID


class ZstdFault(StrEnum):
    BAD_MAGIC = "bad-magic"
    NO_CONTENT_SIZE = "no-content-size"
    DECLARED_OVERSIZE = "declared-oversize"
    TRAILING_DATA = "trailing-data"
    CORRUPT = "corrupt"


@dataclass(frozen=True, slots=True)
class ZstdProblem:
    fault: ZstdFault
    message: str
    offset: int
    """Byte offset inside the zstd data where the problem sits."""
    expected: str | None = None
    actual: str | None = None


@dataclass(frozen=True, slots=True)
class ZstdFrameInfo:
    content_size: int | None
    """Declared decompressed size; None when the header does not declare it."""
    frame_length: int
    """Bytes of the first frame (header, blocks, checksum)."""


_FCS_BYTES = (0, 2, 4, 8)
_DICT_ID_BYTES = (0, 1, 2, 4)
_BLOCK_RESERVED = 3
_BLOCK_RLE = 1


def zstd_frame_info(data: bytes | memoryview) -> ZstdFrameInfo | ZstdProblem:
    """Parse one zstd frame header and walk its block headers (RFC 8878 section 3.1.1).

    Nothing is decompressed; the walk only adds block sizes, each checked against the
    bytes present.
    """
    size = len(data)
    if size < 6 or bytes(data[:4]) != ZSTD_MAGIC:
        return ZstdProblem(
            ZstdFault.BAD_MAGIC, "zstd data does not start with the magic 28 b5 2f fd", 0,
            expected="28b52ffd", actual=bytes(data[:4]).hex(),
        )
    descriptor = data[4]
    fcs_flag = descriptor >> 6
    single_segment = (descriptor >> 5) & 1
    has_checksum = (descriptor >> 2) & 1
    if descriptor & 0x08:
        return ZstdProblem(ZstdFault.CORRUPT, "zstd frame header has its reserved bit set", 4)
    pos = 5 + (0 if single_segment else 1) + _DICT_ID_BYTES[descriptor & 3]
    fcs_size = _FCS_BYTES[fcs_flag] or (1 if single_segment else 0)
    if pos + fcs_size > size:
        return ZstdProblem(
            ZstdFault.CORRUPT, "zstd frame header is cut off", size,
            expected=f">= {pos + fcs_size} bytes", actual=f"{size} bytes",
        )
    content_size: int | None = None
    if fcs_size:
        content_size = int.from_bytes(data[pos:pos + fcs_size], "little")
        if fcs_size == 2:
            content_size += 256
    pos += fcs_size
    while True:
        if pos + 3 > size:
            return ZstdProblem(
                ZstdFault.CORRUPT, "zstd frame ends inside a block header", size,
                expected=f"{pos + 3} bytes", actual=f"{size} bytes",
            )
        header = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16)
        block_type = (header >> 1) & 3
        if block_type == _BLOCK_RESERVED:
            return ZstdProblem(ZstdFault.CORRUPT, "zstd block has the reserved type 3", pos)
        block_bytes = 1 if block_type == _BLOCK_RLE else header >> 3
        end = pos + 3 + block_bytes
        if end > size:
            return ZstdProblem(
                ZstdFault.CORRUPT, "zstd block runs past the end of the data", pos,
                expected=f"{end} bytes", actual=f"{size} bytes",
            )
        pos = end
        if header & 1:
            break
    pos += 4 * has_checksum
    if pos > size:
        return ZstdProblem(ZstdFault.CORRUPT, "zstd frame checksum is cut off", size)
    return ZstdFrameInfo(content_size, pos)


_DECOMPRESSOR = zstandard.ZstdDecompressor()


def guarded_decompress(data: bytes, limit: int) -> bytes | ZstdProblem:
    """Decompress exactly one zstd frame whose declared size is present and ``<= limit``.

    The declared size is checked before decompressing (so a frame declaring 512 MiB costs
    nothing); python-zstandard then allocates exactly the declared size and fails if the
    frame decodes to a different length.
    """
    info = zstd_frame_info(data)
    if isinstance(info, ZstdProblem):
        return info
    if info.content_size is None:
        return ZstdProblem(
            ZstdFault.NO_CONTENT_SIZE,
            "zstd frame does not declare its content size (DashFlow frames always do)", 4,
        )
    if info.content_size > limit:
        return ZstdProblem(
            ZstdFault.DECLARED_OVERSIZE,
            f"zstd frame declares {info.content_size} decompressed bytes, over the {limit}-byte "
            "cap; not decompressed",
            4, expected=f"<= {limit}", actual=str(info.content_size),
        )
    if info.frame_length != len(data):
        return ZstdProblem(
            ZstdFault.TRAILING_DATA,
            f"{len(data) - info.frame_length} byte(s) follow the zstd frame (a second frame or "
            "garbage); DashFlow writes exactly one frame",
            info.frame_length, expected=f"{info.frame_length} bytes", actual=f"{len(data)} bytes",
        )
    try:
        out: bytes = _DECOMPRESSOR.decompress(data)
    except zstandard.ZstdError as exc:
        return ZstdProblem(ZstdFault.CORRUPT, f"zstd decompression failed: {exc}", 0)
    if len(out) != info.content_size:
        return ZstdProblem(
            ZstdFault.CORRUPT, "zstd frame decompressed to a different size than it declares", 0,
            expected=str(info.content_size), actual=str(len(out)),
        )
    return out


class WireFault(StrEnum):
    VARINT_TOO_LONG = "varint-too-long"
    TOO_DEEP = "too-deep"
    TRUNCATED = "truncated"
    BAD_WIRE_TYPE = "bad-wire-type"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class WireProblem:
    fault: WireFault
    message: str
    offset: int
    """Byte offset inside the protobuf bytes."""


class _WireError(Exception):
    def __init__(self, problem: WireProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise _WireError(WireProblem(WireFault.TRUNCATED, "varint runs past the end", start))
        byte = data[pos]
        pos += 1
        if pos - start > MAX_VARINT_BYTES or (pos - start == MAX_VARINT_BYTES and byte > 1):
            raise _WireError(
                WireProblem(
                    WireFault.VARINT_TOO_LONG,
                    f"varint longer than {MAX_VARINT_BYTES} bytes (or over 64 bits)", start,
                )
            )
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _walk(data: bytes, pos: int, end: int, descriptor: Any, depth: int) -> None:
    if depth > MAX_MESSAGE_DEPTH:
        raise _WireError(
            WireProblem(
                WireFault.TOO_DEEP,
                f"messages nest deeper than {MAX_MESSAGE_DEPTH} levels (nested AttributeValue?); "
                "DashFlow's decoder refuses this too",
                pos,
            )
        )
    while pos < end:
        tag_at = pos
        tag, pos = _varint(data, pos, end)
        wire_type = tag & 7
        if tag >> 3 == 0:
            raise _WireError(WireProblem(WireFault.INVALID, "field number 0", tag_at))
        if wire_type == 0:
            _, pos = _varint(data, pos, end)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            length, pos = _varint(data, pos, end)
            if pos + length > end:
                raise _WireError(
                    WireProblem(
                        WireFault.TRUNCATED,
                        f"length-delimited field of {length} bytes runs past the end "
                        f"({end - pos} bytes left)",
                        tag_at,
                    )
                )
            field = None if descriptor is None else descriptor.fields_by_number.get(tag >> 3)
            if field is not None and field.message_type is not None:
                _walk(data, pos, pos + length, field.message_type, depth + 1)
            pos += length
        else:
            raise _WireError(
                WireProblem(WireFault.BAD_WIRE_TYPE, f"unsupported wire type {wire_type}", tag_at)
            )
        if pos > end:
            raise _WireError(WireProblem(WireFault.TRUNCATED, "fixed-size field cut off", tag_at))


def diagnose_protobuf(data: bytes) -> WireProblem | None:
    """Find the structural fault in bytes the protobuf runtime rejected (schema-guided walk).

    Only run after a failed parse, so it costs nothing on healthy records; its recursion is
    bounded by MAX_MESSAGE_DEPTH.
    """
    try:
        _walk(data, 0, len(data), dashstream_pb2.DashStreamMessage.DESCRIPTOR, 1)
    except _WireError as exc:
        return exc.problem
    return None


def parse_message(data: bytes) -> Any | WireProblem:
    """Parse a DashStreamMessage; on failure say where and why."""
    message = dashstream_pb2.DashStreamMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        found = diagnose_protobuf(data)
        if found is not None:
            return found
        return WireProblem(WireFault.INVALID, f"protobuf parse failed: {exc}", 0)
    return message


def top_level_fields(data: bytes) -> Iterator[tuple[int, int]]:
    """``(field number, byte offset)`` of each top-level field; stops at the first fault."""
    pos = 0
    end = len(data)
    try:
        while pos < end:
            at = pos
            tag, pos = _varint(data, pos, end)
            wire_type = tag & 7
            if wire_type == 0:
                _, pos = _varint(data, pos, end)
            elif wire_type == 2:
                length, pos = _varint(data, pos, end)
                pos += length
            else:
                pos += {1: 8, 5: 4}.get(wire_type, end)
            yield tag >> 3, at
    except _WireError:
        return


def single_field_message(data: bytes) -> bool:
    """True when ``data`` is exactly one length-delimited top-level field (the usual shape).

    A cheap test done on every record: a second oneof member or unknown field makes it
    False, and then ``top_level_fields`` says which.
    """
    end = len(data)
    if end < 2 or data[0] & 7 != 2:
        return False
    if data[0] < 0x80:  # the usual one-byte tag: decode short lengths inline
        if data[1] < 0x80:
            return 2 + data[1] == end
        if end > 2 and data[2] < 0x80:
            return 3 + (data[1] & 0x7F | data[2] << 7) == end
    pos = 1
    while data[pos - 1] & 0x80:
        if pos >= end or pos > MAX_VARINT_BYTES:
            return False
        pos += 1
    length = 0
    shift = 0
    start = pos
    while pos < end:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            return pos + length == end
        if pos - start >= MAX_VARINT_BYTES:
            return False
        shift += 7
    return False
