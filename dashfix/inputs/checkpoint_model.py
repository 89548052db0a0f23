"""One checkpoint model for every store: a backend-neutral entry, and the columns the
checks that compare checkpoints with each other read.

A file store keeps its rows in ``StoreRows`` (``dashfix.inputs.checkpoint_rows``), built for
1,000,000 files; a database or object store builds a ``CheckpointTable`` from the
``CheckpointEntry`` values its source yields. Both have the columns of
``CheckpointColumns``, so the lineage checks (``dashfix.checks.lineage``: parent chains, id
collisions, counter order, several writers, latest vs newest) are written once and run over
either, column by column.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple, Protocol

from dashfix.inputs.checkpoint_record import PLAIN
from dashfix.inputs.checkpoint_rows import LOST_PARENT, NO_PARENT
from dashfix.inputs.checkpoint_store import proc_and_counter

NS_PER_SEC = 1_000_000_000


class Place(StrEnum):
    """What kind of thing holds a checkpoint in its store."""

    FILE = "file"
    ROW = "row"
    KEY = "key"
    OBJECT = "object"
    ITEM = "item"


class CheckpointEntry(NamedTuple):
    """One checkpoint as any backend stores it, decoded into DashFlow's fields.

    ``timestamp_ns`` is nanoseconds since the epoch, converted from the backend's own unit
    (SQLite milliseconds, Postgres/Redis/DynamoDB nanoseconds, S3 ``{secs, nanos}``).
    ``name`` says where it lives inside the store: a file name, ``table/{id}`` for a row, a
    key, an object key or an item key.
    """

    checkpoint_id: str
    thread_id: str
    node: str
    timestamp_ns: int
    parent_id: str | None
    metadata: Mapping[str, str] | None
    state_size: int
    state_digest: str | None
    place: Place
    name: str

    @property
    def secs(self) -> int:
        return self.timestamp_ns // NS_PER_SEC

    @property
    def nanos(self) -> int:
        return self.timestamp_ns % NS_PER_SEC


class LineageRecord(Protocol):
    """What a lineage finding names about one checkpoint (a ``FileRecord`` or an entry)."""

    @property
    def name(self) -> str: ...

    @property
    def checkpoint_id(self) -> str | None: ...

    @property
    def thread_id(self) -> str | None: ...

    @property
    def secs(self) -> int: ...

    @property
    def nanos(self) -> int: ...


class CheckpointColumns(Protocol):
    """Row ``i`` of a store as columns. A row is *timed* when ``secs[i] >= 0``: a checkpoint
    that loads, with a known timestamp; only timed rows take part in the lineage checks.
    ``parent_rows[i]`` is the row of the checkpoint its parent id names, ``NO_PARENT``, or
    ``LOST_PARENT`` (the id is then in ``lost_parents``). ``other_ids`` maps an id carried
    by more than one row to those rows."""

    names: list[str]
    kinds: bytearray
    threads: list[str | None]
    procs: list[str | None]
    counters: array[int]
    secs: array[int]
    nanos: array[int]
    parent_rows: array[int]
    lost_parents: dict[int, str]

    def __len__(self) -> int: ...

    @property
    def other_ids(self) -> dict[str, list[int]]: ...

    def checkpoint_id(self, row: int) -> str | None: ...

    def parent_id(self, row: int) -> str | None: ...

    def carriers(self, checkpoint_id: str) -> list[int]: ...

    def record(self, row: int) -> LineageRecord: ...


class CheckpointTable:
    """The checkpoints of a database or object store as columns (``CheckpointColumns``).

    ``add`` takes entries as a source streams them; only the columns are kept (no state
    bytes, metadata only when it is not empty), so memory grows by a few dozen bytes per
    checkpoint whatever the states weigh. ``freeze`` resolves parent ids to rows once every
    entry is in."""

    def __init__(self, place: Place) -> None:
        self.place = place
        self.names: list[str] = []
        self.ids: list[str] = []
        self.kinds = bytearray()
        self.threads: list[str | None] = []
        self.nodes: list[str | None] = []
        self.procs: list[str | None] = []
        self.counters = array("q")
        self.secs = array("q")
        self.nanos = array("q")
        self.state_sizes = array("q")
        self.parent_rows = array("q")
        self.lost_parents: dict[int, str] = {}
        self.metadata: dict[int, Mapping[str, str]] = {}
        self.digests: dict[int, str] = {}
        self._parents: list[str | None] = []
        self._row_of_id: dict[str, int] = {}
        self._other_ids: dict[str, list[int]] = {}

    def add(self, entry: CheckpointEntry) -> int:
        row = len(self.ids)
        checkpoint_id = entry.checkpoint_id
        self.names.append(entry.name)
        self.ids.append(checkpoint_id)
        self.kinds.append(PLAIN)
        self.threads.append(sys.intern(entry.thread_id))
        self.nodes.append(sys.intern(entry.node))
        parsed = proc_and_counter(checkpoint_id)
        self.procs.append(None if parsed is None else parsed[1])
        self.counters.append(-1 if parsed is None else parsed[2])
        self.secs.append(entry.secs)
        self.nanos.append(entry.nanos)
        self.state_sizes.append(entry.state_size)
        self._parents.append(entry.parent_id)
        if entry.metadata:
            self.metadata[row] = entry.metadata
        if entry.state_digest is not None:
            self.digests[row] = entry.state_digest
        first = self._row_of_id.setdefault(checkpoint_id, row)
        if first != row:
            self._other_ids.setdefault(checkpoint_id, [first]).append(row)
        return row

    def freeze(self) -> None:
        """Resolve every parent id to the (first) row carrying it."""
        row_of = self._row_of_id.get
        rows = array("q", (NO_PARENT,)) * len(self._parents)
        for row, parent in enumerate(self._parents):
            if parent is not None:
                found = row_of(parent)
                if found is None:
                    rows[row] = LOST_PARENT
                    self.lost_parents[row] = parent
                else:
                    rows[row] = found
        self.parent_rows = rows
        self._parents = []

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def other_ids(self) -> dict[str, list[int]]:
        return self._other_ids

    def row_of(self, checkpoint_id: str) -> int | None:
        """The first row carrying ``checkpoint_id``."""
        return self._row_of_id.get(checkpoint_id)

    def checkpoint_id(self, row: int) -> str:
        return self.ids[row]

    def parent_id(self, row: int) -> str | None:
        parent = self.parent_rows[row]
        if parent >= 0:
            return self.ids[parent]
        return self.lost_parents.get(row)

    def carriers(self, checkpoint_id: str) -> list[int]:
        rows = self._other_ids.get(checkpoint_id)
        if rows is not None:
            return list(rows)
        row = self._row_of_id.get(checkpoint_id)
        return [] if row is None else [row]

    def timestamp_ns(self, row: int) -> int:
        return self.secs[row] * NS_PER_SEC + self.nanos[row]

    def record(self, row: int) -> CheckpointEntry:
        node = self.nodes[row]
        thread = self.threads[row]
        assert node is not None and thread is not None
        return CheckpointEntry(
            self.ids[row], thread, node, self.timestamp_ns(row), self.parent_id(row),
            self.metadata.get(row), self.state_sizes[row], self.digests.get(row), self.place,
            self.names[row])

