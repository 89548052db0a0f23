from __future__ import annotations

import contextlib
import gzip
import struct
import zlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import encode_checkpoint
from dashfix.formats.variants import (
    Variant,
    VersionedCheckpoint,
    classify,
    classify_name,
    decode_legacy_json,
    decode_versioned,
    encode_versioned,
    gunzip_bounded,
    parse_temp_name,
)

UUID = "0b6f1c1e-3a9f-4c2e-8f47-5d9c7e2a1b30"
PAYLOAD = encode_checkpoint("t_1a2b3_chkpt0", "t", b"", "n", 1760000000, 0, None, {})
VERSIONED = VersionedCheckpoint(
    2, '{"step":1}', "t_1a2b3_chkpt1", "t", "n", 1760000001, 7, "t_1a2b3_chkpt0", {"k": "v"}
)


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("a_1a2b3_chkpt0.bin", Variant.DCHK),
        ("a_1a2b3_chkpt0.bin.gz", Variant.GZIP_BIN),
        ("a_1a2b3_chkpt0.v.bin", Variant.VERSIONED),
        ("a_1a2b3_chkpt0.v.bin.gz", Variant.VERSIONED_GZ),
        ("session-123.json", Variant.LEGACY_JSON),
        ("index.bin", Variant.INDEX),
        (".checkpoint.lock", Variant.LOCK),
        (f".a_1a2b3_chkpt0.bin.{UUID}.tmp", Variant.TEMP_CHECKPOINT),
        (f".index.{UUID}.tmp", Variant.TEMP_INDEX),
        (f".index.bin.{UUID}.tmp", Variant.TEMP_INDEX),
        ("a_1a2b3_chkpt0.bin.bak", Variant.BACKUP),
        ("index.bin.bak", Variant.BACKUP),
        ("notes.txt", Variant.UNKNOWN),
        ("a.bin.tmp", Variant.UNKNOWN),
    ],
)
def test_classify_name(name: str, variant: Variant) -> None:
    assert classify_name(name) is variant


def test_parse_temp_name() -> None:
    assert parse_temp_name(f".t_1a2b3_chkpt0.bin.{UUID}.tmp") == ("t_1a2b3_chkpt0", UUID)
    assert parse_temp_name(f".index.{UUID}.tmp") == (None, UUID)
    assert parse_temp_name(f".index.bin.{UUID}.tmp") == (None, UUID)
    assert parse_temp_name(f".a.b.bin.{UUID}.tmp") == ("a.b", UUID)
    assert parse_temp_name("x.bin.tmp") is None
    assert parse_temp_name(".x.bin.not-a-uuid.tmp") is None


def test_classify_by_magic() -> None:
    wrapped = dchk.wrap(PAYLOAD)
    assert classify("x.bin", wrapped[:64]) is Variant.DCHK
    assert classify("x.bin", PAYLOAD[:64]) is Variant.LEGACY_BINCODE
    # Bincode of a bare state (TROUBLESHOOTING recipe) or random bytes: foreign.
    assert classify("x.bin", b"\xff" * 32) is Variant.UNKNOWN
    assert classify("x.bin", b"") is Variant.UNKNOWN
    # A damaged magic is not legacy: the file needs the full-file check.
    damaged = b"DCHX" + wrapped[4:]
    assert classify("x.bin", damaged[:64]) is Variant.UNKNOWN
    assert dchk.has_damaged_magic(damaged)
    gz = gzip.compress(PAYLOAD)
    assert classify("x.bin.gz", gz[:64]) is Variant.GZIP_BIN
    assert classify("x.bin.gz", PAYLOAD[:64]) is Variant.UNKNOWN
    assert classify("x.v.bin.gz", gz[:64]) is Variant.VERSIONED_GZ
    assert classify("x.v.bin", encode_versioned(VERSIONED)[:64]) is Variant.VERSIONED
    assert classify("x.v.bin", wrapped[:64]) is Variant.UNKNOWN
    assert classify("x.json", b'  {"id": 1}') is Variant.LEGACY_JSON
    assert classify("x.json", b"[1]") is Variant.UNKNOWN
    assert classify("index.bin", b"") is Variant.INDEX


def test_gunzip_round_trip() -> None:
    assert gunzip_bounded(gzip.compress(PAYLOAD, mtime=0)) == PAYLOAD
    assert gunzip_bounded(gzip.compress(b"", mtime=0)) == b""


def test_gunzip_truncated() -> None:
    data = gzip.compress(PAYLOAD * 20, mtime=0)
    for cut in (0, 5, len(data) // 2, len(data) - 1):
        with pytest.raises(DecodeError, match=r"truncated|corrupt"):
            gunzip_bounded(data[:cut])


def test_gunzip_crc_and_isize_mismatch() -> None:
    data = bytearray(gzip.compress(PAYLOAD, mtime=0))
    data[-8] ^= 0xFF  # CRC32 trailer
    with pytest.raises(DecodeError, match="corrupt"):
        gunzip_bounded(bytes(data))
    data = bytearray(gzip.compress(PAYLOAD, mtime=0))
    data[-1] ^= 0xFF  # ISIZE trailer
    with pytest.raises(DecodeError, match="corrupt"):
        gunzip_bounded(bytes(data))


def test_gunzip_cap_stops_a_bomb() -> None:
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024), mtime=0)
    with pytest.raises(DecodeError, match="exceeds the 1048576-byte limit"):
        gunzip_bounded(bomb, max_size=1024 * 1024)
    assert len(gunzip_bounded(bomb, max_size=8 * 1024 * 1024)) == 8 * 1024 * 1024


def test_gunzip_trailing_bytes() -> None:
    data = gzip.compress(PAYLOAD, mtime=0)
    with pytest.raises(DecodeError, match="3 bytes after") as caught:
        gunzip_bounded(data + b"abc")
    assert caught.value.offset == len(data)


def test_gunzip_raw_zlib_is_rejected() -> None:
    with pytest.raises(DecodeError):
        gunzip_bounded(zlib.compress(PAYLOAD))


@given(st.binary(max_size=200))
def test_gunzip_random_bytes_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        gunzip_bounded(data, max_size=4096)


def test_versioned_round_trip_and_strictness() -> None:
    data = encode_versioned(VERSIONED)
    assert decode_versioned(data) == VERSIONED
    assert VERSIONED.data_is_json
    with pytest.raises(DecodeError, match="trailing"):
        decode_versioned(data + b"\x00")
    with pytest.raises(DecodeError):
        decode_versioned(data[:-1])


def test_versioned_rejects_bad_nanos_and_flags_non_json_data() -> None:
    bad = VersionedCheckpoint(2, "not json", "i", "t", "n", 1, 0, None, {})
    assert not decode_versioned(encode_versioned(bad)).data_is_json
    raw = bytearray(encode_versioned(bad))
    nanos_at = len(raw) - 8 - 1 - 4
    raw[nanos_at : nanos_at + 4] = struct.pack("<I", 1_000_000_000)
    with pytest.raises(DecodeError, match="nanos") as caught:
        decode_versioned(bytes(raw))
    assert caught.value.offset == nanos_at


@given(st.binary(max_size=200))
def test_versioned_random_bytes_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_versioned(data)


def _legacy_json(timestamp: dict[str, int]) -> bytes:
    return orjson.dumps(
        {
            "id": "t_3",
            "thread_id": "t",
            "state": {"step": 3},
            "node": "n",
            "timestamp": timestamp,
            "parent_id": "t_2",
            "metadata": {"a": "b"},
        },
        option=orjson.OPT_INDENT_2,
    )


@pytest.mark.parametrize(
    "timestamp",
    [{"secs": 1760000000, "nanos": 5}, {"secs_since_epoch": 1760000000, "nanos_since_epoch": 5}],
)
def test_legacy_json_accepts_both_timestamp_spellings(timestamp: dict[str, int]) -> None:
    checkpoint = decode_legacy_json(_legacy_json(timestamp))
    assert (checkpoint.checkpoint_id, checkpoint.thread_id, checkpoint.node) == ("t_3", "t", "n")
    assert (checkpoint.secs, checkpoint.nanos) == (1760000000, 5)
    assert checkpoint.parent_id == "t_2"
    assert checkpoint.metadata == {"a": "b"}
    assert checkpoint.state == {"step": 3}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not an object"),
        (_legacy_json({"secs": 1}), "timestamp"),
        (_legacy_json({"secs": 1, "nanos": 2_000_000_000}), "nanos"),
        (_legacy_json({"secs": -1, "nanos": 0}), "unsigned"),
        (b'{"id": 1, "state": null, "timestamp": {"secs": 1, "nanos": 0}}', "'id'"),
    ],
)
def test_legacy_json_errors(data: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        decode_legacy_json(data)


@given(st.binary(max_size=200))
def test_legacy_json_random_bytes_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_legacy_json(data)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
_checkpoint_keys = st.sampled_from(
    ["id", "thread_id", "state", "node", "timestamp", "parent_id", "metadata"]
)


@given(st.dictionaries(_checkpoint_keys, _json_values))
def test_legacy_json_structured_garbage_only_raises_decode_error(obj: dict[str, object]) -> None:
    with contextlib.suppress(DecodeError):
        decode_legacy_json(orjson.dumps(obj))


_name_parts = st.sampled_from(
    ["", ".", "index", "x", ".bin", ".v", ".gz", ".json", ".tmp", ".bak", f".{UUID}", "_"]
)


@given(st.lists(_name_parts, max_size=6).map("".join), st.binary(max_size=40))
def test_classify_is_total(name: str, head: bytes) -> None:
    by_name = classify_name(name)
    by_bytes = classify(name, head)
    # Bytes can only confirm the name, demote it to UNKNOWN, or tell DCHK from legacy.
    assert by_bytes in (by_name, Variant.UNKNOWN, Variant.LEGACY_BINCODE)
    if by_bytes is Variant.LEGACY_BINCODE:
        assert by_name is Variant.DCHK


@given(st.data())
def test_mutated_versioned_and_gzip_only_raise_decode_error(data: st.DataObject) -> None:
    raw = bytearray(encode_versioned(VERSIONED))
    packed = bytearray(gzip.compress(bytes(raw), mtime=0))
    for buffer in (raw, packed):
        for _ in range(data.draw(st.integers(1, 3))):
            buffer[data.draw(st.integers(0, len(buffer) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        decode_versioned(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
    with contextlib.suppress(DecodeError):
        decode_versioned(gunzip_bounded(bytes(packed), max_size=4096))
