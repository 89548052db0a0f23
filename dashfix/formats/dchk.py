"""The 20-byte DCHK integrity header of FileCheckpointer files (spec 2.2).

Layout: ``b"DCHK"`` + u32 version + u32 CRC-32 of the payload + u64 payload length, all
little-endian. ``verify`` mirrors DashFlow's ``CheckpointWithIntegrity::unwrap``: the same
checks in the same order, the same error names and message texts.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

HEADER_SIZE = 20
MAGIC = b"DCHK"
SUPPORTED_VERSION = 1

_HEADER = struct.Struct("<4sIIQ")
_BODY = struct.Struct("<IIQ")

MAGIC_OFFSET = 0
VERSION_OFFSET = 4
CRC_OFFSET = 8
LENGTH_OFFSET = 12

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class Header:
    magic: bytes
    version: int
    crc: int
    length: int


class IntegrityErrorKind(enum.Enum):
    """DashFlow's ``CheckpointIntegrityError`` variant names."""

    FILE_TOO_SMALL = "FileTooSmall"
    INVALID_MAGIC = "InvalidMagic"
    UNSUPPORTED_VERSION = "UnsupportedVersion"
    LENGTH_MISMATCH = "LengthMismatch"
    CHECKSUM_MISMATCH = "ChecksumMismatch"


@dataclass(frozen=True, slots=True)
class IntegrityError:
    """One failed header check. ``offset`` is the header field that failed (0 for size)."""

    kind: IntegrityErrorKind
    message: str
    offset: int
    expected: int | bytes
    actual: int | bytes


def crc32(payload: Buffer) -> int:
    """CRC-32/ISO-HDLC, which is what crc32fast computes."""
    return zlib.crc32(payload) & 0xFFFFFFFF


def parse_header(data: Buffer) -> Header | None:
    if len(data) < HEADER_SIZE:
        return None
    magic, version, crc, length = _HEADER.unpack_from(data, 0)
    return Header(bytes(magic), version, crc, length)


def is_wrapped(data: Buffer) -> bool:
    """DashFlow's own test: at least 4 bytes and the DCHK magic. Everything else is legacy."""
    return len(data) >= 4 and bytes(data[:4]) == MAGIC


def _rust_bytes(raw: bytes) -> str:
    # DashFlow formats the magic arrays with Rust's {:?}, e.g. [68, 67, 72, 75].
    return "[" + ", ".join(str(b) for b in raw) + "]"


def verify(data: Buffer) -> IntegrityError | None:
    """Run DashFlow's checks in DashFlow's order; None means the file would load.

    Version 0 passes, exactly as in DashFlow (it only rejects versions above 1); callers
    that want to report it look at ``parse_header(data).version``.
    """
    size = len(data)
    if size < HEADER_SIZE:
        return IntegrityError(
            IntegrityErrorKind.FILE_TOO_SMALL,
            f"Checkpoint file too small: {size} bytes (minimum {HEADER_SIZE} bytes)",
            MAGIC_OFFSET,
            HEADER_SIZE,
            size,
        )
    magic, version, stored_crc, declared = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        return IntegrityError(
            IntegrityErrorKind.INVALID_MAGIC,
            "Invalid checkpoint magic bytes: expected "
            f"{_rust_bytes(MAGIC)}, found {_rust_bytes(magic)}",
            MAGIC_OFFSET,
            MAGIC,
            bytes(magic),
        )
    if version > SUPPORTED_VERSION:
        return IntegrityError(
            IntegrityErrorKind.UNSUPPORTED_VERSION,
            "Unsupported checkpoint format version: "
            f"found {version}, supported up to {SUPPORTED_VERSION}",
            VERSION_OFFSET,
            SUPPORTED_VERSION,
            version,
        )
    actual = size - HEADER_SIZE
    if declared != actual:
        return IntegrityError(
            IntegrityErrorKind.LENGTH_MISMATCH,
            f"Checkpoint length mismatch: declared {declared} bytes, actual {actual} bytes",
            LENGTH_OFFSET,
            declared,
            actual,
        )
    view = data if isinstance(data, memoryview) else memoryview(data)
    computed = crc32(view[HEADER_SIZE:])
    if computed != stored_crc:
        return IntegrityError(
            IntegrityErrorKind.CHECKSUM_MISMATCH,
            "Checkpoint checksum mismatch (data corruption): "
            f"expected 0x{stored_crc:08X}, computed 0x{computed:08X}",
            CRC_OFFSET,
            stored_crc,
            computed,
        )
    return None


def has_damaged_magic(data: Buffer) -> bool:
    """True when only the magic is wrong: version 1, exact length and a matching CRC."""
    if len(data) < HEADER_SIZE or bytes(data[:4]) == MAGIC:
        return False
    version, stored_crc, declared = _BODY.unpack_from(data, VERSION_OFFSET)
    if version != SUPPORTED_VERSION or declared != len(data) - HEADER_SIZE:
        return False
    view = data if isinstance(data, memoryview) else memoryview(data)
    return bool(crc32(view[HEADER_SIZE:]) == stored_crc)


def encode_header(
    payload: Buffer,
    version: int = SUPPORTED_VERSION,
    *,
    magic: bytes = MAGIC,
    crc: int | None = None,
    length: int | None = None,
) -> bytes:
    """The 20 header bytes for ``payload``; keyword overrides build deliberately bad headers."""
    return _HEADER.pack(
        magic,
        version,
        crc32(payload) if crc is None else crc,
        len(payload) if length is None else length,
    )


def wrap(payload: bytes, version: int = SUPPORTED_VERSION) -> bytes:
    return encode_header(payload, version) + payload


def payload_of(data: Buffer) -> memoryview:
    """The bytes after the header, without copying."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    return view[HEADER_SIZE:]
