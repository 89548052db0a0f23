"""The dashflow-compression zstd reader: a stream without a content size, bounded output."""

from __future__ import annotations

import contextlib
import resource

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats.bincode import DecodeError
from dashfix.formats.compression import is_zstd, zstd_stream_size

# zstd::encode_all is a stream encoder: its frame does not declare its content size.
ENCODE_ALL = zstandard.ZstdCompressor(level=3, write_content_size=False)


@given(st.binary(max_size=4096))
def test_size_of_any_stream_frame(payload: bytes) -> None:
    frame = ENCODE_ALL.compress(payload)
    assert is_zstd(frame)
    assert zstd_stream_size(frame) == len(payload)


@given(st.binary(min_size=1, max_size=2048), st.data())
def test_damage_is_a_decode_error_never_a_crash(payload: bytes, data: st.DataObject) -> None:
    frame = bytearray(ENCODE_ALL.compress(payload))
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    with pytest.raises(DecodeError):
        zstd_stream_size(bytes(frame[:cut]))
    at = data.draw(st.integers(min_value=4, max_value=len(frame) - 1))
    frame[at] ^= data.draw(st.integers(min_value=1, max_value=255))
    # A flipped byte may still decode (zstd carries no checksum here), but only ever to a
    # size or a DecodeError: never another exception.
    with contextlib.suppress(DecodeError):
        assert zstd_stream_size(bytes(frame)) >= 0


def test_trailing_bytes_and_the_cap() -> None:
    frame = ENCODE_ALL.compress(b"abc" * 1000)
    with pytest.raises(DecodeError, match="follow the zstd frame"):
        zstd_stream_size(frame + b"\0")
    with pytest.raises(DecodeError, match="past the 2999-byte cap"):
        zstd_stream_size(frame, cap=2999)
    assert zstd_stream_size(frame, cap=3000) == 3000


def test_a_bomb_stops_at_the_cap_without_holding_its_output() -> None:
    compressor = ENCODE_ALL.compressobj()
    zeros = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(zeros) for _ in range(300)) + compressor.flush()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DecodeError, match="cap"):
        zstd_stream_size(bomb)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 32 * 1024
