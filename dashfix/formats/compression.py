"""dashflow-compression framing of a state (spec 4.11): what can be told from the bytes.

No algorithm tag is stored. A zstd frame is certain by its magic; DashFlow writes it with
``zstd::encode_all`` (a stream encoder), so the frame does not declare its content size and
a one-shot decompress that needs it fails: it is decompressed as a stream, in bounded
chunks, and stops at the cap. Anything else is bincode or lz4/snappy, which only a trial
decode with the state's type could tell apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import zstandard

from dashfix.formats.bincode import DecodeError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_DECOMPRESSED = 100 * 1024 * 1024
"""dashflow-compression's DEFAULT_MAX_DECOMPRESSED_SIZE (its backends do not apply it)."""
_CHUNK = 256


def is_zstd(data: bytes | memoryview) -> bool:
    return bytes(data[:4]) == ZSTD_MAGIC


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
