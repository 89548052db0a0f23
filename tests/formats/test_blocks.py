"""lz4 and snappy states (formats/blocks.py): lz4_flex- and snap-written fixtures, round
trips, truncation, garbage, the bounds checked before allocating, and uncompressed bincode
never read as either."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix.formats.bincode import DecodeError
from dashfix.formats.blocks import (
    decodings,
    lz4_decompress,
    needs_trial,
    snappy_decompress,
    state_framing,
)
from dashfix.formats.checkpoint import encode_checkpoint
from dashfix.formats.compression import (
    MAX_DECOMPRESSED,
    UNCOMPRESSED,
    Compression,
    lz4_header,
    snappy_header,
)
from dashfix.testing.backends import compressed, interop_states

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
FIXTURES = ROOT / "compression"
SOURCES = sorted(path for path in FIXTURES.iterdir() if path.suffix in (".state", ".payload"))
DECODERS: dict[Compression, Callable[..., bytearray]] = {
    Compression.LZ4: lz4_decompress, Compression.SNAPPY: snappy_decompress}
BLOCKS = (Compression.LZ4, Compression.SNAPPY)


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_rust_written_blocks_decode_to_their_source(source: Path) -> None:
    data = source.read_bytes()
    for compression, decompress in DECODERS.items():
        block = source.with_name(f"{source.name}.{compression.label}").read_bytes()
        assert decompress(block) == data
        assert state_framing(block).reads_as == compression
    assert state_framing(data).reads_as == Compression.NONE


def test_interop_states_are_uncompressed() -> None:
    for store in sorted((ROOT / "interop").glob("ckpt-*")):
        if any(store.glob("*_chkpt*.bin")) and store.name != "ckpt-versioned":
            for state in interop_states(store):
                assert state_framing(state).reads_as == Compression.NONE, store
                assert not needs_trial(state), store  # so a healthy store takes the plain path


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000) | st.text(max_size=500).map(lambda t: t.encode() * 3),
       compression=st.sampled_from(BLOCKS))
def test_round_trip(data: bytes, compression: Compression) -> None:
    block = compressed(data, compression)
    assert DECODERS[compression](block) == data
    assert compression in state_framing(block).reads_as
    assert needs_trial(block)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(min_size=1, max_size=2000), compression=st.sampled_from(BLOCKS),
       cut=st.integers(min_value=1))
def test_a_cut_block_never_decodes(data: bytes, compression: Compression, cut: int) -> None:
    block = compressed(data, compression)
    with pytest.raises(DecodeError):
        DECODERS[compression](block[: len(block) - 1 - cut % len(block)])


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300))
def test_garbage_gives_a_value_or_a_decode_error(data: bytes) -> None:
    for decompress in DECODERS.values():
        try:
            out = decompress(data, 4096)
        except DecodeError:
            continue
        assert len(out) <= min(4096, 255 * len(data))  # the work is linear in the input
    framing = state_framing(data, 4096)
    if not needs_trial(data, 4096):  # the plain path counts such a state as uncompressed
        assert framing == UNCOMPRESSED
    for _compression, reading in decodings(data, 4096):
        assert isinstance(reading, bytes | DecodeError)


@settings(max_examples=200, deadline=None)
@given(checkpoint_id=st.text(min_size=1, max_size=40), thread_id=st.text(max_size=40),
       state=st.binary(max_size=400), node=st.text(max_size=20),
       secs=st.integers(min_value=1_600_000_000, max_value=1_900_000_000),
       nanos=st.integers(min_value=0, max_value=999_999_999),
       parent=st.none() | st.text(max_size=40),
       metadata=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3))
def test_an_uncompressed_payload_reads_as_none_of_them(
        checkpoint_id: str, thread_id: str, state: bytes, node: str, secs: int, nanos: int,
        parent: str | None, metadata: dict[str, str]) -> None:
    """bincode starts with a u64 length: as lz4 its high half is a first sequence with no
    literal and a match into nothing; as snappy a small length is far too short for the
    rest."""
    payload = encode_checkpoint(checkpoint_id, thread_id, state, node, secs, nanos, parent,
                                metadata)
    assert state_framing(payload).reads_as == Compression.NONE
    assert next(iter(decodings(payload))) == (Compression.NONE, payload)


def test_sizes_out_of_reach_are_refused_before_allocating() -> None:
    tracemalloc.start()
    try:
        for data in (b"\xff\xff\xff\x05" + b"\x00" * 8,  # lz4: 100 MiB from 8 bytes
                     (MAX_DECOMPRESSED + 1).to_bytes(4, "little") + b"\x00" * 2**20,
                     b"\xff\xff\xff\x2f" + b"\x00" * 8):  # snappy: 100 MiB from 8 bytes
            tracemalloc.reset_peak()
            for decompress in DECODERS.values():
                with pytest.raises(DecodeError, match=r"declares|cap|varint"):
                    decompress(data)
            assert tracemalloc.get_traced_memory()[1] < 2**20 + 2**16
    finally:
        tracemalloc.stop()
    with pytest.raises(DecodeError, match="cap"):
        lz4_decompress(compressed(bytes(5000), Compression.LZ4), 4096)
    with pytest.raises(DecodeError, match="cap"):
        snappy_decompress(compressed(bytes(5000), Compression.SNAPPY), 4096)


@pytest.mark.parametrize(("size", "block", "fits"), [
    (0, 1, True), (15, 17, True), (14, 17, False),  # 17 bytes: 15 literals and 2 of overhead
    (255 * 10, 10, True), (255 * 10 + 1, 10, False)])
def test_lz4_bounds(size: int, block: int, fits: bool) -> None:
    data = size.to_bytes(4, "little") + bytes(block)
    if fits:
        assert lz4_header(data) == size
    else:
        with pytest.raises(DecodeError, match="cannot decode to"):
            lz4_header(data)


@pytest.mark.parametrize(("data", "answer"), [
    (b"\x00", (0, 1)), (b"\x01\x00\x41", (1, 1)), (b"\x80\x01" + bytes(22), (128, 2)),
    (b"\x02" + bytes(13), None), (b"\x80\x80\x80\x80\x80", None), (b"", None)])
def test_snappy_bounds(data: bytes, answer: tuple[int, int] | None) -> None:
    if answer is not None:
        assert snappy_header(data) == answer
    else:
        with pytest.raises(DecodeError):
            snappy_header(data)


def test_zstd_is_decided_by_its_magic_alone() -> None:
    frame = compressed(b"state" * 50, Compression.ZSTD)
    assert state_framing(frame).reads_as == Compression.ZSTD
    damaged = state_framing(frame[:-3])
    assert damaged.reads_as == Compression.ZSTD and damaged.problem is not None
    assert [kind for kind, _ in decodings(frame)] == [Compression.ZSTD]


def test_decodings_tries_each_framing_whose_header_fits_in_order() -> None:
    source = (FIXTURES / "repeated.state").read_bytes()
    block = (FIXTURES / "repeated.state.snappy").read_bytes()
    assert list(decodings(block)) == [(Compression.NONE, block), (Compression.SNAPPY, source)]
    lz4 = (FIXTURES / "repeated.state.lz4").read_bytes()
    assert list(decodings(lz4)) == [(Compression.NONE, lz4), (Compression.LZ4, source)]
    cut = list(decodings(lz4[:-1]))
    assert [kind for kind, _ in cut] == [Compression.NONE, Compression.LZ4]
    assert isinstance(cut[1][1], DecodeError)
