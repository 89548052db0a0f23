"""A scanned store folder's records as columns (``StoreRows``).

A ``FileRecord`` per file, with its own id, parent and int objects, costs ~850 bytes: far
over the 400 MiB that issue 2 allows a store of 1,000,000 files. So a store keeps row ``i``
(the entry ``names[i]``) as columns: names are the listing's own strings, a checkpoint id is
its file name without ``.bin``, a parent is the row of the file that its id names, thread,
node and process are shared strings, and numbers live in ``array('q')``. Only rows that are
not PLAIN (damaged, renamed, another variant, temps...: rare) keep a whole ``FileRecord``.

The columns of a row that is not PLAIN hold what the cross-file checks compare: its thread
(checkpoint variants only), and process, counter, timestamp and parent when it is *timed*
(``is_timed``). ``record(row)`` rebuilds any row's record exactly.
"""

from __future__ import annotations

import functools
import operator
from array import array
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from dashfix import native
from dashfix.inputs.checkpoint_record import (
    ABSENT,
    CHECKPOINT_VARIANTS,
    OTHER,
    PLAIN,
    FileRecord,
    RowValues,
    plain_record,
    row_values,
)

NO_PARENT = -1
LOST_PARENT = -2
"""``parent_rows`` values: no parent, or a parent id naming no file of the store (the id is
then in ``lost_parents``). Any other value is the row of the file ``{parent_id}.bin``."""

_by_name = operator.attrgetter("name")


class RowBatch(NamedTuple):
    """Consecutive rows from ``start``, column by column: what a reading process sends
    back (arrays and shared strings pickle without a Python call per row)."""

    start: int
    kinds: bytes
    threads: tuple[str | None, ...]
    nodes: tuple[str | None, ...]
    procs: tuple[str | None, ...]
    counters: array[int]
    secs: array[int]
    nanos: array[int]
    mtimes: array[int]
    sizes: array[int]
    state_starts: array[int]
    state_ends: array[int]
    parent_rows: array[int]
    lost_parents: dict[int, str]
    others: list[tuple[int, FileRecord]]


def batch_of(start: int, values: list[RowValues], others: list[tuple[int, FileRecord]],
             row_of: native.RowTable) -> RowBatch:
    """The batch of rows ``start, start + 1, ...`` holding ``values``; ``others`` are the
    records of its rows that are not PLAIN, ``row_of`` finds the row of a parent's file."""
    if not values:
        none = array("q")
        return RowBatch(start, b"", (), (), (), none, none, none, none, none, none, none, none,
                        {}, others)
    (kinds, threads, nodes, procs, counters, secs, nanos, mtimes, sizes, state_starts,
     state_ends, parents) = zip(*values, strict=True)
    get = row_of.get
    parent_rows = array("q", [NO_PARENT if parent is None else get(parent + ".bin", LOST_PARENT)
                              for parent in parents])
    lost: dict[int, str] = {}
    if LOST_PARENT in parent_rows:
        lost = {start + at: parent
                for at, (row, parent) in enumerate(zip(parent_rows, parents, strict=True))
                if row == LOST_PARENT and parent is not None}
    return RowBatch(start, bytes(kinds), threads, nodes, procs, array("q", counters),
                    array("q", secs), array("q", nanos), array("q", mtimes), array("q", sizes),
                    array("q", state_starts), array("q", state_ends), parent_rows, lost, others)


class StoreRows:
    """Row ``i`` is the store entry ``names[i]``; ``fill`` sets rows from batches. Rows come
    by name, except that a scan puts the entries it found while listing (symlinks, folders:
    never checkpoints) last."""

    def __init__(self, names: list[str]) -> None:
        count = len(names)
        self.names = names
        self.row_of = native.row_table(names)
        self.kinds = bytearray((ABSENT,)) * count
        self.threads: list[str | None] = [None] * count
        self.nodes: list[str | None] = [None] * count
        self.procs: list[str | None] = [None] * count
        minus_one = array("q", (-1,)) * count
        zeros = array("q", (0,)) * count
        self.counters = minus_one
        self.secs = array("q", minus_one)
        self.nanos = zeros
        self.mtimes = array("q", zeros)
        self.sizes = array("q", zeros)
        self.state_starts = array("q", minus_one)
        self.state_ends = array("q", minus_one)
        self.parent_rows = array("q", (NO_PARENT,)) * count
        self.lost_parents: dict[int, str] = {}
        self.others: dict[int, FileRecord] = {}
        self.modes: array[int] | None = None
        """The file modes of PLAIN rows (-1 unknown; ``array('i')``), kept only for the
        verify cache."""

    @classmethod
    def of_records(cls, records: Iterable[FileRecord]) -> StoreRows:
        ordered = sorted(records, key=_by_name)
        rows = cls([record.name for record in ordered])
        rows.fill(records_batch(0, ordered, rows.row_of))
        return rows

    def fill(self, batch: RowBatch) -> None:
        start = batch.start
        stop = start + len(batch.kinds)
        self.kinds[start:stop] = batch.kinds
        self.threads[start:stop] = batch.threads
        self.nodes[start:stop] = batch.nodes
        self.procs[start:stop] = batch.procs
        self.counters[start:stop] = batch.counters
        self.secs[start:stop] = batch.secs
        self.nanos[start:stop] = batch.nanos
        self.mtimes[start:stop] = batch.mtimes
        self.sizes[start:stop] = batch.sizes
        self.state_starts[start:stop] = batch.state_starts
        self.state_ends[start:stop] = batch.state_ends
        self.parent_rows[start:stop] = batch.parent_rows
        self.lost_parents.update(batch.lost_parents)
        self.others.update(batch.others)

    def columns(self) -> tuple[object, ...]:
        """Every column, in the order the C reader fills them in place
        (``dashfix._native.read_checkpoints``)."""
        return (self.kinds, self.threads, self.nodes, self.procs, self.counters, self.secs,
                self.nanos, self.mtimes, self.sizes, self.state_starts, self.state_ends,
                self.parent_rows, self.lost_parents, self.modes)

    def set_row(self, row: int, values: RowValues, record: FileRecord | None) -> None:
        """Row ``row`` holds ``values``; ``record`` is kept when the row is not PLAIN."""
        (kind, self.threads[row], self.nodes[row], self.procs[row], self.counters[row],
         self.secs[row], self.nanos[row], self.mtimes[row], self.sizes[row],
         self.state_starts[row], self.state_ends[row], parent) = values
        self.kinds[row] = kind
        if parent is None:
            self.parent_rows[row] = NO_PARENT
        else:
            self.parent_rows[row] = self.row_of.get(parent + ".bin", LOST_PARENT)
            if self.parent_rows[row] == LOST_PARENT:
                self.lost_parents[row] = parent
        if kind != PLAIN and record is not None:
            self.others[row] = record

    def __len__(self) -> int:
        return len(self.names)

    def present(self, name: str) -> bool:
        """Whether the store has an entry ``name`` (a listed file that vanished has not)."""
        row = self.row_of.get(name)
        return row is not None and self.kinds[row] != ABSENT

    def checkpoint_id(self, row: int) -> str | None:
        kind = self.kinds[row]
        if kind == PLAIN:
            return self.names[row][:-4]
        return self.others[row].checkpoint_id if kind == OTHER else None

    def parent_id(self, row: int) -> str | None:
        """The parent id of a timed row."""
        parent = self.parent_rows[row]
        if parent >= 0:
            return self.names[parent][:-4]
        return self.lost_parents.get(row)

    def record(self, row: int) -> FileRecord:
        """The row's record (built anew for a PLAIN row)."""
        if self.kinds[row] != PLAIN:
            return self.others[row]
        return plain_record(self.names[row], (
            PLAIN, self.threads[row], self.nodes[row], self.procs[row], self.counters[row],
            self.secs[row], self.nanos[row], self.mtimes[row], self.sizes[row],
            self.state_starts[row], self.state_ends[row], self.parent_id(row)))

    def records(self) -> list[FileRecord]:
        """Every entry's record, by name."""
        kinds = self.kinds
        return sorted((self.record(row) for row in range(len(kinds)) if kinds[row] != ABSENT),
                      key=_by_name)

    def plain_names(self) -> Iterator[str]:
        kinds = self.kinds
        return (name for row, name in enumerate(self.names) if kinds[row] == PLAIN)

    @functools.cached_property
    def other_ids(self) -> dict[str, list[int]]:
        """Ids that checkpoint files kept as records carry -> those rows, in name order."""
        carried: dict[str, list[int]] = {}
        for row in sorted(self.others):
            record = self.others[row]
            if record.checkpoint_id is not None and record.variant in CHECKPOINT_VARIANTS:
                carried.setdefault(record.checkpoint_id, []).append(row)
        return carried

    def carriers(self, checkpoint_id: str) -> list[int]:
        """Rows of the checkpoint files whose embedded id is ``checkpoint_id``, by name."""
        rows = list(self.other_ids.get(checkpoint_id, ()))
        plain = self.row_of.get(checkpoint_id + ".bin")
        if plain is not None and self.kinds[plain] == PLAIN:
            rows.append(plain)
            rows.sort()
        return rows


def records_batch(start: int, records: list[FileRecord], row_of: native.RowTable) -> RowBatch:
    """The batch of rows ``start, start + 1, ...`` holding ``records``."""
    values = [row_values(record) for record in records]
    others = [(start + at, record) for at, record in enumerate(records)
              if values[at][0] != PLAIN]
    return batch_of(start, values, others, row_of)
