"""The C helpers of the stream checks answer as their Python twins do."""

from __future__ import annotations

from array import array

import pytest
from confluent_kafka import KafkaError, Message
from hypothesis import given
from hypothesis import strategies as st

from dashfix.native import (
    MODULE,
    key_hashes,
    key_misfits_python,
    message_block_python,
    shares_any,
)

int64s = st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60)


@given(int64s, int64s, st.booleans())
def test_shares_any_is_a_set_intersection(first: list[int], second: list[int],
                                          overlap: bool) -> None:
    if overlap and first:
        second = [*second, first[len(first) // 2]]
    assert shares_any(array("q", first), array("q", second)) == (
        not set(first).isdisjoint(second))


@given(st.lists(st.dictionaries(st.binary(max_size=24), st.binary(max_size=4), max_size=20),
                max_size=6))
def test_key_hashes_are_the_hashes_of_the_keys(dicts: list[dict[bytes, bytes]]) -> None:
    assert list(key_hashes(dicts)) == [hash(key) for keys in dicts for key in keys]


def test_a_schema_the_c_scanner_cannot_take_is_refused() -> None:
    """configure() refuses a field number over 64 rather than misreading it (scan.py then
    uses the Python twin, and ``make test`` fails on ``NATIVE``)."""
    if MODULE is None:
        pytest.skip("the C helpers are not in use")
    with pytest.raises(ValueError):
        MODULE.configure((((65, 1, False, -1),),), 0, 0, 0, (), (), ())


def _c_helpers() -> None:
    if MODULE is None:
        pytest.skip("the C helpers are not in use")


_maybe_bytes = st.none() | st.binary(max_size=12)
_messages = st.lists(st.tuples(st.integers(0, 2**63 - 1), _maybe_bytes, _maybe_bytes,
                               st.integers(0, 40)), max_size=30)


@given(_messages)
def test_message_block_reads_a_batch_as_its_python_twin_does(
        batch: list[tuple[int, bytes | None, bytes | None, int]]) -> None:
    """The records and keys of a batch; None (and no keys) when a message is an error,
    wherever it is; stale keys never survive."""
    _c_helpers()
    messages = [Message(topic="t", partition=0, offset=offset, key=key, value=value,
                        error=KafkaError(KafkaError._PARTITION_EOF) if error == 0 else None)
                for offset, key, value, error in batch]
    twin_keys: dict[int, bytes | None] = {-1: b"stale"}
    keys: dict[int, bytes | None] = {-1: b"stale"}
    assert MODULE.message_block(messages, keys) == message_block_python(messages, twin_keys)
    assert keys == twin_keys


def test_message_block_refuses_a_mixed_batch() -> None:
    _c_helpers()
    with pytest.raises(TypeError):
        MODULE.message_block([Message(topic="t", offset=1), (1, 0, b"")], {})


_threads = st.sampled_from(["t-a", "t-b", "t-\u00e9", ""])


@given(st.lists(st.tuples(_threads, st.none() | _threads.map(str.encode) | st.binary(max_size=3),
                          st.booleans()), max_size=30),
       st.dictionaries(_threads, st.integers(0, 3), max_size=4), st.integers(0, 3))
def test_key_misfits_are_those_of_the_python_twin(
        records: list[tuple[str, bytes | None, bool]], homes: dict[str, int],
        partition: int) -> None:
    """The same indexes, and the same homes set, for keys that match, differ or are
    missing, threads at home or elsewhere, and records without a scan."""
    _c_helpers()
    block = [(offset, 0, b"") for offset in range(len(records))]
    scans = [(1, thread, 0) if scanned else None for thread, _, scanned in records]
    keys = {offset: key for offset, (_, key, _) in enumerate(records)}
    twin_homes = dict(homes)
    assert MODULE.key_misfits(block, scans, keys, homes, partition) == key_misfits_python(
        block, scans, keys, twin_homes, partition)
    assert homes == twin_homes


def test_key_misfits_wants_each_records_key() -> None:
    _c_helpers()
    with pytest.raises(KeyError):
        MODULE.key_misfits([(7, 0, b"")], [(1, "t-a", 0)], {}, {}, 0)


def test_a_summary_type_without_writable_slots_is_refused() -> None:
    """track_configure() refuses a class whose fields are not plain slots (sequences.py
    then uses take_common_python)."""
    if MODULE is None:
        pytest.skip("the C helpers are not in use")

    class Plain:
        messages = sequenced = expected = last_sequence = last_ordered_us = 0
        first_timestamp_us = last_timestamp_us = seen = previous = None

    with pytest.raises(ValueError):
        MODULE.track_configure(Plain)
