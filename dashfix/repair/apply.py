"""Carrying out rebuilds and repairs.

Every writing run holds the store lock, first cleans up after killed runs (``tidy``), checks
that it can write everything it plans to (``check_can_write``, before the first change), and
journals each step in a quarantine session before carrying it out, so that a kill at any
moment leaves a store the next run and ``--restore`` both understand.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashfix.errors import ExitCode, InputError, WriteError
from dashfix.formats import dchk
from dashfix.formats.index import IndexEntry, encode_index, encoded_index_size
from dashfix.formats.variants import INDEX_NAME
from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_record import entry_kind
from dashfix.repair.backup import free_backup_path, utc_stamp
from dashfix.repair.index_rebuild import (
    Change,
    IndexPlan,
    Order,
    ThreadChoice,
    pre_epoch_reason,
    read_old_index,
)
from dashfix.repair.lock import odd_lock, store_lock
from dashfix.repair.plan import Action, ActionKind, RepairPlan, plan_from_scan, plan_repair
from dashfix.repair.preflight import check_can_write, write_error
from dashfix.repair.quarantine import (
    CREATED,
    MOVED,
    RENAMED,
    REWRITTEN,
    QuarantineSession,
    RestoreOutcome,
    Step,
    check_session_name,
    read_session,
    restore_session,
    tidy,
)
from dashfix.repair.scan_adapter import CandidateSet, collect_candidates, store_temps
from dashfix.results import Report
from dashfix.rules import checkpoint as ck

RUNNING_DASHFLOW_WARNING = (
    "Stop every DashFlow process that uses this store before writing to it: a running "
    "process keeps the index in memory and overwrites index.bin from that copy on its next "
    "save (DashFlow bug #5), undoing this repair."
)


@contextmanager
def _write_errors(session: QuarantineSession | None = None) -> Iterator[None]:
    """An ``OSError`` of a writing run as a ``WriteError`` naming the path and the cause,
    and the session to undo when some steps already happened."""
    try:
        yield
    except KeyboardInterrupt:
        if session is not None:
            session.abandon("interrupted (Ctrl-C)")
        raise
    except OSError as exc:
        error = write_error(exc, "")
        if session is not None:
            session.abandon(str(error))
        if session is not None and session.record.done:
            raise WriteError(f"{error}; stopped after {len(session.record.done)} step(s), "
                             f"recorded in {session.journal_path} (undo: dashfix repair "
                             f"{session.store} --restore {session.folder.name})") from None
        raise error from None


def write_index(session: QuarantineSession, entries: Mapping[str, IndexEntry],
                stamp: str) -> Path | None:
    """Journal, then write ``index.bin`` (mode kept); the old one is first copied to a
    timestamped backup beside it, whose path is returned (None when there was no index).

    The new index gets the current time as its mtime: it is new content, and a kept mtime
    with an unchanged size would make rsync-style copies skip it. The caller holds the lock.
    """
    store = session.store
    index = store / INDEX_NAME
    refuse_odd_index(store)
    exists = os.path.lexists(index)
    data = encode_index(entries)
    why = "index.bin rebuilt from the checkpoint files"
    if not exists:
        step = session.plan(CREATED, INDEX_NAME, code="rebuild-index", reason=why,
                            action="rebuild-index", new_data=data)
        session.commit()
        session.create(step, data)
        return None
    backup = free_backup_path(store, INDEX_NAME, stamp)
    step = session.plan(REWRITTEN, INDEX_NAME, code="rebuild-index", reason=why,
                        action="rebuild-index", stored_as=backup.name, new_data=data)
    session.commit()
    session.rewrite(step, lambda _old: data, keep_times=False)
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


def _index_bytes(plan: IndexPlan) -> int:
    """What writing ``plan`` costs on disk: the backup of the old index and the new one."""
    return (plan.old_index.size or 0) + encoded_index_size(plan.entries)


@dataclass
class RebuildOutcome:
    store: Path
    plan: IndexPlan
    considered: CandidateSet
    dry_run: bool
    written: bool = False
    backup: Path | None = None
    session: Path | None = None
    tidied: list[str] = field(default_factory=list)
    """What was cleaned up after killed runs first."""
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
                "entries": plan.old_index.total,
            },
            "candidates": self.considered.count,
            "excluded": [{"name": n, "reason": r} for n, r in self.considered.excluded],
            "threads": [_choice_dict(choice) for choice in plan.choices],
            "unranked_threads": plan.unranked_threads,
            "pre_epoch_threads": [_pre_epoch_dict(choice) for choice in plan.pre_epoch],
            "changes": {
                kind: [_change_dict(change) for change in plan.changes_of(kind)]
                for kind in ("added", "changed", "dropped")
            },
            "dropped_not_listed": plan.old_index.unlisted,
            "unchanged": plan.unchanged,
            "written": self.written,
            "backup": None if self.backup is None else self.backup.name,
            "session": None if self.session is None else str(self.session),
            "tidied": self.tidied,
            "blocked": self.blocked,
        }


def _entry_dict(entry: IndexEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"checkpoint_id": entry.checkpoint_id, "secs": entry.secs, "nanos": entry.nanos}


def _change_dict(change: Change) -> dict[str, Any]:
    return {"thread_id": change.thread_id, "old": _entry_dict(change.old),
            "new": _entry_dict(change.new)}


def _pre_epoch_dict(choice: ThreadChoice) -> dict[str, Any]:
    return {"thread_id": choice.thread_id, "file": f"{choice.value.checkpoint_id}.bin",
            "mtime_secs": choice.value.secs, "mtime_nanos": choice.value.nanos,
            "reason": pre_epoch_reason(choice)}


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


def _plan_rebuild(store: Path, order: Order, *,
                  tidy_first: bool = False) -> tuple[IndexPlan, CandidateSet, list[str]]:
    """The plan, the candidates it comes from and, with ``tidy_first`` (the caller holds the
    lock), what ``tidy`` did first. ``tidy`` is given the scan's listing of the store
    folder rather than listing it again (~0.5 s of CPU per 1,000,000 names); when it
    changed anything, the store is scanned again."""
    tidied: list[str] = []
    with paused_gc():
        considered = collect_candidates(store)
        if tidy_first:
            tidied = tidy(store, considered.temps)
            if tidied:
                considered = CandidateSet()  # the first scan's rows go before the second
                considered = collect_candidates(store)
        old = read_old_index(store / INDEX_NAME, considered.has_thread)
        return considered.plan(old, order), considered, tidied


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
        plan, considered, _ = _plan_rebuild(store, order)
        return RebuildOutcome(store, plan, considered, dry_run=True,
                              blocked=odd_index(store) or odd_lock(store))
    refuse_odd_index(store)
    with _write_errors(), store_lock(store, wait_seconds):
        plan, considered, tidied = _plan_rebuild(store, order, tidy_first=True)
        outcome = RebuildOutcome(store, plan, considered, dry_run=False, tidied=tidied)
        if not plan.writes_something:
            return outcome
        check_can_write(store, [INDEX_NAME], reserve_bytes=_index_bytes(plan))
        session = QuarantineSession(store, stamp, command="rebuild-index")
        with _write_errors(session):
            outcome.backup = write_index(session, plan.entries, stamp or utc_stamp())
            session.finish()
        outcome.written, outcome.session = True, session.folder
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
    blocked: str | None = None
    """Why ``--apply`` cannot run as the store stands (the store lock cannot be taken)."""

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
                "dropped_not_listed": self.index_plan.old_index.unlisted,
                "unchanged": self.index_plan.unchanged,
                "pre_epoch_threads": [_pre_epoch_dict(c) for c in self.index_plan.pre_epoch],
                "written": self.index_written,
                "backup": None if self.index_backup is None else self.index_backup.name,
            },
            "done": self.done,
            "failed": self.failed,
            "quarantine": None if self.session is None else str(self.session),
            "remaining": None if self.remaining is None else self.remaining.to_dict(),
            "blocked": self.blocked,
            "exit_code": int(self.exit_code()),
        }


def preview_repair(store: Path) -> RepairOutcome:
    """The plan only: no lock, no writes. The index preview assumes the file actions ran."""
    with paused_gc():
        plan = plan_repair(store)
        old_index = read_old_index(store / INDEX_NAME, plan.predicted.has_thread)
        index_plan = plan.predicted.plan(old_index, Order.AUTO)
    return RepairOutcome(store, plan, index_plan, applied=False, blocked=odd_lock(store))


def _fixed_magic(data: bytes) -> bytes:
    if not dchk.has_damaged_magic(data):
        raise InputError("changed since the plan was made; not touched")
    return dchk.MAGIC + data[len(dchk.MAGIC):]


def _plan_step(session: QuarantineSession, action: Action) -> Step:
    """The journal step that carries out ``action`` (nothing changes yet)."""
    common: dict[str, Any] = {"code": action.code, "reason": action.reason,
                              "action": action.kind.value}
    if action.kind is ActionKind.FIX_MAGIC:
        data = (session.store / action.name).read_bytes()
        return session.plan(REWRITTEN, action.name, new_data=_fixed_magic(data), **common)
    if action.kind is ActionKind.PROMOTE:
        assert action.target is not None
        return session.plan(RENAMED, action.name, stored_as=action.target, **common)
    return session.plan(MOVED, action.name, **common)


def _carry_out(session: QuarantineSession, action: Action, step: Step) -> str:
    if step.op == REWRITTEN:
        # Keep the mtime: it is the file's age, and --order mtime/auto may rank by it.
        session.rewrite(step, _fixed_magic, keep_times=True)
        return f"fixed the magic of {action.name} (original kept in quarantine)"
    if step.op == RENAMED:
        session.rename(step)
        return f"promoted {action.name} to {action.target}"
    session.move(step)
    return f"moved {action.name} to quarantine ({action.code}): {action.reason}"


_RACES = (FileExistsError, FileNotFoundError)
"""DashFlow writes checkpoint files without the lock: a file that appeared or vanished
since the plan fails its own step only; any other ``OSError`` stops the run."""


def _predicted_writes(store: Path, plan: RepairPlan) -> tuple[list[str], int]:
    """The store entries the plan writes (index.bin when the predicted index changes) and
    the bytes it writes: two copies of each rewritten file, the index and its backup."""
    old_index = read_old_index(store / INDEX_NAME, plan.predicted.has_thread)
    index_plan = plan.predicted.plan(old_index, Order.AUTO)
    names = [action.name for action in plan.actions]
    size = 0
    for action in plan.actions:
        if action.kind is ActionKind.FIX_MAGIC:
            size += 2 * os.stat(store / action.name, follow_symlinks=False).st_size
    if index_plan.writes_something:
        names.append(INDEX_NAME)
        size += _index_bytes(index_plan)
    return names, size


def _tidy_and_plan_repair(store: Path) -> tuple[RepairPlan, list[str]]:
    """What ``tidy`` did, then the plan, as in ``_plan_rebuild``: ``tidy`` is given the
    scan's listing of the store folder, and the store is scanned again only when it
    changed anything. The caller holds the lock."""
    scan = scan_store(store, read_index=False)
    tidied = tidy(store, store_temps(scan))
    if tidied:
        del scan  # the first scan's rows go before the second
        scan = scan_store(store, read_index=False)
    return plan_from_scan(store, scan), tidied


def apply_repair(
    store: Path, *, wait_seconds: float | None = None, stamp: str | None = None
) -> RepairOutcome:
    """Plan and carry out the repairs under the store lock, then re-run the checks."""
    stamp = stamp or utc_stamp()
    with _write_errors(), store_lock(store, wait_seconds):
        with paused_gc():
            plan, tidied = _tidy_and_plan_repair(store)
            touched, size = _predicted_writes(store, plan)
        # The index is planned anew from the repaired files: let the scan's rows go before
        # that scan and verify's make their own.
        plan.predicted = CandidateSet()
        if touched:
            check_can_write(store, touched, reserve_bytes=size)
        session = QuarantineSession(store, stamp)
        outcome = RepairOutcome(store, plan, IndexPlan(Order.AUTO), applied=True, done=tidied)
        with _write_errors(session):
            _carry_out_plan(session, plan, outcome)
            # Only the plan is kept: the candidates' rows would live on through verify's scan.
            index_plan = _plan_rebuild(store, Order.AUTO)[0]
            outcome.index_plan = index_plan
            if index_plan.writes_something:
                backup = write_index(session, index_plan.entries, stamp)
                outcome.index_written, outcome.index_backup = True, backup
                outcome.done.append("rebuilt index.bin" + (f" (backup {backup.name})"
                                                           if backup else ""))
            session.finish()
        if session.started:
            outcome.session = session.folder
    # Imported here: verify pulls in every check, and only ``repair --apply`` needs it.
    from dashfix.verify import verify

    outcome.remaining = verify([store])
    return outcome


def _carry_out_plan(session: QuarantineSession, plan: RepairPlan,
                    outcome: RepairOutcome) -> None:
    """Journal every file action, then carry them out one by one."""
    planned: list[tuple[Action, Step]] = []
    for action in plan.actions:
        try:
            planned.append((action, _plan_step(session, action)))
        except (InputError, *_RACES) as exc:
            outcome.failed.append(f"{action.kind.value} {action.name}: {exc}")
    session.commit()
    for action, step in planned:
        try:
            outcome.done.append(_carry_out(session, action, step))
        except (InputError, *_RACES) as exc:
            session.failed(step, str(exc))
            outcome.failed.append(f"{action.kind.value} {action.name}: {exc}")


def restore(store: Path, session: str, *, wait_seconds: float | None = None) -> RestoreOutcome:
    """Undo one session (see ``restore_session``), after cleaning up after killed runs."""
    check_session_name(store, session)
    with _write_errors(), store_lock(store, wait_seconds):
        tidied = tidy(store)
        record = read_session(store, session)
        steps = [] if record is None else record.steps.values()
        check_can_write(store, [name for step in steps for name in (step.name, step.stored_as)])
        outcome = restore_session(store, session)
        outcome.notes[:0] = tidied
        return outcome
