"""An S3 object is read as stored, then as lz4, then as snappy (when their header fits),
and the first reading that parses as a whole checkpoint payload is the object's."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashfix.formats.compression import Compression
from dashfix.inputs.backends.s3 import decode_object

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "compression"
PAYLOADS = sorted(FIXTURES.glob("*.payload"))


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda path: path.name)
def test_lz4_flex_and_snap_objects_read_as_their_payload(payload: Path) -> None:
    plain = decode_object("k", "k", payload.read_bytes())
    assert plain.compression is Compression.NONE and plain.entry is not None
    for compression in (Compression.LZ4, Compression.SNAPPY):
        packed = payload.with_name(f"{payload.name}.{compression.label}").read_bytes()
        found = decode_object("k", "k", packed)
        assert found.compression is compression
        assert found.entry == plain.entry


def test_a_cut_lz4_object_says_how_each_reading_failed() -> None:
    packed = PAYLOADS[1].with_name(f"{PAYLOADS[1].name}.lz4").read_bytes()
    found = decode_object("k", "k", packed[:-1])
    assert found.entry is None and found.problem is not None
    assert found.problem.startswith("does not decode: as stored, its ids do not decode")
    assert "as lz4, it does not decompress (at byte 4: the LZ4 block" in found.problem
