from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats.bincode import DecodeError, encode_string
from dashfix.formats.index import (
    IndexEntry,
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
