"""Item 11 (spec 3.3): id collisions and overwrites, seen in parent chains and counters."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator

from dashfix.checks.checkpoint.view import (
    CLOCK_TOLERANCE_NS,
    StoreView,
    describe_time,
    ids_of,
    timestamp_ns,
)
from dashfix.findings import Finding, Severity
from dashfix.formats.ids import IdScheme, parse_id
from dashfix.inputs.checkpoint_store import LOAD_SUFFIXES, FileRecord
from dashfix.rules import checkpoint as ck


def proc_and_counter(checkpoint_id: str) -> tuple[IdScheme, str, int] | None:
    """(scheme, proc, counter) of a current or counter-scheme id, else None."""
    parts = checkpoint_id.rsplit("_", 2)
    if len(parts) == 3 and parts[2].startswith("chkpt") and parts[2][5:].isdecimal():
        parsed = parse_id(checkpoint_id)
        if parsed.scheme is IdScheme.CURRENT and parsed.proc is not None:
            return IdScheme.CURRENT, parsed.proc, int(parts[2][5:])
    parsed = parse_id(checkpoint_id)
    if parsed.scheme is IdScheme.COUNTER and parsed.counter is not None:
        return IdScheme.COUNTER, "", parsed.counter
    return None


def _duplicates(view: StoreView) -> Iterator[Finding]:
    for checkpoint_id, records in view.by_id.items():
        if len(records) < 2:
            continue
        names = [r.name for r in records]
        for record in records[1:]:
            yield ck.DUPLICATE_ID.at(
                view.path(record.name), f"{record.name} carries id {checkpoint_id!r}, as do "
                f"{', '.join(n for n in names if n != record.name)}",
                thread_id=record.thread_id, checkpoint_id=checkpoint_id,
                details={"files": names}, fix_command=view.repair)


def _parents(view: StoreView, timed: list[FileRecord]) -> Iterator[Finding]:
    children: dict[tuple[str, str], list[FileRecord]] = defaultdict(list)
    for record in timed:
        parent_id = record.parent_id
        if parent_id is None:
            continue
        path = view.path(record.name)
        ids = ids_of(record)
        assert record.thread_id is not None
        children[(record.thread_id, parent_id)].append(record)
        parents = view.by_id.get(parent_id)
        if not parents:
            if any(parent_id + suffix in view.names for suffix in LOAD_SUFFIXES):
                continue  # the parent file is there but damaged: it has its own finding
            yield ck.DANGLING_PARENT.at(
                path, f"{record.name}: parent {parent_id!r} is not in the store",
                actual=parent_id, **ids)
            continue
        parent = parents[0]
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
    for (thread_id, parent_id), kids in children.items():
        if len(kids) > 1:
            names = sorted(k.name for k in kids)
            yield ck.FORK.at(
                view.path(names[0]), f"{len(kids)} checkpoints of thread {thread_id!r} claim "
                f"parent {parent_id!r}: {', '.join(names)}", thread_id=thread_id,
                checkpoint_id=parent_id, details={"children": names})


def _counter_order(view: StoreView, timed: list[FileRecord]) -> Iterator[Finding]:
    groups: dict[tuple[str, str, IdScheme], list[tuple[int, FileRecord]]] = defaultdict(list)
    for record in timed:
        assert record.thread_id is not None and record.checkpoint_id is not None
        if view.latest.get(record.thread_id) is record:
            continue  # update_state legitimately re-saves the latest with a new time
        parsed = proc_and_counter(record.checkpoint_id)
        if parsed is not None:
            scheme, proc, counter = parsed
            groups[(record.thread_id, proc, scheme)].append((counter, record))
    for (thread_id, proc, scheme), members in groups.items():
        members.sort(key=lambda pair: pair[0])
        inversions = [
            (earlier, later) for (_, earlier), (_, later) in itertools.pairwise(members)
            if timestamp_ns(later) + CLOCK_TOLERANCE_NS < timestamp_ns(earlier)
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
            severity=Severity.WARNING if scheme is IdScheme.COUNTER else None,
            details={"inversions": len(inversions), "scheme": scheme.value})


def check(view: StoreView) -> Iterator[Finding]:
    yield from _duplicates(view)
    timed = [r for r in view.scan.records if r.loadable and r.secs >= 0]
    yield from _parents(view, timed)
    yield from _counter_order(view, timed)
