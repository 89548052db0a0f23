from __future__ import annotations

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
