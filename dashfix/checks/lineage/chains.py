"""Item 11 (spec 3.3): id collisions and overwrites, seen in parent chains and counters.

Written once for every store: a file store and a database or object store give the same
columns (``CheckpointColumns``), and a finding names the entry where it lives.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence

from dashfix import native
from dashfix.checks.lineage.view import (
    CLOCK_TOLERANCE_NS,
    LineageView,
    describe_time,
    ids_of,
    timestamp_ns,
)
from dashfix.findings import Finding, Severity
from dashfix.formats.ids import IdScheme
from dashfix.inputs.checkpoint_model import CheckpointColumns, LineageRecord
from dashfix.inputs.checkpoint_record import PLAIN
from dashfix.inputs.checkpoint_rows import NO_PARENT
from dashfix.rules import checkpoint as ck


def _duplicates(view: LineageView) -> Iterator[Finding]:
    record_of = view.rows.record
    for checkpoint_id, rows in view.same_id.items():
        records = [record_of(row) for row in rows]
        names = [r.name for r in records]
        for record in records[1:]:
            yield ck.DUPLICATE_ID.at(
                view.path(record.name), f"{record.name} carries id {checkpoint_id!r}, as do "
                f"{', '.join(n for n in names if n != record.name)}",
                thread_id=record.thread_id, checkpoint_id=checkpoint_id,
                details={"files": names}, fix_command=view.repair)


def _parents(view: LineageView) -> Iterator[Finding]:
    """Each timed checkpoint against its parent. A parent id names the row of the entry
    carrying it (``parent_rows``); when that row is PLAIN and no other entry carries the id,
    it is the parent, and a parent of the same thread from the same second or before is the
    common, healthy case: nothing else is looked up (``_parent_pass``). (PARENT_NEWER needs
    the parent more than CLOCK_TOLERANCE_NS, one second, after the child, which a parent
    whose whole second is not after the child's cannot be.)"""
    rows = view.rows
    threads, parent_rows = rows.threads, rows.parent_rows
    slow, siblings, forks = _parent_pass(rows)
    # A child of a parent id that no file is named after: its first sibling by that id.
    first_child_of_lost: dict[str, int] = {}
    for row, sibling in zip(slow, siblings, strict=True):
        if parent_rows[row] < 0:
            sibling = first_child_of_lost.setdefault(rows.lost_parents[row], row)
            if sibling == row:
                sibling = NO_PARENT
        parent_id = rows.parent_id(row)
        assert parent_id is not None
        if sibling >= 0 and threads[sibling] == threads[row]:
            forks.setdefault(parent_id, [sibling]).append(row)
        yield from _parent_findings(view, rows.record(row), parent_id)
    names = rows.names
    for parent_id, kids in forks.items():
        names_of_kids = sorted(names[kid] for kid in kids)
        thread_id = threads[kids[0]]
        yield ck.FORK.at(
            view.path(names_of_kids[0]), f"{len(kids)} checkpoints of thread {thread_id!r} "
            f"claim parent {parent_id!r}: {', '.join(names_of_kids)}", thread_id=thread_id,
            checkpoint_id=parent_id, details={"children": names_of_kids})


Forks = dict[str, list[int]]
"""Parent id -> its first child of a thread, then the later children of that thread."""


def _parent_pass(rows: CheckpointColumns) -> tuple[Sequence[int], Sequence[int], Forks]:
    """The timed rows with a parent that are not the healthy case, in row order, each with
    the first earlier child of its parent row (``NO_PARENT`` when none, or when its parent
    id names no file), and the forks among the healthy rows. In C where built (it runs on
    one core, over every row) and no id is carried by two rows, else in Python."""
    if native.MODULE is None or rows.other_ids:
        return _parent_pass_python(rows)
    slow, siblings, triples = native.MODULE.parent_pass(
        rows.parent_rows, rows.threads, rows.secs, rows.kinds, array)
    forks: Forks = {}
    for at in range(0, len(triples), 3):
        parent = rows.checkpoint_id(triples[at])
        assert parent is not None
        forks.setdefault(parent, [triples[at + 1]]).append(triples[at + 2])
    return slow, siblings, forks


def _parent_pass_python(rows: CheckpointColumns) -> tuple[list[int], list[int], Forks]:
    """``_parent_pass`` in Python (and wherever an id is carried by two rows)."""
    kinds, threads, secs, parent_rows = rows.kinds, rows.threads, rows.secs, rows.parent_rows
    # Ids another row carries too: their parent is settled the slow way.
    shadowed = rows.other_ids
    # Keyed by parent row: a parent's children share its thread unless an id collided,
    # which the cross-thread check reports.
    first_child = array("q", (NO_PARENT,)) * len(rows)
    slow: list[int] = []
    siblings: list[int] = []
    forks: Forks = {}
    columns = zip(parent_rows, threads, secs, strict=True)
    for row, (parent_row, thread, moment) in enumerate(columns):
        if moment < 0 or parent_row == NO_PARENT:
            continue  # not timed, or no parent
        sibling = NO_PARENT
        if parent_row >= 0:
            sibling = first_child[parent_row]
            if sibling < 0:
                first_child[parent_row] = row
            if kinds[parent_row] == PLAIN and thread == threads[parent_row] and (
                moment >= secs[parent_row]
                and (not shadowed or rows.checkpoint_id(parent_row) not in shadowed)
            ):
                if sibling >= 0 and threads[sibling] == thread:
                    parent = rows.checkpoint_id(parent_row)
                    assert parent is not None
                    forks.setdefault(parent, [sibling]).append(row)
                continue
        slow.append(row)
        siblings.append(sibling)
    return slow, siblings, forks


def _parent_findings(view: LineageView, record: LineageRecord, parent_id: str) -> Iterator[Finding]:
    """What is wrong between a timed checkpoint and its parent, if anything."""
    parent_row = view.first_carrier(parent_id)
    parent = None if parent_row is None else view.rows.record(parent_row)
    if parent is not None and parent.thread_id == record.thread_id and (
        record.secs >= parent.secs
    ):
        return
    path = view.path(record.name)
    ids = ids_of(record)
    if parent is None:
        if view.parent_unreadable(parent_id):
            return  # the parent is there but damaged: it has its own finding
        yield ck.DANGLING_PARENT.at(
            path, f"{record.name}: parent {parent_id!r} is not in the store",
            actual=parent_id, **ids)
        return
    if parent.thread_id != record.thread_id:
        yield ck.CROSS_THREAD_PARENT.at(
            path, f"{record.name}: parent {parent_id!r} belongs to thread "
            f"{parent.thread_id!r}, not {record.thread_id!r}",
            expected=record.thread_id, actual=parent.thread_id, **ids)
    elif parent.secs >= 0 and timestamp_ns(parent) > timestamp_ns(record) + CLOCK_TOLERANCE_NS:
        yield ck.PARENT_NEWER.at(
            path, f"{record.name} ({describe_time(record)}) has parent {parent_id} from "
            f"{describe_time(parent)}, which is later: {parent.name} was overwritten after "
            "this checkpoint was written (id collision)",
            expected=f"parent time <= {describe_time(record)}",
            actual=describe_time(parent), key=parent_id, **ids)


def _counter_groups(view: LineageView) -> Iterable[tuple[tuple[str, str], Sequence[int]]]:
    """The (thread, process) groups ``_counter_order`` must look at: in C where built, only
    those whose times go back somewhere along their counters (the healthy case, settled
    there, is nearly every group), else every group."""
    groups = view.by_thread_proc
    if native.MODULE is not None:
        rows = view.rows
        keys = native.MODULE.counter_order_pass(groups, view.latest_rows, rows.procs,
                                                rows.counters, rows.secs, rows.nanos)
        if keys is not None:
            return [(key, groups[key]) for key in keys]
    return groups.items()


def _members(view: LineageView, thread_id: str, proc: str,
             group: Sequence[int]) -> tuple[list[int], list[int]]:
    """A (thread, process) group's rows by counter, and their times in nanoseconds."""
    rows = view.rows
    members = sorted(group, key=rows.counters.__getitem__)
    newest = view.latest_rows.get(thread_id)
    if newest is not None and rows.procs[newest] == proc:
        # (the latest is skipped: update_state re-saves it with a new time)
        del members[members.index(newest)]
    secs, nanos = rows.secs, rows.nanos
    return members, [secs[row] * 1_000_000_000 + nanos[row] for row in members]


def _counter_order(view: LineageView) -> Iterator[Finding]:
    rows = view.rows
    for (thread_id, proc), group in _counter_groups(view):
        members, moments = _members(view, thread_id, proc, group)
        if moments == sorted(moments):
            continue  # time never goes back along the counters
        inversions = [
            (members[at - 1], members[at]) for at in range(1, len(members))
            if moments[at] + CLOCK_TOLERANCE_NS < moments[at - 1]
        ]
        if not inversions:
            continue
        earlier, later = (rows.record(row) for row in inversions[0])
        who = f"process {proc}" if proc else "the counter ids"
        yield ck.COUNTER_ORDER.at(
            view.path(later.name), f"thread {thread_id!r}, {who}: {later.checkpoint_id} "
            f"({describe_time(later)}) is older than {earlier.checkpoint_id} "
            f"({describe_time(earlier)}); {len(inversions)} such inversion(s): a restart "
            "reused counters", thread_id=thread_id, checkpoint_id=later.checkpoint_id,
            severity=None if proc else Severity.WARNING,
            details={"inversions": len(inversions),
                     "scheme": (IdScheme.CURRENT if proc else IdScheme.COUNTER).value})


def check(view: LineageView) -> Iterator[Finding]:
    yield from _duplicates(view)
    yield from _parents(view)
    yield from _counter_order(view)
