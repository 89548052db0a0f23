"""Item 11 (spec 3.3): id collisions and overwrites, seen in parent chains and counters."""

from __future__ import annotations

import operator
from collections.abc import Iterator

from dashfix.checks.checkpoint.view import (
    CLOCK_TOLERANCE_NS,
    StoreView,
    describe_time,
    ids_of,
    timestamp_ns,
)
from dashfix.findings import Finding, Severity
from dashfix.formats.ids import IdScheme
from dashfix.inputs.checkpoint_store import LOAD_SUFFIXES, FileRecord
from dashfix.rules import checkpoint as ck

_by_counter = operator.attrgetter("counter")


def _duplicates(view: StoreView) -> Iterator[Finding]:
    for checkpoint_id, records in view.same_id.items():
        names = [r.name for r in records]
        for record in records[1:]:
            yield ck.DUPLICATE_ID.at(
                view.path(record.name), f"{record.name} carries id {checkpoint_id!r}, as do "
                f"{', '.join(n for n in names if n != record.name)}",
                thread_id=record.thread_id, checkpoint_id=checkpoint_id,
                details={"files": names}, fix_command=view.repair)


def _parents(view: StoreView, timed: list[FileRecord]) -> Iterator[Finding]:
    # Keyed by parent id alone: a parent's children share its thread unless an id collided,
    # which the cross-thread check reports.
    first_child: dict[str, FileRecord] = {}
    forks: dict[str, list[FileRecord]] = {}
    by_id = view.by_id
    for record in timed:
        parent_id = record.parent_id
        if parent_id is None:
            continue
        sibling = first_child.setdefault(parent_id, record)
        if sibling is not record and sibling.thread_id == record.thread_id:
            forks.setdefault(parent_id, [sibling]).append(record)
        parent = by_id.get(parent_id)
        if parent is not None and parent.thread_id == record.thread_id and (
            record.secs > parent.secs + 1  # the common, healthy case: nothing to report
        ):
            continue
        path = view.path(record.name)
        ids = ids_of(record)
        if parent is None:
            if any(parent_id + suffix in view.names for suffix in LOAD_SUFFIXES):
                continue  # the parent file is there but damaged: it has its own finding
            yield ck.DANGLING_PARENT.at(
                path, f"{record.name}: parent {parent_id!r} is not in the store",
                actual=parent_id, **ids)
            continue
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
    for parent_id, kids in forks.items():
        thread_id = kids[0].thread_id
        if kids:
            names = sorted(k.name for k in kids)
            yield ck.FORK.at(
                view.path(names[0]), f"{len(kids)} checkpoints of thread {thread_id!r} claim "
                f"parent {parent_id!r}: {', '.join(names)}", thread_id=thread_id,
                checkpoint_id=parent_id, details={"children": names})


def _counter_order(view: StoreView) -> Iterator[Finding]:
    latest = view.latest
    for (thread_id, proc), group in view.by_thread_proc.items():
        members = sorted(group, key=_by_counter)
        newest = latest.get(thread_id)
        if newest is not None and newest.proc == proc:
            # (the latest is skipped: update_state re-saves it with a new time)
            del members[members.index(newest)]
        moments = [record.secs * 1_000_000_000 + record.nanos for record in members]
        if moments == sorted(moments):
            continue  # time never goes back along the counters
        inversions = [
            (members[at - 1], members[at]) for at in range(1, len(members))
            if moments[at] + CLOCK_TOLERANCE_NS < moments[at - 1]
        ]
        if not inversions:
            continue
        earlier, later = inversions[0]
        who = f"process {proc}" if proc else "the counter ids"
        yield ck.COUNTER_ORDER.at(
            view.path(later.name), f"thread {thread_id!r}, {who}: {later.checkpoint_id} "
            f"({describe_time(later)}) is older than {earlier.checkpoint_id} "
            f"({describe_time(earlier)}); {len(inversions)} such inversion(s): a restart "
            "reused counters", thread_id=thread_id, checkpoint_id=later.checkpoint_id,
            severity=None if proc else Severity.WARNING,
            details={"inversions": len(inversions),
                     "scheme": (IdScheme.CURRENT if proc else IdScheme.COUNTER).value})


def check(view: StoreView) -> Iterator[Finding]:
    yield from _duplicates(view)
    timed = view.timed
    yield from _parents(view, timed)
    yield from _counter_order(view)
