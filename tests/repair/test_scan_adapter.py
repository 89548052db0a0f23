from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.latest import latest_per_thread
from dashfix.repair.index_rebuild import Order, plan_index, read_old_index
from dashfix.repair.scan_adapter import candidates_of, collect_candidates
from dashfix.testing.checkpoints import DEFAULT_PROC, StoreBuilder, damage_magic, flip_byte


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
    candidates = [c for thread in found.thread_rows for c in found.of_thread(thread)]
    # 12 DCHK files minus the corrupt and the damaged one, plus the Versioned checkpoint
    # (the index is shared by the three file checkpointers).
    assert len(candidates) == found.count == 11
    (versioned,) = found.of_thread("v")
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
    candidates = [c for thread in found.thread_rows for c in found.of_thread(thread)]
    old = read_old_index(tmp_path / "index.bin")
    assert found.plan(old, order) == plan_index(candidates, old, order)
