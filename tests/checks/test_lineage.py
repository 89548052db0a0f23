"""The lineage checks are written once: over a file store's columns and over a backend's
table built from the same checkpoints, they find the same things."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix import native
from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.lineage import chains, writers
from dashfix.checks.lineage.backends import BackendView
from dashfix.checks.lineage.view import LineageView
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_model import CheckpointEntry, CheckpointTable, Place
from dashfix.inputs.checkpoint_record import OTHER, PLAIN, is_timed
from dashfix.inputs.latest import FILE_SCAN
from dashfix.testing.checkpoints import StoreBuilder

INTEROP = Path(__file__).resolve().parents[2] / "fixtures" / "interop"


def _concurrent(root: Path) -> Path:
    store = StoreBuilder(root)
    store.chain("alpha", 3)
    store.checkpoint("alpha", proc="ffee00112233abcd", parent=None)
    store.checkpoint("alpha", proc="1a2b3c4d5e6f0a1b")
    store.checkpoint("beta", parent="missing_1a2b3c4d5e6f0a1b_chkpt9")
    return root


def _as_table(store: Path) -> CheckpointTable:
    table = CheckpointTable(Place.FILE, lambda thread, checkpoint_id: f"{checkpoint_id}.bin")
    for record in scan_store(store).records:
        if is_timed(record):
            assert record.checkpoint_id is not None and record.thread_id is not None
            table.add(CheckpointEntry(
                record.checkpoint_id, record.thread_id, record.node or "",
                record.secs * 1_000_000_000 + record.nanos, record.parent_id, None,
                record.state_end - record.state_start, None, Place.FILE, record.name))
    table.freeze()
    return table


def _seen(findings: list[Finding]) -> set[tuple[str, str | None, str | None, str]]:
    # A backend names an entry of a store that is its own root "#name" (a logical location).
    return {(f.code, f.thread_id, f.checkpoint_id, f.path.removeprefix("#")) for f in findings}


@pytest.mark.parametrize(("make", "codes"), [
    (lambda tmp: INTEROP / "ckpt-collision-restart", {"CK140", "CK145"}),
    (lambda tmp: INTEROP / "ckpt-healthy", set()),
    (_concurrent, {"CK142", "CK150"}),
])
def test_same_findings_over_files_and_over_a_table(
    tmp_path: Path, make: Callable[[Path], Path], codes: set[str]
) -> None:
    store = make(tmp_path / "store")
    file_view = StoreView.of(scan_store(store), ".")
    table_view = BackendView(_as_table(store), ".", set())
    over_files = [*chains.check(file_view), *writers.check(file_view)]
    over_table = [*chains.check(table_view), *writers.check(table_view)]
    assert {f.code for f in over_files} == codes
    assert _seen(over_files) == _seen(over_table)


class _Columns:
    """Just the columns ``group_timed_rows`` reads."""

    def __init__(self, rows: list[tuple[str | None, str | None, int, int, str | None]]) -> None:
        self.threads = [row[0] for row in rows]
        self.procs = [None if row[0] is None else row[1] for row in rows]  # no ids, no proc
        self.secs = array("q", [row[2] for row in rows])
        self.nanos = array("q", [row[3] for row in rows])
        self.ids = [row[4] for row in rows]

    def checkpoint_id(self, row: int) -> str | None:
        return self.ids[row]


def _grouped_both_ways(columns: _Columns) -> tuple[Any, Any]:
    try:
        from dashfix import _native  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover (make test requires the build)
        pytest.skip("the C helpers are not built")
    in_c = _native.group_timed_rows(columns.threads, columns.procs, columns.secs,
                                    columns.nanos, columns.checkpoint_id, array)
    view = LineageView.__new__(LineageView)
    view.rows = columns  # type: ignore[assignment]
    view.by_thread_proc = {}
    view._group_timed_rows()
    latest = FILE_SCAN.latest_rows(columns.threads, columns.secs, columns.nanos,
                                   columns.checkpoint_id)
    return in_c, (latest, view.by_thread_proc)


_THREADS = ["t", "u", "t_x"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from([*_THREADS, None]), st.sampled_from([None, "p1", "p2"]),
    st.sampled_from([-1, 5, 6, 7]), st.sampled_from([0, 1]),
    st.sampled_from([None, "a", "b", "a9", "a10"])), max_size=60))
def test_grouping_timed_rows_in_c_answers_as_python(
        rows: list[tuple[str | None, str | None, int, int, str | None]]) -> None:
    """The latest row per thread (ties of the timestamp broken by the id string, None as
    "") and the rows of each (thread, process), in C and in Python, in the same order."""
    in_c, in_python = _grouped_both_ways(_Columns(rows))
    assert [list(part.items()) for part in in_c] == [list(part.items()) for part in in_python]
    assert all(group.typecode == "q" for group in in_c[1].values())


def test_grouping_timed_rows_on_a_store(tmp_path: Path) -> None:
    store = _concurrent(tmp_path)
    rows = scan_store(store).rows
    in_c, in_python = _grouped_both_ways(rows)  # type: ignore[arg-type]
    assert in_c == in_python and in_c[0] and in_c[1]


class _ParentColumns(_Columns):
    """The columns ``parent_pass`` reads, no id carried twice."""

    def __init__(self, rows: list[tuple[int, str, int, int]]) -> None:
        count = len(rows)
        super().__init__([(thread, None, moment, 0, f"id{at}")
                          for at, (_, thread, moment, _) in enumerate(rows)])
        self.parent_rows = array("q", [min(parent, count - 1) for parent, *_ in rows])
        self.kinds = bytearray(kind for *_, kind in rows)
        self.other_ids: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.threads)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 12), st.sampled_from(_THREADS),
                          st.sampled_from([-1, 5, 6]), st.sampled_from([PLAIN, OTHER])),
                min_size=1, max_size=40))
def test_the_parent_pass_in_c_answers_as_python(rows: list[tuple[int, str, int, int]]) -> None:
    """The rows left to the slow path with their siblings, and the forks among the healthy
    rows, in C and in Python."""
    if native.MODULE is None:
        pytest.skip("the C helpers are not in use")
    columns = _ParentColumns(rows)
    in_c = chains._parent_pass(columns)  # type: ignore[arg-type]
    in_python = chains._parent_pass_python(columns)  # type: ignore[arg-type]
    assert (list(in_c[0]), list(in_c[1]), in_c[2]) == in_python


def test_a_table_takes_an_id_whose_counter_is_longer_than_a_u64() -> None:
    # 5000 digits once raised ValueError (Python turns at most 4300 digits into an int).
    table = CheckpointTable(Place.FILE, lambda thread, checkpoint_id: f"{checkpoint_id}.bin")
    for digits in ("7", "7" * 21, "7" * 5000):
        table.add(CheckpointEntry(f"t_abcde_chkpt{digits}", "t", "n", 1_700_000_000_000_000_000,
                                  None, None, 0, None, Place.FILE, f"{len(digits)}.bin"))
    table.freeze()
    assert list(table.procs) == ["abcde", None, None]
    assert list(table.counters) == [7, -1, -1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["t", "u"]), st.sampled_from(["", "p1", "p2"]),
                          st.integers(-1, 4), st.sampled_from([5, 6, 2**40]),
                          st.sampled_from([0, 1, 999_999_999])), max_size=40),
       st.lists(st.integers(0, 39), max_size=2))
def test_the_counter_order_pass_in_c_answers_as_python(
        rows: list[tuple[str, str, int, int, int]], latest: list[int]) -> None:
    """The groups whose times go back along their counters (equal counters in row order;
    the thread's latest row left out only when it is of the group's process), in C and
    in Python, in the dict's order."""
    if native.MODULE is None:
        pytest.skip("the C helpers are not in use")
    view = LineageView.__new__(LineageView)
    columns = _Columns([(thread, proc, secs, nanos, None)
                        for thread, proc, _, secs, nanos in rows])
    columns.counters = array("q", [counter for _, _, counter, _, _ in rows])  # type: ignore[attr-defined]
    view.rows = columns  # type: ignore[assignment]
    view.by_thread_proc = {}
    view._group_timed_rows()
    view.latest_rows = {rows[row][0]: row for row in latest if row < len(rows)}
    in_c = [key for key, _ in chains._counter_groups(view)]
    in_python = [(thread, proc) for (thread, proc), group in view.by_thread_proc.items()
                 if (moments := chains._members(view, thread, proc, group)[1]) != sorted(moments)]
    assert in_c == in_python


def test_counter_inversions_are_found_in_c_as_in_python() -> None:
    store = INTEROP / "ckpt-collision-restart"
    in_c = [*chains.check(StoreView.of(scan_store(store), "."))]
    saved = native.MODULE
    native.MODULE = None
    try:
        in_python = [*chains.check(StoreView.of(scan_store(store), "."))]
    finally:
        native.MODULE = saved
    assert [f.code for f in in_c] == [f.code for f in in_python] and "CK145" in {
        f.code for f in in_c}
    assert [f.message for f in in_c] == [f.message for f in in_python]
