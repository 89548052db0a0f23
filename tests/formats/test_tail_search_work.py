"""The checkpoint tail searches are linear: counted work (``SearchWork``), never wall time.

Each search reads at most the last ``MAX_TAIL_SIZE`` bytes of a payload, so its work grows
with the payload up to that window and stays flat after it. The payloads are the shapes that
made the old search quadratic: zero-filled, one repeated byte and random bytes, after valid
ids, at 1 KiB, 1 MiB and 64 MiB (the 64 MiB payloads share one buffer, refilled in place).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix.formats.bincode import DecodeError, Reader, Writer
from dashfix.formats.checkpoint import (
    ID_MAX_LEN,
    MAX_TAIL_SIZE,
    METADATA_MAX_BYTES,
    METADATA_MAX_ENTRIES,
    NODE_MAX_LEN,
    CheckpointHead,
    SearchWork,
    TailRules,
    encode_tail,
    last_tail_end,
    parse_tail,
    read_head,
)

KIB, MIB = 1024, 1024 * 1024
SIZES = (KIB, MIB, 64 * MIB)
FILLS = ("zero", "repeated", "random")
GARBAGE_SEARCH = 64 * KIB
# The documented bound (docs/formats.md): per byte of the searched window at most one start,
# one end and one metadata step tried, and at most this many bytes examined (the fixed-size
# fields of a tail start, 37 bytes, may overlap those of the next start; node and parent
# texts cannot).
BYTES_PER_WINDOW_BYTE = 40
IDS = Writer().string("t1_0011223344556677_chkpt0").string("t1").getvalue()


def _fill(buffer: bytearray, fill: str) -> None:
    """Refill everything after the ids in place, a MiB at a time (keeps test memory flat)."""
    rng = random.Random(len(buffer))
    for start in range(len(IDS), len(buffer), MIB):
        size = min(MIB, len(buffer) - start)
        if fill == "zero":
            chunk = bytes(size)
        elif fill == "repeated":
            chunk = b"\x07" * size
        else:
            chunk = rng.randbytes(size)
        buffer[start : start + size] = chunk


@pytest.fixture(scope="module")
def payloads() -> Iterator[dict[int, bytearray]]:
    buffers = {size: bytearray(size) for size in SIZES}
    for buffer in buffers.values():
        buffer[: len(IDS)] = IDS
    yield buffers


def _full_search(buffer: bytearray, head: CheckpointHead, work: SearchWork) -> int:
    parse_tail(memoryview(buffer), head, exhaustive=True, work=work)
    return MAX_TAIL_SIZE


def _trailing_garbage_search(buffer: bytearray, head: CheckpointHead, work: SearchWork) -> int:
    assert last_tail_end(memoryview(buffer), head, GARBAGE_SEARCH, work) is None
    return GARBAGE_SEARCH


SEARCHES = {"full": _full_search, "trailing-garbage": _trailing_garbage_search}
"""Each search, run with a counter; it returns the most it may look at from the end."""


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("size", SIZES, ids=("1KiB", "1MiB", "64MiB"))
def test_search_work_is_bounded_by_its_window(
    payloads: dict[int, bytearray], size: int, fill: str, search: str
) -> None:
    buffer = payloads[size]
    _fill(buffer, fill)
    work = SearchWork()
    window = min(size - len(IDS), SEARCHES[search](buffer, read_head(buffer), work))
    assert work.positions <= window
    assert work.steps <= window
    assert work.bytes <= BYTES_PER_WINDOW_BYTE * window


@pytest.mark.parametrize("fill", FILLS)
def test_work_stops_growing_once_the_payload_exceeds_the_window(
    payloads: dict[int, bytearray], fill: str
) -> None:
    counted = []
    for size in (MIB, 64 * MIB):
        buffer = payloads[size]
        _fill(buffer, fill)
        head = read_head(buffer)
        full, garbage = SearchWork(), SearchWork()
        parse_tail(memoryview(buffer), head, exhaustive=True, work=full)
        last_tail_end(memoryview(buffer), head, GARBAGE_SEARCH, garbage)
        counted.append((full, garbage))
    assert counted[0] == counted[1]


def test_a_zero_run_costs_a_constant_number_of_ends() -> None:
    """The shape that hung every command: the old search tried every end inside the run,
    each with a search over the whole window."""
    payload = IDS + bytes(GARBAGE_SEARCH)
    work = SearchWork()
    assert last_tail_end(payload, read_head(payload), GARBAGE_SEARCH, work) is None
    assert work.positions <= 13


def test_metadata_chains_are_followed_once_for_all_starts() -> None:
    """Many starts whose metadata runs through the same strings: each string is followed
    once, not once per start."""
    tail = encode_tail("node", 1_700_000_000, 0, None, {"k" * 40: "v" * 40})
    # Empty strings everywhere: every offset has a small length prefix.
    payload = IDS + bytes(8 * 4000) + tail
    head = read_head(payload)
    work = SearchWork()
    found = parse_tail(payload, head, work=work)
    assert found.unique is not None and found.unique.metadata == {"k" * 40: "v" * 40}
    assert work.steps <= len(payload)


def test_trailing_garbage_is_found_after_a_zero_run_and_random_bytes() -> None:
    tail = encode_tail("node", 1_700_000_000, 5, "t1_0011223344556677_chkpt", {})
    checkpoint = IDS + bytes(5000) + tail
    rng = random.Random(7)
    for junk in (bytes(3000), rng.randbytes(3000), b"\x00" * 7 + b"x"):
        payload = checkpoint + junk
        head = read_head(payload)
        work = SearchWork()
        assert last_tail_end(payload, head, GARBAGE_SEARCH, work) == len(checkpoint)
        assert work.positions <= 13 * (len(junk) // 8 + 2)


def _brute_force_tails(payload: bytes, head: CheckpointHead) -> list[tuple[int, str]]:
    """Every candidate by the definition alone: a forward parse from every offset."""
    rules = TailRules(head.checkpoint_id, head.thread_id)
    found = []
    for start in range(head.state_start, len(payload)):
        reader = Reader(payload, start)
        try:
            node = reader.string(NODE_MAX_LEN)
            secs, nanos = reader.u64(), reader.u32()
            parent = reader.string(ID_MAX_LEN) if reader.option_tag() else None
            if ("\x00" in node or not rules.timestamp_ok(secs, nanos)
                    or (parent is not None and not rules.parent_ok(parent))
                    or reader.remaining > METADATA_MAX_BYTES):
                continue
            count = reader.count(METADATA_MAX_ENTRIES, min_element_size=16)
            for _ in range(2 * count):
                reader.string()
        except DecodeError:
            continue
        if reader.remaining == 0:
            found.append((start, node))
    return found


_PIECES = st.one_of(
    st.binary(max_size=12),
    st.integers(1, 40).map(bytes),
    # 0x65000000 seconds: an empty node's length and three low bytes of secs are all zero
    st.builds(lambda n, secs, parent: encode_tail("n" * n, secs, 1, parent, {}),
              st.integers(0, 3), st.sampled_from([1_700_000_000, 0x65000000]),
              st.sampled_from([None, "t1_0011223344556677_chkpt"])),
    st.builds(lambda k: encode_tail("x", 1_700_000_001, 0, "t1_0011223344556677_chkpt",
                                    {"k" * k: ""}), st.integers(0, 3)),
    st.builds(lambda n: (n).to_bytes(8, "little"), st.integers(0, 40)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12))
def test_full_search_finds_exactly_the_candidates_of_the_definition(pieces: list[bytes]) -> None:
    payload = IDS + b"".join(pieces)
    head = read_head(payload)
    found = parse_tail(payload, head, exhaustive=True).candidates
    assert [(t.state_end, t.node) for t in found] == _brute_force_tails(payload, head)
