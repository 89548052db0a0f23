from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats.bincode import DecodeError, Reader, Writer, encode_string


def test_decode_error_str_names_offset_and_reason() -> None:
    error = DecodeError(12, "bad thing")
    assert str(error) == "at byte 12: bad thing"
    assert (error.offset, error.reason) == (12, "bad thing")
    assert isinstance(error, ValueError)


def test_fixed_width_little_endian_values() -> None:
    data = (
        b"\x07"
        + struct.pack("<I", 0xDEADBEEF)
        + struct.pack("<Q", 2**64 - 1)
        + struct.pack("<q", -5)
        + struct.pack("<d", 1.5)
        + b"\x01"
    )
    reader = Reader(data)
    assert reader.u8() == 7
    assert reader.u32() == 0xDEADBEEF
    assert reader.u64() == 2**64 - 1
    assert reader.i64() == -5
    assert reader.f64() == 1.5
    assert reader.bool_() is True
    assert reader.remaining == 0
    reader.expect_end()


def test_string_length_beyond_remaining_fails_before_slicing() -> None:
    data = struct.pack("<Q", 2**63) + b"abc"
    reader = Reader(data)
    with pytest.raises(DecodeError) as caught:
        reader.string()
    assert caught.value.offset == 0
    assert str(2**63) in caught.value.reason
    assert reader.pos == 0


def test_string_max_len_is_enforced() -> None:
    reader = Reader(encode_string("abcdef"))
    with pytest.raises(DecodeError, match="exceeds the limit of 3"):
        reader.string(max_len=3)


def test_invalid_utf8_reports_the_offending_byte() -> None:
    data = struct.pack("<Q", 3) + b"a\xffb"
    with pytest.raises(DecodeError) as caught:
        Reader(data).string()
    assert caught.value.offset == 9
    assert "UTF-8" in caught.value.reason


def test_bool_and_option_tag_reject_other_values() -> None:
    with pytest.raises(DecodeError, match="bool"):
        Reader(b"\x02").bool_()
    with pytest.raises(DecodeError, match="Option tag"):
        Reader(b"\x05").option_tag()
    assert Reader(b"\x00").option_tag() is False


def test_count_checked_against_remaining_bytes() -> None:
    data = struct.pack("<Q", 1_000_000) + b"\x00" * 100
    with pytest.raises(DecodeError, match="cannot fit"):
        Reader(data).count(min_element_size=16)
    with pytest.raises(DecodeError, match="limit of 5"):
        Reader(struct.pack("<Q", 6) + b"\x00" * 100).count(max_count=5)
    assert Reader(struct.pack("<Q", 6) + b"\x00" * 6).count() == 6


def test_truncated_integer() -> None:
    with pytest.raises(DecodeError) as caught:
        Reader(b"\x01\x02\x03").u32()
    assert caught.value.offset == 0


def test_trailing_bytes_detected() -> None:
    reader = Reader(b"\x01\x02")
    reader.u8()
    with pytest.raises(DecodeError, match="1 trailing"):
        reader.expect_end()


def test_reader_over_memoryview_with_bounds() -> None:
    data = memoryview(b"xx" + encode_string("hi") + b"yy")
    reader = Reader(data, pos=2, end=12)
    assert reader.string() == "hi"
    assert reader.remaining == 0


@given(
    st.lists(st.text(), max_size=5),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.one_of(st.none(), st.text()),
)
def test_writer_reader_round_trip(
    texts: list[str],
    u32: int,
    u64: int,
    i64: int,
    f64: float,
    flag: bool,
    maybe: str | None,
) -> None:
    writer = Writer().u64(len(texts))
    for text in texts:
        writer.string(text)
    writer.u32(u32).u64(u64).i64(i64).f64(f64).bool_(flag).option_string(maybe)
    writer.string_map([("k", "v")])
    reader = Reader(writer.getvalue())
    assert [reader.string() for _ in range(reader.count())] == texts
    assert (reader.u32(), reader.u64(), reader.i64(), reader.f64(), reader.bool_()) == (
        u32,
        u64,
        i64,
        f64,
        flag,
    )
    assert (reader.string() if reader.option_tag() else None) == maybe
    assert reader.count() == 1
    assert (reader.string(), reader.string()) == ("k", "v")
    reader.expect_end()


_OPERATIONS = ("u8", "u32", "u64", "i64", "f64", "bool_", "string", "option_tag", "count")


@given(st.binary(max_size=200), st.lists(st.sampled_from(_OPERATIONS), max_size=20))
def test_random_bytes_only_raise_decode_error(data: bytes, operations: list[str]) -> None:
    reader = Reader(data)
    for operation in operations:
        try:
            getattr(reader, operation)()
        except DecodeError as error:
            assert 0 <= error.offset <= len(data)
            return
        assert 0 <= reader.pos <= len(data)
