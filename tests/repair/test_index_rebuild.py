from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix.formats.index import IndexEntry, encode_index
from dashfix.repair.index_rebuild import (
    DROPPED_LISTED,
    Basis,
    Candidate,
    OldIndex,
    Order,
    choose,
    plan_index,
    read_old_index,
)

S = 1_000_000_000
NO_INDEX = OldIndex(None, {}, None)


def cand(cid: str, embedded: tuple[int, int] | None, mtime_s: int, thread: str = "t") -> Candidate:
    return Candidate(f"{cid}.bin", cid, thread, embedded, mtime_s * S)


def test_embedded_order_is_dashflows_rule_with_string_tie_break() -> None:
    files = [cand("t_a_chkpt9", (100, 0), 1), cand("t_a_chkpt10", (100, 0), 2)]
    choice = choose("t", files, Order.EMBEDDED)
    assert choice is not None
    # "chkpt9" > "chkpt10" as strings, exactly like DashFlow.
    assert choice.value == IndexEntry("t_a_chkpt9", 100, 0)
    assert choice.ranked_by is Basis.EMBEDDED


def test_mtime_and_embedded_disagree_and_each_mode_follows_its_basis() -> None:
    files = [cand("t_a_chkpt1", (200, 5), 10), cand("t_a_chkpt2", (100, 0), 20)]
    by_embedded = choose("t", files, Order.EMBEDDED)
    by_mtime = choose("t", files, Order.MTIME)
    assert by_embedded is not None and by_mtime is not None
    assert by_embedded.value == IndexEntry("t_a_chkpt1", 200, 5)
    # The index value is the embedded time even when ranked by mtime.
    assert by_mtime.value == IndexEntry("t_a_chkpt2", 100, 0)
    assert by_mtime.ranked_by is Basis.MTIME and by_mtime.value_from is Basis.EMBEDDED
    assert by_embedded.orders_disagree and by_mtime.orders_disagree


def test_auto_uses_mtime_only_where_embedded_is_unknown() -> None:
    files = [cand("t_a_chkpt1", (500, 0), 10), cand("t_a_chkpt2", None, 600)]
    choice = choose("t", files, Order.AUTO)
    assert choice is not None
    assert choice.value == IndexEntry("t_a_chkpt2", 600, 0)
    assert choice.ranked_by is Basis.MTIME and choice.value_from is Basis.MTIME
    only_known = choose("t", [cand("t_a_chkpt1", (500, 7), 10)], Order.AUTO)
    assert only_known is not None and only_known.ranked_by is Basis.EMBEDDED
    assert not only_known.orders_disagree


def test_embedded_mode_leaves_threads_without_known_time_unranked() -> None:
    plan = plan_index([cand("u_1", None, 5, thread="u")], NO_INDEX, Order.EMBEDDED)
    assert plan.choices == [] and plan.unranked_threads == ["u"]


def test_a_pre_epoch_mtime_leaves_the_thread_out_instead_of_a_value_u64_cannot_hold() -> None:
    files = [cand("p_1", None, -86400, thread="p"), cand("q_1", (5, 0), -3, thread="q")]
    for order in (Order.AUTO, Order.MTIME):
        plan = plan_index(files, NO_INDEX, order)
        # q's value is its embedded time, whatever its mtime.
        assert plan.entries == {"q": IndexEntry("q_1", 5, 0)}
        assert [(c.thread_id, c.value.secs) for c in plan.pre_epoch] == [("p", -86400)]
        encode_index(plan.entries)


def test_diff_added_changed_dropped_unchanged() -> None:
    files = [
        cand("a_1", (10, 0), 1, thread="a"),
        cand("b_2", (20, 0), 1, thread="b"),
        cand("c_1", (30, 0), 1, thread="c"),
    ]
    old = {
        "b": IndexEntry("b_1", 5, 0),
        "c": IndexEntry("c_1", 30, 0),
        "gone": IndexEntry("gone_1", 1, 0),
    }
    plan = plan_index(files, OldIndex(100, old, None))
    assert [c.thread_id for c in plan.changes_of("added")] == ["a"]
    assert [(c.old, c.new) for c in plan.changes_of("changed")] == [
        (IndexEntry("b_1", 5, 0), IndexEntry("b_2", 20, 0))
    ]
    assert [c.thread_id for c in plan.changes_of("dropped")] == ["gone"]
    assert plan.unchanged == 1
    assert plan.writes_something


def test_identical_index_writes_nothing() -> None:
    old = OldIndex(64, {"a": IndexEntry("a_1", 10, 3)}, None)
    plan = plan_index([cand("a_1", (10, 3), 1, thread="a")], old)
    assert plan.changes == [] and not plan.writes_something


def test_corrupt_old_index_is_rewritten_even_without_entries(tmp_path: Path) -> None:
    (tmp_path / "index.bin").write_bytes(b"\x05\x00")
    old = read_old_index(tmp_path / "index.bin")
    assert old.state == "corrupt" and old.problem is not None
    assert plan_index([], old).writes_something
    missing = read_old_index(tmp_path / "absent.bin")
    assert missing.state == "missing" and not plan_index([], missing).writes_something


def test_an_index_far_larger_than_the_store_is_not_held(tmp_path: Path) -> None:
    entries = {f"gone-{i:05d}": IndexEntry(f"gone-{i:05d}_1", i, 0) for i in range(5_000)}
    entries["a"] = IndexEntry("a_1", 10, 3)
    (tmp_path / "index.bin").write_bytes(encode_index(entries))
    old = read_old_index(tmp_path / "index.bin", {"a"}.__contains__)
    assert old.entries["a"] == IndexEntry("a_1", 10, 3)
    assert len(old.entries) == 1 + DROPPED_LISTED and old.unlisted == 5_000 - DROPPED_LISTED
    assert old.total == 5_001
    plan = plan_index([cand("a_1", (10, 3), 1, thread="a")], old)
    assert len(plan.changes_of("dropped")) == DROPPED_LISTED and plan.writes_something


def test_a_symlinked_or_odd_index_is_reported_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(encode_index({}))
    (tmp_path / "index.bin").symlink_to(tmp_path / "real.bin")
    assert read_old_index(tmp_path / "index.bin").problem == "index.bin: a symlink"
    (tmp_path / "index.bin").unlink()
    (tmp_path / "index.bin").mkdir()
    problem = read_old_index(tmp_path / "index.bin").problem
    assert problem is not None and problem.endswith("not a regular file")


def _best_by_tuples(candidates: list[Candidate], rank: str) -> Candidate | None:
    """The ranking index_rebuild had before it took ``FILE_SCAN``'s: the first greatest
    (secs, nanos, id), ``rank`` picking the time (kept here as the oracle)."""
    best: Candidate | None = None
    best_key: tuple[int, int, str] | None = None
    for candidate in candidates:
        if rank == "embedded":
            if candidate.embedded is None:
                continue
            time = candidate.embedded
        elif rank == "mtime":
            time = candidate.mtime
        else:
            time = candidate.embedded or candidate.mtime
        key = (time[0], time[1], candidate.checkpoint_id)
        if best_key is None or key > best_key:
            best, best_key = candidate, key
    return best


_RANKS = {Order.EMBEDDED: "embedded", Order.MTIME: "mtime", Order.AUTO: "auto"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["t_a_chkpt9", "t_a_chkpt10", "t_a", "t_a-", "t_\u00e9"]),
    st.sampled_from(["t", "u"]),
    st.none() | st.tuples(st.sampled_from([0, 7, 8, 2**40]), st.sampled_from([0, 1, 999_999_999])),
    st.sampled_from([-(2**62), -1_000_000_001, -1, 0, 7 * S, 7 * S + 1, 8 * S - 1, 2**62])),
    min_size=1, max_size=30))
def test_the_latest_rule_gives_the_index_the_tuple_ranking_gave(
        files: list[tuple[str, str, tuple[int, int] | None, int]]) -> None:
    """``choose`` ranks by ``FILE_SCAN`` (nanoseconds, then the id string): the same
    choices, and the same index bytes, as the (secs, nanos, id) tuples it ranked by before,
    for ties of the time, mtimes before 1970 and files without an embedded time."""
    candidates = [Candidate(f"{cid}.bin", cid, thread, embedded, mtime)
                  for cid, thread, embedded, mtime in files]
    for order, rank in _RANKS.items():
        plan = plan_index(candidates, NO_INDEX, order)
        expected: dict[str, IndexEntry] = {}
        for thread in sorted({c.thread_id for c in candidates}):
            mine = [c for c in candidates if c.thread_id == thread]
            chosen = _best_by_tuples(mine, rank)
            by_mtime = _best_by_tuples(mine, "mtime")
            by_embedded = _best_by_tuples(mine, "embedded")
            choice = choose(thread, mine, order)
            if chosen is None:
                assert choice is None
                continue
            assert choice is not None and by_mtime is not None
            assert (choice.by_mtime, choice.by_embedded) == (
                by_mtime.checkpoint_id, by_embedded and by_embedded.checkpoint_id)
            secs, nanos = chosen.embedded or chosen.mtime
            expected[thread] = IndexEntry(chosen.checkpoint_id, secs, nanos)
        # Before 1970 (an mtime only): no u64 holds it, so the thread is left out.
        representable = {t: entry for t, entry in expected.items() if entry.secs >= 0}
        assert plan.entries == representable
        assert {choice.thread_id: choice.value for choice in plan.pre_epoch} == {
            t: entry for t, entry in expected.items() if entry.secs < 0}
        assert encode_index(plan.entries) == encode_index(representable)
