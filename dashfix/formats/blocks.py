"""lz4 and snappy states of dashflow-compression (spec 4.11), and the trial decode that tells
them from an uncompressed state.

- lz4: lz4_flex ``compress_prepend_size``: a u32 LE uncompressed size, then a raw LZ4 block.
- snappy: ``snap::raw``: a varint uncompressed size, then a raw snappy block.

Neither carries a magic or a checksum, so a state is one of them only when it **decodes
exactly**: its header declares a size its length can decode to (``lz4_declared``,
``snappy_declared``: checked before anything is allocated, and at most the 100 MiB cap), and
its block then decodes to exactly that many bytes with no input left over. The decoders are
cramjam's (the snap crate, DashFlow's own snappy decoder, and the LZ4 reference decoder),
into a buffer dashfix allocates at the declared size, so they cannot allocate more and their
work is linear in what they write.

An uncompressed state is bincode of the application's state, whose type dashfix does not
know; the rules above are what keeps it from reading as lz4 or snappy. When it starts with a
u64 below 2**32 (a String's or a Vec's length, a count), bytes 4 to 7 are zeros: as LZ4 that
is a first sequence with no literal and a match into nothing, which never decodes; as snappy
a small count declares far fewer bytes than the rest of the state holds (a block yields at
least one byte per six). Other states may, rarely, read as one of them: the store's check
(DB507) compares each state with the compression most of the store's states read as.
"""

from __future__ import annotations

from collections.abc import Iterator

import cramjam

from dashfix.formats.bincode import DecodeError
from dashfix.formats.compression import (
    LZ4_SIZE_BYTES,
    MAX_DECOMPRESSED,
    UNCOMPRESSED,
    Compression,
    StateFraming,
    is_zstd,
    lz4_declared,
    lz4_header,
    snappy_declared,
    snappy_header,
    zstd_stream_decompress,
    zstd_stream_size,
)


def lz4_decompress(data: bytes | memoryview, cap: int = MAX_DECOMPRESSED) -> bytearray:
    """What the lz4_flex state ``data`` decompresses to; DecodeError when its size is past
    ``cap`` or out of its block's reach, or its block does not decode to exactly that size."""
    size = lz4_header(data, cap)
    out = bytearray(size)
    try:
        written = cramjam.lz4.decompress_block_into(bytes(data[LZ4_SIZE_BYTES:]), out)
    except cramjam.DecompressionError as exc:
        raise DecodeError(LZ4_SIZE_BYTES, f"the LZ4 block does not decode to the {size} "
                          f"bytes it declares ({exc})") from None
    if written != size:
        raise DecodeError(len(data), f"the LZ4 block decodes to {written} bytes, not the "
                          f"{size} it declares")
    return out


def snappy_decompress(data: bytes | memoryview, cap: int = MAX_DECOMPRESSED) -> bytearray:
    """What the snappy state ``data`` decompresses to; DecodeError when its size is past
    ``cap`` or out of its block's reach, or its block does not decode to exactly that size."""
    size, header = snappy_header(data, cap)
    out = bytearray(size)
    try:
        written = cramjam.snappy.decompress_raw_into(bytes(data), out)
    except cramjam.DecompressionError as exc:
        raise DecodeError(header, f"the snappy block does not decode to the {size} bytes it "
                          f"declares ({exc})") from None
    if written != size:  # snap itself refuses this; kept so the rule does not rest on it
        raise DecodeError(len(data), f"the snappy block decodes to {written} bytes, not the "
                          f"{size} it declares")
    return out


_TRIALS = ((Compression.LZ4, lz4_declared, lz4_decompress),
           (Compression.SNAPPY, snappy_declared, snappy_decompress))
"""Each framing a trial decode tries: its cheap header test, then its decoder."""


def needs_trial(state: bytes, cap: int = MAX_DECOMPRESSED) -> bool:
    """Whether ``state_framing`` has anything to try on ``state``: the zstd magic, or a
    header lz4 or snappy accepts. When not, it reads as ``UNCOMPRESSED`` with no decoding (a
    cheap test, for a source that takes such states on a plain path)."""
    return is_zstd(state) or any(not isinstance(declared(state, cap), str)
                                 for _, declared, _ in _TRIALS)


def state_framing(state: bytes, cap: int = MAX_DECOMPRESSED) -> StateFraming:
    """What a state column's bytes read as: zstd by its magic (with the problem when it does
    not decompress within ``cap``), else every framing under which it decodes exactly, else
    uncompressed."""
    if is_zstd(state):
        try:
            zstd_stream_size(state, cap)
        except DecodeError as exc:
            return StateFraming(Compression.ZSTD, exc)
        return StateFraming(Compression.ZSTD)
    reads_as = Compression.NONE
    for compression, declared, decompress in _TRIALS:
        if isinstance(declared(state, cap), str):
            continue
        try:
            decompress(state, cap)
        except DecodeError:
            continue
        reads_as |= compression
    return StateFraming(reads_as) if reads_as else UNCOMPRESSED


def decodings(data: bytes, cap: int = MAX_DECOMPRESSED,
              ) -> Iterator[tuple[Compression, bytes | DecodeError]]:
    """Each way ``data`` may be stored, with what it holds that way or why it does not
    decode: zstd alone when it starts with the magic, else as it is, then lz4 and snappy
    when their header fits (a header that does not is another framing, not a damaged one).
    For a reader that knows what the bytes must hold (an S3 object, a whole checkpoint
    payload) and takes the first reading that parses."""
    if is_zstd(data):
        try:
            yield Compression.ZSTD, zstd_stream_decompress(data, cap)
        except DecodeError as exc:
            yield Compression.ZSTD, exc
        return
    yield Compression.NONE, data
    for compression, declared, decompress in _TRIALS:
        if isinstance(declared(data, cap), str):
            continue
        try:
            yield compression, bytes(decompress(data, cap))
        except DecodeError as exc:
            yield compression, exc
