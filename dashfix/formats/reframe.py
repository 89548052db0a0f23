"""Encode DashStreamMessages the way DashFlow's current producer does (spec 1.2).

Used by replay to turn legacy records (bare protobuf, raw zstd) and file-backend records
into current 0x00/0x01 frames, and frames back into the bare protobuf the file backend
stores.  Header.compression always ends up matching the form: 1 in every header of a
0x01 frame (as DashFlow marks them before compressing), never 1 elsewhere.
"""

from __future__ import annotations

from typing import Any

import zstandard

from dashfix.formats.frame import COMPRESSION_THRESHOLD, FLAG_UNCOMPRESSED, FLAG_ZSTD

COMPRESSION_NONE = 0
COMPRESSION_ZSTD = 1
ZSTD_LEVEL = 3
"""DashFlow's default level; python-zstandard writes the content size, as libzstd does."""

_COMPRESSOR = zstandard.ZstdCompressor(level=ZSTD_LEVEL)


def headers(message: Any) -> list[Any]:
    """Every Header of a message: its own and, for an EventBatch, each inner event's."""
    which = message.WhichOneof("message")
    if which is None:
        return []
    payload = getattr(message, which)
    found = [payload.header]
    if which == "event_batch":
        found.extend(event.header for event in payload.events)
    return found


def _marked(message: Any, compression: int) -> Any:
    """A copy whose headers say ``compression`` wherever they said the other form."""
    copy = type(message)()
    copy.CopyFrom(message)
    for header in headers(copy):
        if (header.compression == COMPRESSION_ZSTD) != (compression == COMPRESSION_ZSTD):
            header.compression = compression
    return copy


def needs_marking(message: Any, compression: int) -> bool:
    return any((h.compression == COMPRESSION_ZSTD) != (compression == COMPRESSION_ZSTD)
               for h in headers(message))


def bare_protobuf(message: Any, body: bytes) -> bytes:
    """What the file/SQLite backend stores: ``body`` (the decoded protobuf of ``message``),
    re-encoded only if a header still says zstd."""
    if not needs_marking(message, COMPRESSION_NONE):
        return body
    encoded: bytes = _marked(message, COMPRESSION_NONE).SerializeToString()
    return encoded


def encode_frame(message: Any, body: bytes) -> bytes:
    """DashFlow's encoder: compress when larger than the threshold and strictly smaller.

    ``body`` is the protobuf of ``message`` as stored; it is kept byte for byte in a 0x00
    frame unless a header has to be unmarked.
    """
    plain = bare_protobuf(message, body)
    if len(plain) > COMPRESSION_THRESHOLD:
        marked: bytes = _marked(message, COMPRESSION_ZSTD).SerializeToString()
        compressed = _COMPRESSOR.compress(marked)
        if len(compressed) < len(plain):
            return bytes([FLAG_ZSTD]) + compressed
    return bytes([FLAG_UNCOMPRESSED]) + plain
