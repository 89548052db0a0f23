"""What every checkpoint check family receives: the scan plus shared derived tables."""

from __future__ import annotations

import functools
import os
import shlex
from dataclasses import dataclass, field
from typing import TypedDict

from dashfix.inputs.checkpoint_store import (
    CHECKPOINT_VARIANTS,
    DCHK,
    FileRecord,
    StoreScan,
    latest_per_thread,
)

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
    latest: dict[str, FileRecord] = field(default_factory=dict)
    """Per thread, the checkpoint DashFlow's file scan would pick."""
    by_id: dict[str, FileRecord] = field(default_factory=dict)
    """Embedded checkpoint id -> the (first) checkpoint file carrying it."""
    same_id: dict[str, list[FileRecord]] = field(default_factory=dict)
    """Ids carried by several files -> every one of them."""
    timed: list[FileRecord] = field(default_factory=list)
    """Loadable checkpoints with a known timestamp (what chains and writers compare)."""
    unusual: list[FileRecord] = field(default_factory=list)
    """Every record except plain, healthy DCHK checkpoints: all that per-file checks need
    to look at, so they stay cheap on a big healthy store."""
    variants: set[str] = field(default_factory=set)
    """Variants of the records that read without a problem."""
    by_thread_proc: dict[tuple[str, str], list[FileRecord]] = field(default_factory=dict)
    """(thread, id process part) -> the timed checkpoints whose id names that process
    (part "" for ``{thread}_{n}`` ids), in record order."""

    @classmethod
    def of(cls, scan: StoreScan, rel: str) -> StoreView:
        view = cls(scan, rel, _store_argument(str(scan.path)))
        view.latest = latest_per_thread(scan.records)
        by_id, same_id, timed, unusual = view.by_id, view.same_id, view.timed, view.unusual
        groups = view.by_thread_proc
        for record in scan.records:
            checkpoint_id = record.checkpoint_id
            variant = record.variant
            is_timed = variant == DCHK and record.problem is None and not record.flags and (
                record.secs >= 0
            )
            if not is_timed:
                unusual.append(record)
                if record.problem is None:
                    view.variants.add(variant)
                    is_timed = record.secs >= 0 and variant in CHECKPOINT_VARIANTS
            if is_timed:
                timed.append(record)
                proc = record.proc
                if proc is not None and record.thread_id is not None:
                    group = groups.get((record.thread_id, proc))
                    if group is None:
                        groups[(record.thread_id, proc)] = [record]
                    else:
                        group.append(record)
            if checkpoint_id is not None and variant in CHECKPOINT_VARIANTS:
                first = by_id.setdefault(checkpoint_id, record)
                if first is not record:
                    same_id.setdefault(checkpoint_id, [first]).append(record)
        if len(unusual) < len(scan.records):
            view.variants.add(DCHK)
        return view

    @functools.cached_property
    def names(self) -> set[str]:
        """Every entry name; built on first use (a damaged or missing file), since a
        healthy store never needs it."""
        return {record.name for record in self.scan.records}

    def path(self, name: str) -> str:
        """``name`` in the store relative to the scanned root; "." is the store itself."""
        if name == ".":
            return self.rel
        return name if self.rel == "." else f"{self.rel}/{name}"

    @property
    def repair(self) -> str:
        return f"dashfix repair {self.store_arg} --apply"

    @property
    def rebuild(self) -> str:
        return f"dashfix rebuild-index {self.store_arg}"


def timestamp_ns(record: FileRecord) -> int:
    return record.secs * 1_000_000_000 + record.nanos


def describe_time(record: FileRecord) -> str:
    return f"{record.secs}.{record.nanos:09d}"


class Ids(TypedDict):
    thread_id: str | None
    checkpoint_id: str | None


def ids_of(record: FileRecord) -> Ids:
    """The finding keywords naming the record's thread and checkpoint."""
    return {"thread_id": record.thread_id, "checkpoint_id": record.checkpoint_id}
