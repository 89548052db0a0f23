from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError, Writer, encode_string
from dashfix.formats.checkpoint import (
    METADATA_MAX_BYTES,
    CheckpointHead,
    CheckpointTail,
    encode_checkpoint,
    encode_tail,
    parse_tail,
    read_head,
)
from dashfix.formats.index import IndexEntry, encode_index
from dashfix.testing.checkpoints import agent_state

# Spec 2.8: the worked example, typed in from the spec, not from our encoder.
WORKED_PAYLOAD = bytes.fromhex(
    "1a00000000000000"
    + b"t1_8d3e1f2a4b5c04d2_chkpt0".hex()
    + "0200000000000000"
    + b"t1".hex()
    + "2a000000"
    + "0500000000000000"
    + b"step1".hex()
    + "0077856700000000"
    + "15cd5b07"
    + "00"
    + "0000000000000000"
)
WORKED_HEADER = bytes.fromhex("4443484b" + "01000000" + "68152eac" + "5200000000000000")
WORKED_INDEX = bytes.fromhex(
    "0100000000000000"
    + "0200000000000000"
    + b"t1".hex()
    + "1a00000000000000"
    + b"t1_8d3e1f2a4b5c04d2_chkpt0".hex()
    + "0077856700000000"
    + "15cd5b07"
)
WORKED_ID = "t1_8d3e1f2a4b5c04d2_chkpt0"


def test_worked_example_encodes_byte_for_byte() -> None:
    payload = encode_checkpoint(
        WORKED_ID, "t1", struct.pack("<i", 42), "step1", 1736800000, 123456789, None, {}
    )
    assert len(payload) == 82
    assert payload == WORKED_PAYLOAD
    assert dchk.wrap(payload) == WORKED_HEADER + WORKED_PAYLOAD
    index = encode_index({"t1": IndexEntry(WORKED_ID, 1736800000, 123456789)})
    assert len(index) == 64
    assert index == WORKED_INDEX


def test_worked_example_decodes() -> None:
    assert dchk.verify(WORKED_HEADER + WORKED_PAYLOAD) is None
    head = read_head(WORKED_PAYLOAD)
    assert head == CheckpointHead(WORKED_ID, "t1", 44)
    result = parse_tail(WORKED_PAYLOAD, head)
    assert result.unique == CheckpointTail("step1", 1736800000, 123456789, None, {}, 48)
    assert not result.ambiguous
    assert WORKED_PAYLOAD[head.state_start : result.unique.state_end] == struct.pack("<i", 42)


def _payload(
    parent: str | None = "th_1a2b3c4d5e6f0a1b_chkpt4",
    metadata: dict[str, str] | None = None,
    state: bytes | None = None,
    checkpoint_id: str = "th_1a2b3c4d5e6f0a1b_chkpt5",
    node: str = "agent",
) -> bytes:
    return encode_checkpoint(
        checkpoint_id,
        "th",
        agent_state(3, ["one", "two"], {"a": 0.5}) if state is None else state,
        node,
        1760000000,
        999_999_999,
        parent,
        metadata or {},
    )


@pytest.mark.parametrize("parent", [None, "th_1a2b3c4d5e6f0a1b_chkpt4", "th_"])
def test_fast_path_reads_executor_shaped_payloads(parent: str | None) -> None:
    payload = _payload(parent)
    head = read_head(payload)
    result = parse_tail(payload, head)
    assert not result.exhaustive
    tail = result.unique
    assert tail is not None
    assert (tail.node, tail.secs, tail.nanos, tail.parent_id) == (
        "agent",
        1760000000,
        999_999_999,
        parent,
    )
    assert payload[head.state_start : tail.state_end] == agent_state(3, ["one", "two"], {"a": 0.5})
    assert parse_tail(payload, head, exhaustive=True).candidates == result.candidates


def test_non_empty_metadata_uses_the_full_search() -> None:
    metadata = {"sequence": "4", "distributed": "true"}
    payload = _payload(metadata=metadata)
    result = parse_tail(payload, read_head(payload))
    assert result.exhaustive
    assert result.unique is not None
    assert result.unique.metadata == metadata


def test_state_that_also_parses_as_a_tail_is_reported_ambiguous() -> None:
    real_tail = encode_tail("step", 0x68000000, 0, None, {"a": "b"})
    # The state is itself a complete tail whose single metadata value swallows the real tail.
    state = (
        Writer()
        .string("x")
        .u64(0x68000000)
        .u32(0)
        .u8(0)
        .u64(1)
        .string("k")
        .u64(len(real_tail))
        .getvalue()
    )
    payload = encode_string("th_1") + encode_string("th") + state + real_tail
    head = read_head(payload)
    result = parse_tail(payload, head)
    assert result.ambiguous
    assert result.unique is None
    assert [tail.state_end for tail in result.candidates] == [
        head.state_start,
        head.state_start + len(state),
    ]
    assert {tail.node for tail in result.candidates} == {"x", "step"}


def test_current_scheme_parent_is_the_threads_or_another_current_scheme_id() -> None:
    # Neither the thread's prefix nor an id of the current scheme: not a parent.
    for parent in ("other_3", "state bytes", "th_1a2b3c4d5e6f0a1b_chkpt"[3:]):
        payload = _payload(parent=parent)
        assert parse_tail(payload, read_head(payload)).candidates == (), parent
    # Another thread's current-scheme id reads as a (cross-thread) parent.
    payload = _payload(parent="other_1a2b3c4d5e6f0a1b_chkpt4")
    tail = parse_tail(payload, read_head(payload)).unique
    assert tail is not None and tail.parent_id == "other_1a2b3c4d5e6f0a1b_chkpt4"
    # Counter-scheme ids carry no such rule (spec 2.3 limits it to the current scheme).
    payload = _payload(parent="elsewhere_3", checkpoint_id="th_4")
    tail = parse_tail(payload, read_head(payload)).unique
    assert tail is not None and tail.parent_id == "elsewhere_3"


@pytest.mark.parametrize(
    ("secs", "nanos"),
    [(1_000_000_000_000, 0), (0, 0), (1760000000, 1_000_000_000)],
)
def test_implausible_timestamps_give_no_candidate(secs: int, nanos: int) -> None:
    payload = encode_checkpoint("th_1", "th", b"", "n", secs, nanos, None, {})
    assert parse_tail(payload, read_head(payload)).candidates == ()


def test_year_window_is_configurable() -> None:
    payload = encode_checkpoint("th_1", "th", b"", "n", 1_000_000, 0, None, {})
    head = read_head(payload)
    assert parse_tail(payload, head).candidates == ()
    assert parse_tail(payload, head, min_year=1970).unique is not None


def test_truncated_and_garbage_tails_give_no_candidate() -> None:
    payload = _payload()
    head = read_head(payload)
    assert parse_tail(payload[:-1], head).candidates == ()
    assert parse_tail(payload + b"\x00", head).candidates == ()
    assert parse_tail(payload + b"garbage", head).candidates == ()


def test_metadata_beyond_the_size_bound_is_not_a_candidate() -> None:
    within = _payload(metadata={"k": "v" * (METADATA_MAX_BYTES - 40)})
    assert parse_tail(within, read_head(within)).unique is not None
    beyond = _payload(metadata={"k": "v" * METADATA_MAX_BYTES})
    assert parse_tail(beyond, read_head(beyond)).candidates == ()


def test_huge_zero_filled_file_searches_only_the_tail_window() -> None:
    # A preallocated or zeroed legacy file: empty id and thread, then megabytes of zeros.
    data = bytes(16 * 1024 * 1024)
    result = parse_tail(data, read_head(data))
    assert result.candidates == ()
    assert result.exhaustive


def test_read_head_errors_are_decode_errors() -> None:
    with pytest.raises(DecodeError):
        read_head(b"")
    with pytest.raises(DecodeError) as caught:
        read_head(struct.pack("<Q", 2**63))
    assert caught.value.offset == 0
    with pytest.raises(DecodeError) as caught:
        read_head(encode_string("ok") + struct.pack("<Q", 2) + b"\xc3\x28")
    assert caught.value.offset == 18


_nul_free = st.characters(codec="utf-8", exclude_characters="\x00")
_names = st.text(_nul_free, max_size=40)


@given(
    thread=st.text(_nul_free, min_size=1, max_size=20),
    counter=st.integers(0, 10**6),
    messages=st.lists(st.text(max_size=30), max_size=5),
    node=_names,
    secs=st.integers(946684800, 4102444799),
    nanos=st.integers(0, 999_999_999),
    has_parent=st.booleans(),
    metadata=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)
def test_round_trip(
    thread: str,
    counter: int,
    messages: list[str],
    node: str,
    secs: int,
    nanos: int,
    has_parent: bool,
    metadata: dict[str, str],
) -> None:
    checkpoint_id = f"{thread}_1a2b3c4d5e6f0a1b_chkpt{counter}"
    parent = f"{thread}_1a2b3c4d5e6f0a1b_chkpt{counter + 1}" if has_parent else None
    state = agent_state(counter % 7, messages)
    payload = encode_checkpoint(checkpoint_id, thread, state, node, secs, nanos, parent, metadata)
    head = read_head(payload)
    assert (head.checkpoint_id, head.thread_id) == (checkpoint_id, thread)
    result = parse_tail(payload, head)
    expected = CheckpointTail(node, secs, nanos, parent, metadata, head.state_start + len(state))
    # The true reading is always found; anything else is reported, never silently chosen.
    assert expected in result.candidates
    if not result.ambiguous:
        assert result.unique == expected


@given(st.binary(max_size=300))
def test_random_bytes_never_escape_as_other_errors(data: bytes) -> None:
    try:
        head = read_head(data)
    except DecodeError:
        head = CheckpointHead("th_1a2b3c4d5e6f0a1b_chkpt0", "th", 0)
    parse_tail(data, head)
    parse_tail(data, head, exhaustive=True)


@given(st.data())
def test_mutated_payloads_never_escape_as_other_errors(data: st.DataObject) -> None:
    payload = bytearray(_payload(metadata=data.draw(st.sampled_from([{}, {"k": "v"}]))))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(payload) - 1))
        payload[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(payload)))
    mutated = bytes(payload[:cut])
    try:
        head = read_head(mutated)
    except DecodeError:
        return
    for tail in parse_tail(mutated, head).candidates:
        assert head.state_start <= tail.state_end <= len(mutated)
