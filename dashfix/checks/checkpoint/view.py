"""What every checkpoint check family receives: the scan plus shared derived tables.

The tables hold rows of the scan's ``StoreRows`` (ints), not records: a store of 1,000,000
checkpoints is walked column by column, and a ``FileRecord`` is only built for a row that
a finding is about.
"""

from __future__ import annotations

import functools
import os
import shlex
from array import array
from dataclasses import dataclass, field
from typing import TypedDict

from dashfix.inputs.checkpoint_record import DCHK, PLAIN, FileRecord
from dashfix.inputs.checkpoint_rows import StoreRows
from dashfix.inputs.checkpoint_store import StoreScan
from dashfix.timefmt import format_utc

CLOCK_TOLERANCE_NS = 1_000_000_000
"""Timestamps closer than this are not called out of order (one process saves sequentially)."""


def _store_argument(path: str) -> str:
    """The store as the user would type it from where verify ran."""
    relative = os.path.relpath(path)
    return shlex.quote(path if relative.startswith("..") else relative)


@dataclass
class StoreView:
    scan: StoreScan
    rel: str
    """The store folder relative to the scanned root ("." for the root itself)."""
    store_arg: str = ""
    latest_rows: dict[str, int] = field(default_factory=dict)
    """Per thread, the row of the checkpoint DashFlow's file scan would pick (DashFlow's
    rule, as ``latest_per_thread``)."""
    same_id: dict[str, list[int]] = field(default_factory=dict)
    """Ids carried by several checkpoint files -> their rows, by name."""
    unusual: list[FileRecord] = field(default_factory=list)
    """The records of every row that is not PLAIN (not a healthy plain DCHK checkpoint): all
    that per-file checks need to look at, so they stay cheap on a big healthy store."""
    variants: set[str] = field(default_factory=set)
    """Variants of the records that read without a problem."""
    by_thread_proc: dict[tuple[str, str], array[int]] = field(default_factory=dict)
    """(thread, id process part) -> the timed rows whose id names that process (part "" for
    ``{thread}_{n}`` ids), by name."""

    @classmethod
    def of(cls, scan: StoreScan, rel: str) -> StoreView:
        rows = scan.rows
        view = cls(scan, rel, _store_argument(str(scan.path)))
        view.unusual = [rows.others[row] for row in sorted(rows.others)]
        view.variants = {record.variant for record in view.unusual if record.problem is None}
        if PLAIN in rows.kinds:
            view.variants.add(DCHK)
        for checkpoint_id in rows.other_ids:
            carriers = rows.carriers(checkpoint_id)
            if len(carriers) > 1:
                view.same_id[checkpoint_id] = carriers
        view._group_timed_rows()
        return view

    def _group_timed_rows(self) -> None:
        """One pass over the timed rows: the latest per thread, and the groups by (thread,
        process). Consecutive rows nearly always share both (names sort by thread and
        process), so a group is looked up again only when they change."""
        rows = self.scan.rows
        threads, procs, secs, nanos = rows.threads, rows.procs, rows.secs, rows.nanos
        latest: dict[str, int] = self.latest_rows
        groups = self.by_thread_proc
        last_thread: str | None = None
        last_proc: str | None = None
        group = array("q")
        for row, (moment, thread, proc) in enumerate(zip(secs, threads, procs, strict=True)):
            if moment < 0:
                continue  # not timed
            assert thread is not None  # a timed row always has its ids
            best = latest.get(thread)
            if best is None or moment > secs[best] or (moment == secs[best] and (
                nanos[row] > nanos[best] or (nanos[row] == nanos[best] and (
                    (rows.checkpoint_id(row) or "") > (rows.checkpoint_id(best) or ""))))):
                latest[thread] = row
            if proc is None:
                continue
            if proc is not last_proc or thread is not last_thread:
                key = (thread, proc)
                found = groups.get(key)
                if found is None:
                    found = groups[key] = array("q")
                group, last_thread, last_proc = found, thread, proc
            group.append(row)

    @functools.cached_property
    def latest(self) -> dict[str, FileRecord]:
        """Per thread, the record of the checkpoint DashFlow's file scan would pick."""
        record = self.scan.rows.record
        return {thread: record(row) for thread, row in self.latest_rows.items()}

    @property
    def rows(self) -> StoreRows:
        return self.scan.rows

    def has(self, name: str) -> bool:
        """Whether the store has an entry ``name``."""
        return self.scan.rows.present(name)

    def first_carrier(self, checkpoint_id: str) -> int | None:
        """The row of the (first) checkpoint file carrying the embedded id, if any."""
        carriers = self.scan.rows.carriers(checkpoint_id)
        return carriers[0] if carriers else None

    def path(self, name: str) -> str:
        """``name`` in the store relative to the scanned root; "." is the store itself."""
        if name == ".":
            return self.rel
        return name if self.rel == "." else f"{self.rel}/{name}"

    @property
    def repair(self) -> str:
        # The plan first: it lists every action and says to add --apply to carry them out.
        return f"dashfix repair {self.store_arg}"

    @property
    def rebuild(self) -> str:
        return f"dashfix rebuild-index {self.store_arg}"


def timestamp_ns(record: FileRecord) -> int:
    return record.secs * 1_000_000_000 + record.nanos


def describe_time(record: FileRecord) -> str:
    return format_utc(record.secs, record.nanos)


class Ids(TypedDict):
    thread_id: str | None
    checkpoint_id: str | None


def ids_of(record: FileRecord) -> Ids:
    """The finding keywords naming the record's thread and checkpoint."""
    return {"thread_id": record.thread_id, "checkpoint_id": record.checkpoint_id}
