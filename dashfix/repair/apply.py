"""Carrying out rebuilds and repairs: every write holds the store lock, backs up what it
replaces and goes through ``AtomicFile``."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashfix.errors import InputError
from dashfix.formats.index import IndexEntry, encode_index
from dashfix.formats.variants import INDEX_NAME
from dashfix.repair.atomic import atomic_write_bytes
from dashfix.repair.backup import backup_file, utc_stamp
from dashfix.repair.index_rebuild import (
    Change,
    IndexPlan,
    Order,
    ThreadChoice,
    plan_index,
    read_old_index,
)
from dashfix.repair.lock import store_lock
from dashfix.repair.scan_adapter import CandidateSet, collect_candidates

RUNNING_DASHFLOW_WARNING = (
    "Stop every DashFlow process that uses this store before writing to it: a running "
    "process keeps the index in memory and overwrites index.bin from that copy on its next "
    "save (DashFlow bug #5), undoing this repair."
)


def write_index(store: Path, entries: Mapping[str, IndexEntry], stamp: str) -> Path | None:
    """Back up the current ``index.bin`` (if any), then replace it atomically, keeping its
    mode. Returns the backup's path. The caller holds the store lock."""
    index = store / INDEX_NAME
    try:
        mode = os.stat(index, follow_symlinks=False).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(
            f"{index} is not a regular file (a folder or symlink); move it away first, "
            "or run `dashfix repair --apply`, which quarantines it"
        )
    backup = backup_file(index, stamp)
    atomic_write_bytes(index, encode_index(entries))
    return backup


@dataclass
class RebuildOutcome:
    store: Path
    plan: IndexPlan
    considered: CandidateSet
    dry_run: bool
    written: bool = False
    backup: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "store": str(self.store),
            "order": plan.order.value,
            "dry_run": self.dry_run,
            "warning": RUNNING_DASHFLOW_WARNING,
            "old_index": {
                "state": plan.old_index.state,
                "problem": plan.old_index.problem,
                "entries": len(plan.old_index.entries),
            },
            "candidates": len(self.considered.candidates),
            "excluded": [{"name": n, "reason": r} for n, r in self.considered.excluded],
            "threads": [_choice_dict(choice) for choice in plan.choices],
            "unranked_threads": plan.unranked_threads,
            "changes": {
                kind: [_change_dict(change) for change in plan.changes_of(kind)]
                for kind in ("added", "changed", "dropped")
            },
            "unchanged": plan.unchanged,
            "written": self.written,
            "backup": None if self.backup is None else self.backup.name,
        }


def _entry_dict(entry: IndexEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"checkpoint_id": entry.checkpoint_id, "secs": entry.secs, "nanos": entry.nanos}


def _change_dict(change: Change) -> dict[str, Any]:
    return {"thread_id": change.thread_id, "old": _entry_dict(change.old),
            "new": _entry_dict(change.new)}


def _choice_dict(choice: ThreadChoice) -> dict[str, Any]:
    return {
        "thread_id": choice.thread_id,
        **(_entry_dict(choice.value) or {}),
        "ranked_by": choice.ranked_by.value,
        "value_from": choice.value_from.value,
        "files": choice.files,
        "latest_by_embedded": choice.by_embedded,
        "latest_by_mtime": choice.by_mtime,
        "orders_disagree": choice.orders_disagree,
    }


def _plan_rebuild(store: Path, order: Order) -> tuple[IndexPlan, CandidateSet]:
    considered = collect_candidates(store)
    old = read_old_index(store / INDEX_NAME)
    return plan_index(considered.candidates, old, order), considered


def rebuild_index(
    store: Path,
    order: Order = Order.AUTO,
    *,
    dry_run: bool = False,
    wait_seconds: float | None = None,
    stamp: str | None = None,
) -> RebuildOutcome:
    """Plan the new index; unless ``dry_run``, write it under the store lock.

    A dry run takes no lock and writes nothing. A real run scans under the lock, so the
    plan matches what is on disk when the index is replaced.
    """
    if dry_run:
        plan, considered = _plan_rebuild(store, order)
        return RebuildOutcome(store, plan, considered, dry_run=True)
    with store_lock(store, wait_seconds):
        plan, considered = _plan_rebuild(store, order)
        outcome = RebuildOutcome(store, plan, considered, dry_run=False)
        if plan.writes_something:
            outcome.backup = write_index(store, plan.entries, stamp or utc_stamp())
            outcome.written = True
    return outcome
