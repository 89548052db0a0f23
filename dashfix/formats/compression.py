"""dashflow-compression framing of a state (spec 4.11): what can be told from the bytes.

No algorithm tag is stored. A zstd frame is certain by its magic; DashFlow writes it with
``zstd::encode_all`` (a stream encoder), so the frame does not declare its content size and
a one-shot decompress that needs it fails: it is decompressed as a stream, in bounded
chunks, and stops at the cap. Anything else is bincode, an lz4 block or a snappy block, which
only a trial decode tells apart (``formats/blocks.py``, with the bounds below, which need no
decoder: ``lz4_declared`` and ``snappy_declared`` say whether a state's first bytes declare a
size its length can decode to).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import NamedTuple

import zstandard

from dashfix.formats.bincode import DecodeError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_DECOMPRESSED = 100 * 1024 * 1024
"""dashflow-compression's DEFAULT_MAX_DECOMPRESSED_SIZE (its backends do not apply it)."""
_CHUNK = 256


LZ4_SIZE_BYTES = 4
"""lz4_flex ``compress_prepend_size``: the uncompressed size as a u32 LE, then the block."""
SNAPPY_VARINT_MAX = 5
"""snap's varint header of a length below 2**32 is at most 5 bytes."""


class Compression(enum.Flag):
    """The dashflow-compression framings a state reads as; ``NONE`` is none of them (the
    state is stored as it is)."""

    NONE = 0
    ZSTD = enum.auto()
    LZ4 = enum.auto()
    SNAPPY = enum.auto()

    @property
    def label(self) -> str:
        return " or ".join(str(member.name).lower() for member in self) or "uncompressed"


class StateFraming(NamedTuple):
    """What a state column's bytes read as: ``reads_as`` is every framing under which they
    decode exactly (NONE for none: an uncompressed state); ``problem`` is why a zstd frame
    (certain by its magic) does not decompress."""

    reads_as: Compression
    problem: DecodeError | None = None


UNCOMPRESSED = StateFraming(Compression.NONE)


def is_zstd(data: bytes | memoryview) -> bool:
    return bytes(data[:4]) == ZSTD_MAGIC


def lz4_declared(data: bytes | memoryview, cap: int = MAX_DECOMPRESSED) -> int | str:
    """The size an lz4_flex state declares, when it is at most ``cap`` and one its block
    can decode to; otherwise why not (a cheap test, no exception: most states fail it).

    An LZ4 block of B bytes yields at most 255 bytes per byte (a match-length byte of 255)
    and at least 255 per 256 bytes, less 2: every byte is a literal, or a sequence's token,
    offset or length byte, and a sequence's match (4 bytes or more from 3) pays for its token
    and offset, so only the length bytes of literal runs (one per 255 literals) and the last
    sequence's token and first length byte yield nothing.
    """
    if len(data) < LZ4_SIZE_BYTES + 1:
        return f"{len(data)} bytes: too short for a size and an LZ4 block"
    size = int.from_bytes(data[:LZ4_SIZE_BYTES], "little")
    block = len(data) - LZ4_SIZE_BYTES
    if size > cap:
        return f"declares {size} bytes, past the {cap}-byte cap"
    if size > 255 * block or 256 * size < 255 * (block - 2):
        return f"declares {size} bytes, which a {block}-byte LZ4 block cannot decode to"
    return size


def lz4_header(data: bytes | memoryview, cap: int = MAX_DECOMPRESSED) -> int:
    """``lz4_declared``, checked before anything is allocated: DecodeError when the size
    is past ``cap`` or out of the block's reach."""
    found = lz4_declared(data, cap)
    if isinstance(found, str):
        raise DecodeError(0, found)
    return found


def snappy_declared(data: bytes | memoryview, cap: int = MAX_DECOMPRESSED,
                    ) -> tuple[int, int] | str:
    """(the size a snappy state's varint declares, the varint's length), when the size is at
    most ``cap`` and one its block can decode to; otherwise why not (no exception).

    A snappy element yields at least 1 byte from at most 6 (a literal of 1 byte with a
    4-byte length) and at most 64 from 3 (a 2-byte-offset copy of 64).
    """
    size = 0
    for at in range(min(len(data), SNAPPY_VARINT_MAX)):
        size |= (data[at] & 0x7F) << (7 * at)
        if data[at] < 0x80:
            break
    else:
        return f"no snappy length varint in the first {SNAPPY_VARINT_MAX} bytes"
    header = at + 1
    block = len(data) - header
    if size > cap:
        return f"declares {size} bytes, past the {cap}-byte cap"
    if 6 * size < block or 3 * size > 64 * block:
        return f"declares {size} bytes, which a {block}-byte snappy block cannot decode to"
    return size, header


def snappy_header(data: bytes | memoryview, cap: int = MAX_DECOMPRESSED) -> tuple[int, int]:
    """``snappy_declared``, checked before anything is allocated: DecodeError when the size
    is past ``cap`` or out of the block's reach."""
    found = snappy_declared(data, cap)
    if isinstance(found, str):
        raise DecodeError(0, found)
    return found


def zstd_chunks(data: bytes, cap: int = MAX_DECOMPRESSED) -> Iterator[bytes]:
    """What the zstd frame in ``data`` decompresses to, piece by piece; DecodeError when it
    is damaged, cut short, followed by other bytes, or decompresses past ``cap``.

    The input goes in ``_CHUNK``-byte pieces: a zstd block yields at most 128 KiB from a
    few bytes, so one piece can never produce more than a few MiB before the cap is checked.
    """
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    total = 0
    at = 0
    try:
        while at < len(data) and not decompressor.eof:
            piece = decompressor.decompress(data[at : at + _CHUNK])
            at += _CHUNK
            total += len(piece)
            if total > cap:
                raise DecodeError(at, f"decompresses past the {cap}-byte cap")
            yield piece
    except zstandard.ZstdError as exc:
        raise DecodeError(at, f"zstd stream does not decompress: {exc}") from None
    if not decompressor.eof:
        raise DecodeError(len(data), "zstd stream is cut short: its last block never ends")
    if decompressor.unused_data:
        raise DecodeError(len(data) - len(decompressor.unused_data),
                          f"{len(decompressor.unused_data)} byte(s) follow the zstd frame")


def zstd_stream_size(data: bytes, cap: int = MAX_DECOMPRESSED) -> int:
    """How many bytes the zstd frame in ``data`` decompresses to (``zstd_chunks``), without
    holding them."""
    return sum(len(piece) for piece in zstd_chunks(data, cap))


def zstd_stream_decompress(data: bytes, cap: int = MAX_DECOMPRESSED) -> bytes:
    """The bytes the zstd frame in ``data`` decompresses to (``zstd_chunks``)."""
    return b"".join(zstd_chunks(data, cap))
