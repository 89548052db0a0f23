from __future__ import annotations

import os
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix import native
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_record import OTHER, PLAIN
from dashfix.inputs.checkpoint_rows import StoreRows
from dashfix.inputs.latest import latest_per_thread
from dashfix.repair.index_rebuild import Candidate, Order, choose, plan_index, read_old_index
from dashfix.repair.scan_adapter import (
    CandidateSet,
    _plain_contenders_python,
    candidates_of,
    collect_candidates,
)
from dashfix.testing.checkpoints import DEFAULT_PROC, StoreBuilder, damage_magic, flip_byte


def every_candidate(found: CandidateSet) -> dict[str, list[Candidate]]:
    """Each thread's candidates, every one of them, in row order: what the contenders
    stand for."""
    rows = found.rows
    by_row = dict(found.built)
    for row, kind in enumerate(rows.kinds):
        if kind == PLAIN:
            thread = rows.threads[row]
            assert thread is not None
            by_row[row] = Candidate(rows.names[row], rows.names[row][:-4], thread,
                                    (rows.secs[row], rows.nanos[row]), rows.mtimes[row])
    by_thread: dict[str, list[Candidate]] = {}
    for row in sorted(by_row):
        by_thread.setdefault(by_row[row].thread_id, []).append(by_row[row])
    return by_thread


def mixed_store(root: Path) -> StoreBuilder:
    builder = StoreBuilder(root)
    for thread in ("a", "b", "c"):
        builder.chain(thread, 4)
    flip_byte(builder.written[1].path, 50)
    damage_magic(builder.written[2].path)
    builder.checkpoint("a", name="renamed.bin")
    builder.write_raw("junk.bin", b"\xff" * 40)
    builder.versioned_checkpoint("v")
    builder.index()
    return builder


def test_candidates_and_exclusions(tmp_path: Path) -> None:
    builder = mixed_store(tmp_path)
    found = collect_candidates(tmp_path)
    by_thread = every_candidate(found)
    candidates = [c for thread in sorted(by_thread) for c in by_thread[thread]]
    # 12 DCHK files minus the corrupt and the damaged one, plus the Versioned checkpoint
    # (the index is shared by the three file checkpointers).
    assert len(candidates) == found.count == 11
    assert found.threads == set(by_thread)
    (versioned,) = by_thread["v"]
    assert versioned.name.endswith(".v.bin")
    reasons = dict(found.excluded)
    assert reasons[builder.written[1].path.name].startswith("CK104")
    assert reasons[builder.written[2].path.name].startswith("CK105")
    assert "does not match" in reasons["renamed.bin"]
    assert reasons["junk.bin"].startswith("CK115")
    assert all(c.embedded is not None for c in candidates)
    # Each thread's candidates come by name, as a plan over all of them sees them.
    assert candidates == sorted(candidates, key=lambda c: (c.thread_id, c.name))
    old = read_old_index(tmp_path / "index.bin")
    assert found.plan(old, Order.AUTO) == plan_index(candidates, old, Order.AUTO)


def test_embedded_order_agrees_with_verifys_latest_per_thread(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    builder.chain("a", 12)
    builder.checkpoint("a", counter=9, secs=builder.base_secs + 11)  # same time as chkpt11
    builder.restart()
    builder.chain("b", 3, proc="ffff0001")
    scan = scan_store(tmp_path)
    plan = candidates_of(scan).plan(read_old_index(tmp_path / "index.bin"), Order.EMBEDDED)
    expected = {t: r.checkpoint_id for t, r in latest_per_thread(scan.records).items()}
    assert {c.thread_id: c.value.checkpoint_id for c in plan.choices} == expected
    assert expected["a"].endswith("chkpt9")


@pytest.mark.parametrize("order", list(Order))
def test_a_plan_from_the_contenders_is_the_plan_from_every_candidate(
        tmp_path: Path, order: Order) -> None:
    """rebuild-index ranks a thread's PLAIN rows without a Candidate each (``contenders``):
    ties of the embedded time and of the mtime, ids that sort against their counters
    (chkpt9 > chkpt10) and built candidates among them give the plan of all candidates."""
    builder = mixed_store(tmp_path)
    for counter in (9, 10, 11):
        builder.checkpoint("t", checkpoint_id=f"t_{DEFAULT_PROC}_chkpt{counter}",
                           secs=1_700_000_000, nanos=5)
    builder.checkpoint("t", checkpoint_id=f"t_{DEFAULT_PROC}_chkpt3", secs=1_600_000_000)
    for at, written in enumerate(builder.written):
        os.utime(written.path, ns=(1_750_000_000_000_000_000 + at % 2,) * 2)
    found = collect_candidates(tmp_path)
    candidates = [c for group in every_candidate(found).values() for c in group]
    old = read_old_index(tmp_path / "index.bin")
    assert found.plan(old, order) == plan_index(candidates, old, order)


_NAMES = ["t_a_chkpt9.bin", "t_a_chkpt10.bin", "t_a_chkpt1.bin", "t_a.bin", "t_a-.bin",
          "t_\u00e9.bin", "t_\U0001d538.bin", "t_\u0100x.bin"]


def _columns(rows: list[tuple[int, str, int, int, int, int]]) -> StoreRows:
    """Columns of ``rows`` (kind, thread, name, secs, nanos, mtime); each thread a fresh
    string at every row, so that equal threads are not always one object."""
    columns = StoreRows([_NAMES[name] for _, _, name, *_ in rows])
    columns.kinds = bytearray(kind for kind, *_ in rows)
    columns.threads = ["".join(thread) for _, thread, *_ in rows]
    columns.secs = array("q", [secs for *_, secs, _, _ in rows])
    columns.nanos = array("q", [nanos for *_, nanos, _ in rows])
    columns.mtimes = array("q", [mtime for *_, mtime in rows])
    return columns


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from([PLAIN, PLAIN, OTHER]), st.sampled_from(["t", "u", "t_"]),
    st.integers(0, len(_NAMES) - 1), st.sampled_from([0, 7, 8]),
    st.sampled_from([0, 999_999_999]), st.sampled_from([-(2**62), -5, 0, 5, 2**62])),
    max_size=50))
def test_the_plain_contenders_in_c_answer_as_python_and_as_the_rule(
        rows: list[tuple[int, str, int, int, int, int]]) -> None:
    """Per thread, the PLAIN rows' count and first greatest rows by (embedded time, id)
    and by (mtime, id): in C, in Python, and as ``choose`` ranks every candidate (ties of
    the time, ids that sort against their counters, ids that differ in their last
    characters before ".bin" or in characters past Latin-1, mtimes before 1970)."""
    columns = _columns(rows)
    in_python = _plain_contenders_python(columns)
    if native.MODULE is not None:
        in_c = native.MODULE.plain_contenders(columns.kinds, columns.threads, columns.names,
                                              columns.secs, columns.nanos, columns.mtimes)
        assert list(in_c.items()) == [(thread, tuple(kept)) for thread, kept
                                      in in_python.items()]
    found = CandidateSet(columns)
    found.group()
    for thread, candidates in every_candidate(found).items():
        kept = in_python[thread]
        choice = choose(thread, candidates, Order.EMBEDDED)
        assert choice is not None and kept.files == len(candidates)
        assert columns.names[kept.by_embedded] == f"{choice.value.checkpoint_id}.bin"
        assert columns.names[kept.by_mtime] == f"{choice.by_mtime}.bin"


def test_the_plain_contenders_refuse_columns_of_another_shape() -> None:
    if native.MODULE is None:
        pytest.skip("the C helpers are not in use")
    columns = _columns([(PLAIN, "t", 0, 1, 0, 1), (PLAIN, "t", 1, 1, 0, 1)])
    args = [columns.kinds, columns.threads, columns.names, columns.secs, columns.nanos,
            columns.mtimes]
    for at, wrong in ((3, array("i", [1, 1])), (5, array("q", [1])), (1, ["t"])):
        with pytest.raises(TypeError):
            native.MODULE.plain_contenders(*args[:at], wrong, *args[at + 1:])
    with pytest.raises(ValueError):
        native.MODULE.plain_contenders(columns.kinds, columns.threads, ["t.bin", "bin"],
                                       columns.secs, columns.nanos, columns.mtimes)
