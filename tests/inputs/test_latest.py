"""The latest-checkpoint rule: its fast per-thread pass is its own ``rank`` order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dashfix.inputs.checkpoint_model import NS_PER_MS
from dashfix.inputs.latest import FILE_SCAN, LatestRule

NS_PER_SEC = 1_000_000_000

_ROWS = st.lists(st.tuples(
    st.sampled_from([None, "t", "u"]),
    st.sampled_from([-1, 0, 5, 1_700_000_000]),
    st.sampled_from([0, 1, 999_999, 1_000_000, 1_500_000, 999_999_999]),
    st.sampled_from([None, "", "t_9", "t_10", "t_p_chkpt9", "t_p_chkpt10", "é"]),
), max_size=12)


@given(_ROWS, st.sampled_from([1, NS_PER_MS, NS_PER_SEC, 0]), st.booleans())
def test_latest_rows_is_the_greatest_rank_first_met(
    rows: list[tuple[str | None, int, int, str | None]], unit_ns: int, tie_break: bool,
) -> None:
    rule = LatestRule("test", unit_ns, tie_break)
    threads = [row[0] for row in rows]
    latest = rule.latest_rows(threads, [row[1] for row in rows], [row[2] for row in rows],
                              lambda row: rows[row][3])
    expected: dict[str, int] = {}
    for thread in {thread for thread in threads if thread is not None}:
        taking = [index for index, (owner, secs, _nanos, _id) in enumerate(rows)
                  if owner == thread and (secs >= 0 or not unit_ns)]
        if taking:
            def rank(index: int) -> tuple[float, str]:
                _owner, secs, nanos, checkpoint_id = rows[index]
                time = (secs * NS_PER_SEC + nanos) // unit_ns if unit_ns else 0
                return rule.rank(time, checkpoint_id or "")
            expected[thread] = max(taking, key=rank)  # max keeps the first of equals
    assert latest == expected


def test_the_file_scan_breaks_ties_on_the_id_string() -> None:
    # `chkpt9` is the greater string: DashFlow resumes from it, not from `chkpt10`.
    rows = FILE_SCAN.latest_rows(["t", "t", "t"], [7, 7, 6], [3, 3, 9],
                                 ["t_p_chkpt10", "t_p_chkpt9", "t_p_chkpt11"].__getitem__)
    assert rows == {"t": 1}


def test_a_rule_without_time_orders_by_id_alone() -> None:
    dynamodb = LatestRule("sort key", 0)
    assert dynamodb.latest_rows(["t", "t"], [-1, 9], [0, 0], ["t_b", "t_a"].__getitem__) == {
        "t": 0}
