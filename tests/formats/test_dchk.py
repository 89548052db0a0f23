from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats import dchk
from dashfix.formats.dchk import IntegrityErrorKind

PAYLOAD = b"payload bytes for the header tests"


def test_crc_is_iso_hdlc() -> None:
    assert dchk.crc32(b"123456789") == 0xCBF43926


def test_wrap_layout() -> None:
    data = dchk.wrap(PAYLOAD)
    assert data[:4] == b"DCHK"
    assert struct.unpack_from("<IIQ", data, 4) == (1, zlib.crc32(PAYLOAD), len(PAYLOAD))
    assert data[dchk.HEADER_SIZE :] == PAYLOAD
    assert dchk.parse_header(data) == dchk.Header(b"DCHK", 1, zlib.crc32(PAYLOAD), len(PAYLOAD))
    assert dchk.verify(data) is None
    assert bytes(dchk.payload_of(data)) == PAYLOAD


def test_parse_header_needs_twenty_bytes() -> None:
    assert dchk.parse_header(b"DCHK" + b"\x00" * 15) is None


def test_is_wrapped_is_dashflows_four_byte_check() -> None:
    assert dchk.is_wrapped(b"DCHK")
    assert not dchk.is_wrapped(b"DCH")
    assert not dchk.is_wrapped(b"\x1a\x00\x00\x00DCHK")


def test_file_too_small() -> None:
    error = dchk.verify(b"DCHK\x01\x00")
    assert error is not None
    assert error.kind is IntegrityErrorKind.FILE_TOO_SMALL
    assert error.kind.value == "FileTooSmall"
    assert error.message == "Checkpoint file too small: 6 bytes (minimum 20 bytes)"
    assert (error.expected, error.actual, error.offset) == (20, 6, 0)


def test_invalid_magic() -> None:
    data = b"DCHX" + dchk.wrap(PAYLOAD)[4:]
    error = dchk.verify(data)
    assert error is not None
    assert error.kind is IntegrityErrorKind.INVALID_MAGIC
    assert error.message == (
        "Invalid checkpoint magic bytes: expected [68, 67, 72, 75], found [68, 67, 72, 88]"
    )
    assert (error.offset, error.expected, error.actual) == (0, b"DCHK", b"DCHX")


def test_unsupported_version_and_version_zero_accepted() -> None:
    error = dchk.verify(dchk.wrap(PAYLOAD, version=2))
    assert error is not None
    assert error.kind is IntegrityErrorKind.UNSUPPORTED_VERSION
    assert error.message == "Unsupported checkpoint format version: found 2, supported up to 1"
    assert (error.offset, error.expected, error.actual) == (4, 1, 2)
    version_zero = dchk.wrap(PAYLOAD, version=0)
    assert dchk.verify(version_zero) is None
    header = dchk.parse_header(version_zero)
    assert header is not None and header.version == 0


def test_length_mismatch_including_trailing_bytes() -> None:
    error = dchk.verify(dchk.wrap(PAYLOAD) + b"junk")
    assert error is not None
    assert error.kind is IntegrityErrorKind.LENGTH_MISMATCH
    declared, actual = len(PAYLOAD), len(PAYLOAD) + 4
    assert error.message == (
        f"Checkpoint length mismatch: declared {declared} bytes, actual {actual} bytes"
    )
    assert (error.offset, error.expected, error.actual) == (12, declared, actual)


def test_checksum_mismatch() -> None:
    data = bytearray(dchk.wrap(PAYLOAD))
    data[25] ^= 0x01
    error = dchk.verify(bytes(data))
    assert error is not None
    assert error.kind is IntegrityErrorKind.CHECKSUM_MISMATCH
    stored, computed = zlib.crc32(PAYLOAD), zlib.crc32(bytes(data[20:]))
    assert error.message == (
        "Checkpoint checksum mismatch (data corruption): "
        f"expected 0x{stored:08X}, computed 0x{computed:08X}"
    )
    assert (error.offset, error.expected, error.actual) == (8, stored, computed)


def test_checks_run_in_dashflows_order() -> None:
    # Bad magic AND bad version AND bad length: magic is reported first.
    data = b"XXXX" + struct.pack("<IIQ", 9, 0, 999) + PAYLOAD
    error = dchk.verify(data)
    assert error is not None and error.kind is IntegrityErrorKind.INVALID_MAGIC
    # Bad version AND bad length: version first.
    error = dchk.verify(b"DCHK" + struct.pack("<IIQ", 9, 0, 999) + PAYLOAD)
    assert error is not None and error.kind is IntegrityErrorKind.UNSUPPORTED_VERSION
    # Bad length AND bad CRC: length first.
    error = dchk.verify(b"DCHK" + struct.pack("<IIQ", 1, 0, 999) + PAYLOAD)
    assert error is not None and error.kind is IntegrityErrorKind.LENGTH_MISMATCH


def test_verify_accepts_memoryview() -> None:
    assert dchk.verify(memoryview(dchk.wrap(PAYLOAD))) is None


@pytest.mark.parametrize("magic", [b"\x00\x00\x00\x00", b"dchk", b"DCHJ"])
def test_damaged_magic_detected(magic: bytes) -> None:
    data = magic + dchk.wrap(PAYLOAD)[4:]
    assert dchk.has_damaged_magic(data)


def test_damaged_magic_needs_the_rest_of_the_header_to_prove_the_file() -> None:
    good = dchk.wrap(PAYLOAD)
    assert not dchk.has_damaged_magic(good)
    bad_crc = bytearray(b"XXXX" + good[4:])
    bad_crc[-1] ^= 1
    assert not dchk.has_damaged_magic(bytes(bad_crc))
    assert not dchk.has_damaged_magic(b"XXXX" + good[4:] + b"x")
    assert not dchk.has_damaged_magic(b"XXXX" + dchk.wrap(PAYLOAD, version=0)[4:])
    assert not dchk.has_damaged_magic(b"XXXX")


@given(st.binary(max_size=64))
def test_verify_never_raises_on_random_bytes(data: bytes) -> None:
    error = dchk.verify(data)
    if error is not None:
        assert error.message
    dchk.has_damaged_magic(data)
    dchk.parse_header(data)


@given(st.binary(max_size=200), st.data())
def test_any_payload_bit_flip_is_caught(payload: bytes, data: st.DataObject) -> None:
    wrapped = bytearray(dchk.wrap(payload))
    assert dchk.verify(bytes(wrapped)) is None
    if not payload:
        return
    position = data.draw(st.integers(dchk.HEADER_SIZE, len(wrapped) - 1))
    bit = data.draw(st.integers(0, 7))
    wrapped[position] ^= 1 << bit
    error = dchk.verify(bytes(wrapped))
    assert error is not None and error.kind is IntegrityErrorKind.CHECKSUM_MISMATCH
