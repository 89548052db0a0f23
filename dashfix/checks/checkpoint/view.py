"""What every checkpoint check family receives: the scan plus shared derived tables."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import TypedDict

from dashfix.formats.ids import IdScheme
from dashfix.inputs.checkpoint_store import (
    CHECKPOINT_VARIANTS,
    FileRecord,
    StoreScan,
    latest_per_thread,
)

IdParts = tuple[IdScheme, str, int]
"""(scheme, proc, counter) of a current-scheme or counter-scheme id."""

CLOCK_TOLERANCE_NS = 1_000_000_000
"""Timestamps closer than this are not called out of order (one process saves sequentially)."""


_HEX_DIGITS = frozenset("0123456789abcdef")


def proc_and_counter(checkpoint_id: str) -> IdParts | None:
    """(scheme, proc, counter) of a current-scheme or counter-scheme id, else None.

    The same answer as ``parse_id`` without regexes: it runs for every checkpoint.
    """
    parts = checkpoint_id.rsplit("_", 2)
    if len(parts) == 3:
        proc, last = parts[1], parts[2]
        digits = last[5:]
        if (last[:5] == "chkpt" and digits.isdecimal() and digits.isascii()
                and 5 <= len(proc) <= 16 and _HEX_DIGITS.issuperset(proc)):
            return IdScheme.CURRENT, proc, int(digits)
    head, _, digits = checkpoint_id.rpartition("_")
    if head and digits.isdecimal() and digits.isascii():
        return IdScheme.COUNTER, "", int(digits)
    return None


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
    by_id: dict[str, list[FileRecord]] = field(default_factory=dict)
    """Embedded checkpoint id -> the checkpoint files carrying it."""
    names: set[str] = field(default_factory=set)
    id_parts: list[IdParts | None] = field(default_factory=list)
    """``proc_and_counter`` of each record's id, aligned with ``scan.records``."""

    @classmethod
    def of(cls, scan: StoreScan, rel: str) -> StoreView:
        view = cls(scan, rel, _store_argument(str(scan.path)))
        view.latest = latest_per_thread(scan.records)
        by_id, parts = view.by_id, view.id_parts
        view.names = {record.name for record in scan.records}
        for record in scan.records:
            checkpoint_id = record.checkpoint_id
            if checkpoint_id is not None and record.variant in CHECKPOINT_VARIANTS:
                by_id.setdefault(checkpoint_id, []).append(record)
                parts.append(proc_and_counter(checkpoint_id))
            else:
                parts.append(None)
        return view

    def path(self, name: str) -> str:
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
