"""The C helpers of the stream checks answer as their Python twins do."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.native import MODULE, key_hashes, shares_any

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
