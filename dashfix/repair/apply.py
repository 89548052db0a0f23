"""Carrying out rebuilds and repairs: every write holds the store lock, backs up what it
replaces and goes through ``AtomicFile``."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashfix.errors import ExitCode, InputError
from dashfix.formats import dchk
from dashfix.formats.index import IndexEntry, encode_index
from dashfix.formats.variants import INDEX_NAME
from dashfix.inputs.checkpoint_record import entry_kind
from dashfix.inputs.checkpoint_store import paused_gc
from dashfix.repair.atomic import atomic_write_bytes, fsync_dir
from dashfix.repair.backup import backup_file, utc_stamp
from dashfix.repair.index_rebuild import (
    Change,
    IndexPlan,
    Order,
    ThreadChoice,
    read_old_index,
)
from dashfix.repair.lock import store_lock
from dashfix.repair.plan import Action, ActionKind, RepairPlan, plan_repair
from dashfix.repair.quarantine import QuarantineSession, RestoreOutcome, restore_session
from dashfix.repair.scan_adapter import CandidateSet, collect_candidates
from dashfix.results import Report
from dashfix.rules import checkpoint as ck

RUNNING_DASHFLOW_WARNING = (
    "Stop every DashFlow process that uses this store before writing to it: a running "
    "process keeps the index in memory and overwrites index.bin from that copy on its next "
    "save (DashFlow bug #5), undoing this repair."
)


def write_index(store: Path, entries: Mapping[str, IndexEntry], stamp: str) -> Path | None:
    """Back up the current ``index.bin`` (if any), then replace it atomically, keeping its
    mode. Returns the backup's path. The caller holds the store lock."""
    index = store / INDEX_NAME
    refuse_odd_index(store)
    backup = backup_file(index, stamp)
    atomic_write_bytes(index, encode_index(entries))
    return backup


def odd_index(store: Path) -> str | None:
    """Why no new index can be written, naming the way out, when ``index.bin`` is there but
    is not a regular file (a folder, symlink, FIFO, socket or device); else None."""
    index = store / INDEX_NAME
    try:
        mode = os.lstat(index).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return None
    code = (ck.SYMLINK_IN_STORE if stat.S_ISLNK(mode) else ck.INDEX_NOT_A_FILE).code
    return (
        f"{index} is {entry_kind(mode)}, not a regular file ({code}), so no new index can "
        f"be written there. Run `dashfix repair {store}` to see the plan, then `dashfix "
        f"repair {store} --apply`: it moves the entry into the store's quarantine folder "
        "(`--restore SESSION` brings it back) and writes a new index.bin"
    )


def refuse_odd_index(store: Path) -> None:
    blocker = odd_index(store)
    if blocker is not None:
        raise InputError(blocker)


@dataclass
class RebuildOutcome:
    store: Path
    plan: IndexPlan
    considered: CandidateSet
    dry_run: bool
    written: bool = False
    backup: Path | None = None
    blocked: str | None = None
    """Why the index cannot be written (a dry run on a store whose index.bin is odd)."""

    def exit_code(self) -> ExitCode:
        return ExitCode.CLEAN if self.blocked is None else ExitCode.FAILURE

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
            "candidates": self.considered.count,
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
            "blocked": self.blocked,
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
    with paused_gc():
        considered = collect_candidates(store)
        old = read_old_index(store / INDEX_NAME)
        return considered.plan(old, order), considered


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
        return RebuildOutcome(store, plan, considered, dry_run=True, blocked=odd_index(store))
    refuse_odd_index(store)
    with store_lock(store, wait_seconds):
        plan, considered = _plan_rebuild(store, order)
        outcome = RebuildOutcome(store, plan, considered, dry_run=False)
        if plan.writes_something:
            outcome.backup = write_index(store, plan.entries, stamp or utc_stamp())
            outcome.written = True
    return outcome


@dataclass
class RepairOutcome:
    store: Path
    plan: RepairPlan
    index_plan: IndexPlan
    applied: bool
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    index_written: bool = False
    index_backup: Path | None = None
    session: Path | None = None
    remaining: Report | None = None
    """What ``verify`` still finds after ``--apply``."""

    def exit_code(self) -> ExitCode:
        if self.failed:
            return ExitCode.FAILURE
        return ExitCode.CLEAN if self.remaining is None else self.remaining.exit_code()

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": str(self.store),
            "applied": self.applied,
            "warning": RUNNING_DASHFLOW_WARNING,
            "actions": [action.to_dict() for action in self.plan.actions],
            "kept": [{"name": name, "reason": reason} for name, reason in self.plan.kept],
            "index": {
                "old_state": self.index_plan.old_index.state,
                "old_problem": self.index_plan.old_index.problem,
                "changes": {
                    kind: [_change_dict(change) for change in self.index_plan.changes_of(kind)]
                    for kind in ("added", "changed", "dropped")
                },
                "unchanged": self.index_plan.unchanged,
                "written": self.index_written,
                "backup": None if self.index_backup is None else self.index_backup.name,
            },
            "done": self.done,
            "failed": self.failed,
            "quarantine": None if self.session is None else str(self.session),
            "remaining": None if self.remaining is None else self.remaining.to_dict(),
            "exit_code": int(self.exit_code()),
        }


def preview_repair(store: Path) -> RepairOutcome:
    """The plan only: no lock, no writes. The index preview assumes the file actions ran."""
    with paused_gc():
        plan = plan_repair(store)
        index_plan = plan.predicted.plan(read_old_index(store / INDEX_NAME), Order.AUTO)
    return RepairOutcome(store, plan, index_plan, applied=False)


def _promote(session: QuarantineSession, action: Action) -> None:
    assert action.target is not None
    temp, target = session.store / action.name, session.store / action.target
    # link + unlink never replaces a checkpoint that appeared meanwhile (DashFlow writes
    # checkpoint files without taking the lock).
    os.link(temp, target, follow_symlinks=False)
    os.unlink(temp)
    fsync_dir(session.store)
    session.record_rename(temp, target, action.code, action.reason)


def _fix_magic(session: QuarantineSession, action: Action) -> None:
    path = session.store / action.name
    data = path.read_bytes()
    if not dchk.has_damaged_magic(data):
        raise InputError(f"{action.name} changed since the plan was made; not touched")
    info = os.stat(path, follow_symlinks=False)
    session.keep_original(path, action.code, action.reason)
    atomic_write_bytes(path, dchk.MAGIC + data[len(dchk.MAGIC):], mode=info.st_mode & 0o7777)
    # Keep the mtime: it is the file's age, and --order mtime/auto may rank by it.
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def _carry_out(session: QuarantineSession, action: Action) -> str:
    if action.kind is ActionKind.FIX_MAGIC:
        _fix_magic(session, action)
        return f"fixed the magic of {action.name} (original kept in quarantine)"
    if action.kind is ActionKind.PROMOTE:
        _promote(session, action)
        return f"promoted {action.name} to {action.target}"
    session.move(session.store / action.name, action.code, action.reason)
    return f"moved {action.name} to quarantine ({action.code}): {action.reason}"


def apply_repair(
    store: Path, *, wait_seconds: float | None = None, stamp: str | None = None
) -> RepairOutcome:
    """Plan and carry out the repairs under the store lock, then re-run the checks."""
    stamp = stamp or utc_stamp()
    with store_lock(store, wait_seconds):
        with paused_gc():
            plan = plan_repair(store)
        # The index is planned anew from the repaired files: let the scan's rows go before
        # that scan and verify's make their own.
        plan.predicted = CandidateSet()
        session = QuarantineSession(store, stamp)
        outcome = RepairOutcome(store, plan, IndexPlan(Order.AUTO), applied=True)
        for action in plan.actions:
            try:
                outcome.done.append(_carry_out(session, action))
            except (OSError, InputError) as exc:
                outcome.failed.append(f"{action.kind.value} {action.name}: {exc}")
        # Only the plan is kept: the candidates' rows would live on through verify's scan.
        index_plan = _plan_rebuild(store, Order.AUTO)[0]
        outcome.index_plan = index_plan
        if index_plan.writes_something:
            backup = write_index(store, index_plan.entries, stamp)
            outcome.index_written, outcome.index_backup = True, backup
            if backup is not None:
                session.record_backup(store / INDEX_NAME, backup, "rebuild-index",
                                      "index.bin rebuilt from the repaired files")
            elif any(action.name == INDEX_NAME for action in plan.actions):
                # An odd index.bin was moved aside: restore must free the name to bring it back.
                session.record_created(store / INDEX_NAME, "rebuild-index",
                                       "index.bin written where an odd entry was moved aside")
            outcome.done.append("rebuilt index.bin" + (f" (backup {backup.name})" if backup
                                                       else ""))
        if session.entries:
            outcome.session = session.folder
    # Imported here: verify pulls in every check, and only ``repair --apply`` needs it.
    from dashfix.verify import verify

    outcome.remaining = verify([store])
    return outcome


def restore(store: Path, session: str, *, wait_seconds: float | None = None) -> RestoreOutcome:
    with store_lock(store, wait_seconds):
        return restore_session(store, session)
