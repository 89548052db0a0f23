from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.formats.ids import (
    IdScheme,
    ParsedId,
    id_matches_thread,
    is_current_scheme,
    is_path_unsafe,
    parse_id,
    proc_and_counter,
)

UUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.mark.parametrize(
    ("checkpoint_id", "expected"),
    [
        (
            "alpha_1a2b3c4d5e6f0a1b_chkpt0",
            ParsedId(IdScheme.CURRENT, "alpha", "1a2b3c4d5e6f0a1b", 0),
        ),
        (
            "beta_team_7_8d3e1f2a4b5c04d2_chkpt12",
            ParsedId(IdScheme.CURRENT, "beta_team_7", "8d3e1f2a4b5c04d2", 12),
        ),
        ("t_abcd1_chkpt3", ParsedId(IdScheme.CURRENT, "t", "abcd1", 3)),
        ("demo_1_0", ParsedId(IdScheme.COUNTER, "demo_1", None, 0)),
        (UUID, ParsedId(IdScheme.UUID, None, None, None, uuid=UUID)),
        (f"t1_{UUID}", ParsedId(IdScheme.UUID_PREFIXED, "t1", None, None, uuid=UUID)),
        (
            f"t1_1760000000_{UUID}",
            ParsedId(IdScheme.SECS_UUID, "t1", None, None, uuid=UUID, secs=1760000000),
        ),
        ("session-123", ParsedId(IdScheme.UNKNOWN, None, None, None)),
        # Upper-case hex is not what DashFlow writes, so it is not the current scheme.
        ("t_ABCDEF_chkpt1", ParsedId(IdScheme.UNKNOWN, None, None, None)),
    ],
)
def test_parse_id(checkpoint_id: str, expected: ParsedId) -> None:
    assert parse_id(checkpoint_id) == expected
    assert is_current_scheme(checkpoint_id) == (expected.scheme is IdScheme.CURRENT)


def test_pid_part_is_last_four_hex_digits() -> None:
    assert parse_id("t_1a2b3c4d5e6f0a1b_chkpt0").pid_part == "0a1b"


@pytest.mark.parametrize(
    ("checkpoint_id", "thread_id", "matches"),
    [
        ("alpha_1a2b3c4d5e6f0a1b_chkpt0", "alpha", True),
        ("alpha_1a2b3c4d5e6f0a1b_chkpt0", "beta", False),
        ("a_1_5", "a_1", True),
        # Thread "a" writes "a_<n>"; "a_1_5" is counter 5 of thread "a_1".
        ("a_1_5", "a", False),
        ("demo_1_0", "demo", False),
        (UUID, "anything", True),
        (f"t1_{UUID}", "t1", True),
        (f"t1_{UUID}", "t2", False),
        ("t1_custom", "t1", True),
        ("custom", "t1", False),
    ],
)
def test_id_matches_thread(checkpoint_id: str, thread_id: str, matches: bool) -> None:
    assert id_matches_thread(checkpoint_id, thread_id) is matches


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("/etc/passwd", "starts with '/'"),
        ("a/b", "contains '/'"),
        ("a\\b", "'\\'"),
        ("..", "'..'"),
        ("x..y", "'..'"),
        ("c:x", "':'"),
        ("a\x00b", "NUL"),
    ],
)
def test_path_unsafe(value: str, fragment: str) -> None:
    reason = is_path_unsafe(value)
    assert reason is not None and fragment in reason


def test_path_safe() -> None:
    assert is_path_unsafe("alpha_1a2b3c4d5e6f0a1b_chkpt0") is None
    assert is_path_unsafe(".hidden") is None


@given(
    st.text(max_size=40),
    st.integers(0, 10**9),
    st.text("0123456789abcdef", min_size=5, max_size=16),
)
def test_generated_current_ids_parse_back(thread: str, counter: int, proc: str) -> None:
    checkpoint_id = f"{thread}_{proc}_chkpt{counter}"
    parsed = parse_id(checkpoint_id)
    assert parsed == ParsedId(IdScheme.CURRENT, thread, proc, counter)
    assert id_matches_thread(checkpoint_id, thread)


# The spec's regexes for the two schemes the fast reading handles (spec section 3), with
# DashFlow's u64 counter (at most 20 digits): the oracle of `proc_and_counter`.
_SPEC_CURRENT = re.compile(r"(?P<thread>.*)_(?P<proc>[0-9a-f]{5,16})_chkpt(?P<n>[0-9]{1,20})",
                           re.DOTALL)
_SPEC_COUNTER = re.compile(r"(?P<thread>.*)_(?P<n>[0-9]{1,20})", re.DOTALL)
_ID_PARTS = st.text(alphabet="ab_0123456789cdefxyzchkpt-\n\u0663", max_size=60)


@given(_ID_PARTS | st.text(max_size=30))
def test_the_fast_reading_is_the_spec_regexes(checkpoint_id: str) -> None:
    current = _SPEC_CURRENT.fullmatch(checkpoint_id)
    counter = _SPEC_COUNTER.fullmatch(checkpoint_id)
    fast = proc_and_counter(checkpoint_id)
    parsed = parse_id(checkpoint_id)
    if current is not None:
        assert fast == (IdScheme.CURRENT, current["proc"], int(current["n"]))
        assert parsed == ParsedId(IdScheme.CURRENT, current["thread"], current["proc"],
                                  int(current["n"]))
    elif counter is not None:
        assert fast == (IdScheme.COUNTER, "", int(counter["n"]))
        assert parsed == ParsedId(IdScheme.COUNTER, counter["thread"], None, int(counter["n"]))
    else:
        assert fast is None
        assert parsed.scheme not in (IdScheme.CURRENT, IdScheme.COUNTER)
    assert is_current_scheme(checkpoint_id) == (current is not None)
    if parsed.thread_id is not None:
        assert id_matches_thread(checkpoint_id, parsed.thread_id)


@pytest.mark.parametrize("checkpoint_id", [
    "t_abcde_chkpt" + "1" * 21, "t_" + "1" * 21, "t_abcde_chkpt" + "1" * 5000, "t_" + "9" * 5000,
])
def test_a_counter_longer_than_a_u64_is_no_scheme(checkpoint_id: str) -> None:
    # Python refuses (ValueError) to turn more than 4300 digits into an int: no parse tries.
    assert proc_and_counter(checkpoint_id) is None
    assert parse_id(checkpoint_id).scheme is IdScheme.UNKNOWN
    assert id_matches_thread(checkpoint_id, "t")


def test_the_largest_u64_is_a_counter() -> None:
    largest = 2**64 - 1
    assert proc_and_counter(f"t_abcde_chkpt{largest}") == (IdScheme.CURRENT, "abcde", largest)
    assert proc_and_counter(f"t_{largest}") == (IdScheme.COUNTER, "", largest)


def test_seconds_longer_than_a_u64_are_no_secs_uuid_id() -> None:
    # 5000 digits once raised ValueError here too.
    long_secs = f"t_{'1' * 5000}_{UUID}"
    assert parse_id(long_secs) == ParsedId(IdScheme.UUID_PREFIXED, f"t_{'1' * 5000}", None, None,
                                           uuid=UUID)
    assert not id_matches_thread(f"a_b_{'1' * 5000}_{UUID}", "a")
    assert parse_id(f"t_{'9' * 20}_{UUID}").secs == 10**20 - 1
