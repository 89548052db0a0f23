"""What the lineage checks read: a store's checkpoint columns plus the tables derived from
them once (latest per thread, ids on several rows, rows by thread and process).

``LineageView`` is neutral: the file store's ``StoreView`` extends it with the folder's own
facts, a database or object store's view with what its backend says is latest.
"""

from __future__ import annotations

import functools
from array import array
from typing import TypedDict

from dashfix import native
from dashfix.inputs.checkpoint_model import CheckpointColumns, LineageRecord
from dashfix.inputs.latest import FILE_SCAN
from dashfix.timefmt import format_utc

CLOCK_TOLERANCE_NS = 1_000_000_000
"""Timestamps closer than this are not called out of order (one process saves sequentially)."""


class LineageView:
    """A store's checkpoint columns and the tables derived from them.

    ``rel`` is the store relative to the scanned root ("." for the root itself); a finding
    about entry ``name`` is at ``path(name)``. ``repair`` and ``rebuild`` are the commands a
    finding's fix names, None where the store has none.
    """

    def __init__(self, rows: CheckpointColumns, rel: str) -> None:
        self.rows = rows
        self.rel = rel
        self.latest_rows: dict[str, int] = {}
        """Per thread, the row of the newest checkpoint: the greatest timestamp, ties broken
        by the greater id string (DashFlow's file rule, ``FILE_SCAN``)."""
        self.same_id: dict[str, list[int]] = {}
        """Ids carried by several rows -> those rows, in row order."""
        self.by_thread_proc: dict[tuple[str, str], array[int]] = {}
        """(thread, id process part) -> the timed rows whose id names that process (part ""
        for ``{thread}_{n}`` ids), in row order."""
        for checkpoint_id in rows.other_ids:
            carriers = rows.carriers(checkpoint_id)
            if len(carriers) > 1:
                self.same_id[checkpoint_id] = carriers
        if native.MODULE is not None:
            # Both tables in one pass in C (over every row, on one core): the same answers
            # as the two passes below (a test compares them).
            self.latest_rows, self.by_thread_proc = native.MODULE.group_timed_rows(
                rows.threads, rows.procs, rows.secs, rows.nanos, rows.checkpoint_id, array)
        else:
            self.latest_rows = FILE_SCAN.latest_rows(rows.threads, rows.secs, rows.nanos,
                                                     rows.checkpoint_id)
            self._group_timed_rows()

    def _group_timed_rows(self) -> None:
        """One pass over the timed rows: the groups by (thread, process). Consecutive rows
        nearly always share both (names sort by thread and process), so a group is looked
        up again only when they change."""
        rows = self.rows
        groups = self.by_thread_proc
        last_thread: str | None = None
        last_proc: str | None = None
        group = array("q")
        columns = zip(rows.secs, rows.threads, rows.procs, strict=True)
        for row, (moment, thread, proc) in enumerate(columns):
            if moment < 0 or proc is None:
                continue  # not timed, or no process in the id
            assert thread is not None  # a timed row always has its ids
            if proc is not last_proc or thread is not last_thread:
                key = (thread, proc)
                found = groups.get(key)
                if found is None:
                    found = groups[key] = array("q")
                group, last_thread, last_proc = found, thread, proc
            group.append(row)

    @functools.cached_property
    def latest(self) -> dict[str, LineageRecord]:
        """Per thread, the record of the newest checkpoint (``latest_rows``)."""
        record = self.rows.record
        return {thread: record(row) for thread, row in self.latest_rows.items()}

    @property
    def repair(self) -> str | None:
        return None

    @property
    def rebuild(self) -> str | None:
        return None

    def first_carrier(self, checkpoint_id: str) -> int | None:
        """The row of the (first) checkpoint carrying the id, if any."""
        carriers = self.rows.carriers(checkpoint_id)
        return carriers[0] if carriers else None

    def parent_unreadable(self, checkpoint_id: str) -> bool:
        """Whether the store holds ``checkpoint_id`` in a form that did not load (it has its
        own finding, so a child naming it is not given a dangling parent on top)."""
        return False

    def path(self, name: str) -> str:
        """``name`` in the store relative to the scanned root; "." is the store itself."""
        if name == ".":
            return self.rel
        return name if self.rel == "." else f"{self.rel}/{name}"


def timestamp_ns(record: LineageRecord) -> int:
    return record.secs * 1_000_000_000 + record.nanos


def describe_time(record: LineageRecord) -> str:
    return format_utc(record.secs, record.nanos)


class Ids(TypedDict):
    thread_id: str | None
    checkpoint_id: str | None


def ids_of(record: LineageRecord) -> Ids:
    """The finding keywords naming the record's thread and checkpoint."""
    return {"thread_id": record.thread_id, "checkpoint_id": record.checkpoint_id}
