"""The repair plan made from a scan's rows equals the plan made from one record per file."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from dashfix.formats.variants import INDEX_NAME
from dashfix.inputs.checkpoint_files.scan import StoreScan, scan_store
from dashfix.inputs.checkpoint_record import OTHER, PLAIN, row_values
from dashfix.inputs.checkpoint_rows import StoreRows, batch_of
from dashfix.repair.index_rebuild import Order, read_old_index
from dashfix.repair.plan import RepairPlan, plan_from_scan
from dashfix.testing.checkpoints import (
    Header,
    StoreBuilder,
    append_bytes,
    damage_magic,
    flip_byte,
    set_declared_length,
    set_mtime,
    set_version,
    truncate,
)
from tests.repair.test_scan_adapter import every_candidate


def every_entry_a_record(scan: StoreScan) -> StoreScan:
    """The scan with every entry kept as its record (no PLAIN row), so that the plan takes
    the per-record way for every file."""
    records = scan.records
    rows = StoreRows([record.name for record in records])
    values = [(OTHER, *row_values(record)[1:]) for record in records]
    rows.fill(batch_of(0, values, list(enumerate(records)), rows.row_of))
    return StoreScan(scan.path, rows)


def faulty_store(root: Path, seed: int) -> None:
    """Healthy chains of several threads and checkpointers with a random mix of what repair
    acts on: header and CRC damage, damaged magics, temps (complete, partial, with and
    without their target, two for one target), renamed files, foreign files, a folder and a
    symlink named like checkpoints, legacy files, an index temp."""
    rng = random.Random(seed)
    builder = StoreBuilder(root, seed=seed)
    written = []
    for thread in ("t0", "t1", "t2", "t3"):
        written += builder.chain(thread, rng.randint(1, 12))
        if rng.random() < 0.5:
            builder.gzip_checkpoint(thread)
        if rng.random() < 0.5:
            builder.versioned_checkpoint(thread, compress=rng.random() < 0.5)
        if rng.random() < 0.3:
            builder.json_checkpoint(thread)
    written += builder.chain("legacy", 2, header=Header.LEGACY)
    builder.index()
    builder.lock()
    damages = (
        lambda c: flip_byte(c.path, 60), lambda c: damage_magic(c.path),
        lambda c: set_version(c.path, 2), lambda c: set_declared_length(c.path, 5),
        lambda c: truncate(c.path, 30), lambda c: append_bytes(c.path, b"junk"),
        lambda c: builder.temp_checkpoint(c, remove_target=True),
        lambda c: builder.temp_checkpoint(c, complete=False),
        lambda c: builder.temp_checkpoint(c),
        lambda c: set_mtime(c.path, rng.randint(1_600_000_000, 1_800_000_000)),
        lambda c: os.rename(c.path, c.path.with_name("renamed-" + c.path.name)),
    )
    for checkpoint in rng.sample(written, len(written) // 2):
        rng.choice(damages)(checkpoint)
    twice = written[-1]
    builder.temp_checkpoint(twice)
    builder.temp_checkpoint(twice, remove_target=True)
    builder.temp_index()
    builder.write_raw("foreign.bin", b"not a checkpoint")
    (root / "folder.bin").mkdir()
    (root / "link.bin").symlink_to(written[0].path.name)


def _outcome(store: Path, plan: RepairPlan) -> object:
    predicted = plan.predicted
    by_thread = every_candidate(predicted)
    index_plan = predicted.plan(read_old_index(store / INDEX_NAME), Order.AUTO)
    return plan.actions, plan.kept, by_thread, index_plan


def assert_rows_plan_like_records(store: Path) -> None:
    scan = scan_store(store)
    as_records = every_entry_a_record(scan)
    assert PLAIN in scan.rows.kinds and PLAIN not in as_records.rows.kinds
    from_rows = plan_from_scan(store, scan)
    from_records = plan_from_scan(store, as_records)
    assert from_rows.actions, "the store has faults to act on"
    assert _outcome(store, from_rows) == _outcome(store, from_records)


@pytest.mark.parametrize("seed", range(6))
def test_plan_from_rows_equals_plan_from_records(tmp_path: Path, seed: int) -> None:
    faulty_store(tmp_path, seed)
    assert_rows_plan_like_records(tmp_path)


def test_other_checkpointers_among_healthy_plain_files(tmp_path: Path) -> None:
    # Only PLAIN rows say that FileCheckpointer writes here, so the other checkpointers'
    # files must still be quarantined (#7).
    builder = StoreBuilder(tmp_path)
    builder.chain("alpha", 3)
    builder.gzip_checkpoint("gz")
    builder.versioned_checkpoint("vt", compress=True)
    assert_rows_plan_like_records(tmp_path)
