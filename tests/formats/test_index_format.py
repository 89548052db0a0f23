from __future__ import annotations

import contextlib
import io
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats.bincode import DecodeError, encode_string
from dashfix.formats.index import (
    READ_BLOCK,
    IndexEntry,
    IndexStream,
    decode_index,
    decode_index_entries,
    duplicate_threads,
    encode_index,
)


def _entry(thread: str, checkpoint_id: str, secs: int, nanos: int) -> bytes:
    return (
        encode_string(thread) + encode_string(checkpoint_id) + struct.pack("<QI", secs, nanos)
    )


def test_encode_is_sorted_and_reproducible() -> None:
    entries = {
        "b": IndexEntry("b_1", 2, 0),
        "a": IndexEntry("a_1", 1, 5),
    }
    data = encode_index(entries)
    assert data == struct.pack("<Q", 2) + _entry("a", "a_1", 1, 5) + _entry("b", "b_1", 2, 0)
    assert decode_index(data) == entries


def test_empty_index() -> None:
    assert decode_index(struct.pack("<Q", 0)) == {}
    assert encode_index({}) == b"\x00" * 8


def test_absurd_count_fails_fast_at_offset_zero() -> None:
    data = struct.pack("<Q", 2**63) + _entry("a", "a_1", 1, 0)
    with pytest.raises(DecodeError) as caught:
        decode_index(data)
    assert caught.value.offset == 0
    assert "cannot fit" in caught.value.reason


def test_truncated_index_reports_where() -> None:
    data = struct.pack("<Q", 1) + _entry("alpha", "alpha_1", 1760000000, 0)
    with pytest.raises(DecodeError) as caught:
        decode_index(data[:-5])
    assert caught.value.offset == len(data) - 12


def test_trailing_bytes_rejected() -> None:
    data = struct.pack("<Q", 1) + _entry("a", "a_1", 1, 0) + b"\x00"
    with pytest.raises(DecodeError, match="trailing") as caught:
        decode_index(data)
    assert caught.value.offset == len(data) - 1


def test_invalid_utf8_rejected() -> None:
    data = struct.pack("<Q", 1) + struct.pack("<Q", 2) + b"\xff\xfe" + encode_string("x")
    data += struct.pack("<QI", 1, 0)
    with pytest.raises(DecodeError, match="UTF-8") as caught:
        decode_index(data)
    assert caught.value.offset == 16


def test_nanos_out_of_range_rejected() -> None:
    data = struct.pack("<Q", 1) + _entry("a", "a_1", 1, 1_000_000_000)
    with pytest.raises(DecodeError, match="nanos") as caught:
        decode_index(data)
    assert caught.value.offset == len(data) - 4


def test_duplicate_threads_later_wins_and_are_exposed() -> None:
    data = struct.pack("<Q", 2) + _entry("t", "t_1", 1, 0) + _entry("t", "t_2", 2, 0)
    assert decode_index(data) == {"t": IndexEntry("t_2", 2, 0)}
    entries = decode_index_entries(data)
    assert entries == [("t", IndexEntry("t_1", 1, 0)), ("t", IndexEntry("t_2", 2, 0))]
    assert duplicate_threads(entries) == {"t": [IndexEntry("t_1", 1, 0), IndexEntry("t_2", 2, 0)]}


_entries = st.dictionaries(
    st.text(max_size=20),
    st.builds(
        IndexEntry,
        st.text(max_size=30),
        st.integers(0, 2**64 - 1),
        st.integers(0, 999_999_999),
    ),
    max_size=8,
)


@given(_entries)
def test_round_trip(entries: dict[str, IndexEntry]) -> None:
    assert decode_index(encode_index(entries)) == entries


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    try:
        decode_index(data)
    except DecodeError as error:
        assert 0 <= error.offset <= len(data)


@given(_entries, st.data())
def test_mutated_index_only_raises_decode_error(
    entries: dict[str, IndexEntry], data: st.DataObject
) -> None:
    raw = bytearray(encode_index(entries))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(DecodeError):
        decode_index(bytes(raw[:cut]))


# -- streaming ---------------------------------------------------------------------------


def _streamed(data: bytes, block: int) -> list[tuple[str, IndexEntry]] | tuple[int, str]:
    try:
        return list(IndexStream(io.BytesIO(data), len(data), block=block))
    except DecodeError as exc:
        return exc.offset, exc.reason


def _whole(data: bytes) -> list[tuple[str, IndexEntry]] | tuple[int, str]:
    try:
        return decode_index_entries(data)
    except DecodeError as exc:
        return exc.offset, exc.reason


_ENTRIES = st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12),
                              st.integers(0, 2**64 - 1), st.integers(0, 10**9 - 1)),
                    max_size=6)


@given(_ENTRIES, st.integers(0, 3), st.binary(max_size=8), st.integers(1, 40))
def test_streaming_decodes_like_the_whole_buffer(
    entries: list[tuple[str, str, int, int]], cut: int, tail: bytes, block: int
) -> None:
    data = struct.pack("<Q", len(entries)) + b"".join(_entry(*e) for e in entries)
    for variant in (data, data[: len(data) - cut], data + tail):
        assert _streamed(variant, block) == _whole(variant)


@given(st.binary(max_size=200), st.integers(1, 40))
def test_streaming_agrees_on_any_bytes(data: bytes, block: int) -> None:
    assert _streamed(data, block) == _whole(data)


def test_a_large_index_is_decoded_holding_one_block(tmp_path: Path) -> None:
    entries = {f"thread-{i:07d}": IndexEntry(f"thread-{i:07d}_1a2b3c4d5e6f0a1b_chkpt{i}", i, 0)
               for i in range(100_000)}
    path = tmp_path / "index.bin"
    path.write_bytes(encode_index(entries))
    assert path.stat().st_size > 8 * 1024 * 1024
    with open(path, "rb", buffering=0) as handle:
        stream = IndexStream(handle, path.stat().st_size)
        decoded = sum(1 for _ in stream)
    assert decoded == 100_000
    # The most ever held: one read block and the entry that straddles it.
    assert stream.max_buffered <= READ_BLOCK + 100


def test_a_huge_declared_length_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "index.bin"
    path.write_bytes(struct.pack("<QQ", 1, 2**40) + b"\x00" * (4 * READ_BLOCK))
    with open(path, "rb", buffering=0) as handle:
        stream = IndexStream(handle, path.stat().st_size)
        with pytest.raises(DecodeError, match="string length 1099511627776 exceeds"):
            list(stream)
    assert stream.max_buffered <= READ_BLOCK
