"""``CheckpointTable`` keeps no id -> row table while entries come in: a parent is looked for
as its thread's previous entry and ``freeze`` settles the rest. Whatever the order entries
come in, and whether they come one at a time or as pages of columns, the frozen table must
say what a plain id -> first row lookup says."""

from __future__ import annotations

import random

import pytest

from dashfix.inputs.checkpoint_model import CheckpointEntry, CheckpointTable, Place
from dashfix.inputs.checkpoint_rows import LOST_PARENT, NO_PARENT

PROC = "1a2b3c4d5e6f0a1b"


def _entries(seed: int) -> list[CheckpointEntry]:
    """Chains of three threads, in save order or shuffled (as Redis's SCAN lists them),
    with the faults the lineage checks look for: an id carried twice (same thread and
    across threads), a parent that is missing, one of another thread, one that is not the
    thread's previous entry (a fork), a self parent and ids of the counter and of no
    scheme."""
    rng = random.Random(seed)
    entries: list[tuple[str, str, str | None]] = []
    for step in range(60):
        for thread in ("alpha", "beta", "gamma"):
            parent = None if step == 0 else f"{thread}_{PROC}_chkpt{step - 1}"
            entries.append((f"{thread}_{PROC}_chkpt{step}", thread, parent))
    entries += [
        (f"alpha_{PROC}_chkpt2", "alpha", f"alpha_{PROC}_chkpt1"),   # overwritten again
        (f"beta_{PROC}_chkpt3", "gamma", f"gamma_{PROC}_chkpt5"),    # carried across threads
        ("alpha_7", "alpha", f"alpha_{PROC}_chkpt0"),                # fork, counter scheme
        ("delta-root", "delta", "nowhere_1"),                        # missing parent
        ("delta_9", "delta", f"beta_{PROC}_chkpt1"),                 # parent of another thread
        ("self_0", "self", "self_0"),                                # its own parent
    ]
    if seed % 2:  # else in save order, as a database lists them
        rng.shuffle(entries)
    return [CheckpointEntry(checkpoint_id, thread, "node", 1_760_000_000_000_000_000 + at,
                            parent, None, 0, None, Place.ROW, checkpoint_id)
            for at, (checkpoint_id, thread, parent) in enumerate(entries)]


def _expected(entries: list[CheckpointEntry]) -> tuple[list[int], dict[int, str],
                                                       dict[str, list[int]]]:
    first: dict[str, int] = {}
    carriers: dict[str, list[int]] = {}
    for row, entry in enumerate(entries):
        first.setdefault(entry.checkpoint_id, row)
        carriers.setdefault(entry.checkpoint_id, []).append(row)
    parent_rows = [NO_PARENT if entry.parent_id is None else
                   first.get(entry.parent_id, LOST_PARENT) for entry in entries]
    lost = {row: entry.parent_id for row, entry in enumerate(entries)
            if entry.parent_id is not None and entry.parent_id not in first}
    return parent_rows, lost, {key: rows for key, rows in carriers.items() if len(rows) > 1}


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("page", [1, 4, 100])
def test_a_frozen_table_resolves_as_an_id_lookup_would(seed: int, page: int) -> None:
    entries = _entries(seed)
    table = CheckpointTable(Place.ROW, lambda thread, checkpoint_id: checkpoint_id)
    for at in range(0, len(entries), page):
        batch = entries[at:at + page]
        if page == 1:
            table.add(batch[0])
        else:
            table.extend([e.checkpoint_id for e in batch], [e.thread_id for e in batch],
                         [e.timestamp_ns for e in batch], [e.parent_id for e in batch])
    table.freeze()
    parent_rows, lost, other_ids = _expected(entries)
    assert list(table.parent_rows) == parent_rows
    assert table.lost_parents == lost
    assert table.other_ids == other_ids
    for row, entry in enumerate(entries):
        first = next(at for at, e in enumerate(entries) if e.checkpoint_id == entry.checkpoint_id)
        assert table.row_of(entry.checkpoint_id) == first
        assert table.carriers(entry.checkpoint_id) == other_ids.get(entry.checkpoint_id, [first])
        assert table.parent_id(row) == entry.parent_id
        assert table.record(row).thread_id == entry.thread_id
    assert table.row_of("nowhere_1") is None


def test_freeze_twice_changes_nothing() -> None:
    entries = _entries(0)
    table = CheckpointTable(Place.ROW, lambda thread, checkpoint_id: checkpoint_id)
    for entry in entries:
        table.add(entry)
    table.freeze()
    once = (list(table.parent_rows), dict(table.lost_parents),
            {key: list(rows) for key, rows in table.other_ids.items()})
    table.freeze()
    assert (list(table.parent_rows), table.lost_parents, table.other_ids) == once


@pytest.mark.parametrize("seed", range(5))
def test_a_store_that_keeps_ids_unique_needs_no_set_of_them(seed: int) -> None:
    seen: set[str] = set()
    entries = [e for e in _entries(seed)
               if not (e.checkpoint_id in seen or seen.add(e.checkpoint_id))]
    table = CheckpointTable(Place.ROW, lambda thread, checkpoint_id: checkpoint_id,
                            unique_ids=True)
    for entry in entries:
        table.add(entry)
    table.freeze()
    parent_rows, lost, other_ids = _expected(entries)
    assert (list(table.parent_rows), table.lost_parents, other_ids) == (parent_rows, lost, {})
    assert not table._seen
