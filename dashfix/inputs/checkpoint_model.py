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
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple, Protocol, overload

from dashfix.formats.ids import COUNTER_DIGITS_MAX, proc_and_counter
from dashfix.inputs.checkpoint_record import PLAIN
from dashfix.inputs.checkpoint_rows import LOST_PARENT, NO_PARENT

NS_PER_SEC = 1_000_000_000
NS_PER_MS = 1_000_000
_DIGITS = "0123456789"


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


class PlainEntries(NamedTuple):
    """A page of checkpoints with nothing to look at but their place in the lineage, one
    column each: every field readable, empty metadata, a state that is not compressed, each
    living where its store's namer says. A source yields such a page, when every entry of
    it is plain, with no object per entry (``CheckpointTable.extend`` takes it as it is)."""

    ids: Sequence[str]
    threads: Sequence[str]
    timestamps_ns: Sequence[int]
    parents: Sequence[str | None]


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
    def names(self) -> Sequence[str]:
        """Where each row's entry lives in its store (a file name, a key, ...)."""
        ...

    @property
    def other_ids(self) -> dict[str, list[int]]: ...

    def checkpoint_id(self, row: int) -> str | None: ...

    def parent_id(self, row: int) -> str | None: ...

    def carriers(self, checkpoint_id: str) -> list[int]: ...

    def record(self, row: int) -> LineageRecord: ...


Namer = Callable[[str, str], str]
"""(thread_id, checkpoint_id) -> where the backend keeps that checkpoint (its entry name)."""


class _Names(Sequence[str]):
    """A table's entry names, made when asked: a name is ``namer(thread, id)`` except for
    the rare entry kept under another name (an object whose key names another id)."""

    def __init__(self, table: CheckpointTable) -> None:
        self.table = table

    @overload
    def __getitem__(self, row: int) -> str: ...

    @overload
    def __getitem__(self, row: slice) -> Sequence[str]: ...

    def __getitem__(self, row: int | slice) -> str | Sequence[str]:
        if isinstance(row, slice):
            return [self[at] for at in range(len(self))[row]]
        table = self.table
        odd = table.odd_names.get(row)
        if odd is not None:
            return odd
        thread = table.threads[row]
        assert thread is not None
        return table.namer(thread, table.ids[row])

    def __len__(self) -> int:
        return len(self.table.ids)


class TableRecord(NamedTuple):
    """What a lineage finding names about one row of a ``CheckpointTable``."""

    name: str
    checkpoint_id: str
    thread_id: str
    secs: int
    nanos: int


class CheckpointTable:
    """The checkpoints of a database or object store as columns (``CheckpointColumns``).

    ``extend`` takes a batch of checkpoints as columns (a source reads them a page at a
    time), ``add`` one entry. Only what the lineage checks read is kept: ids, threads
    (interned), the process part and counter of each id, the time, and the parent as the
    row it names; no state, node or metadata (the backend's own checks look at those as
    entries stream by) and no names that ``namer`` makes again.

    Nor is there an id -> row table while entries come in (at 1,000,000 rows it weighs
    ~75 MiB, its row numbers as many objects): a parent is nearly always the entry its
    thread saved just before, so a parent is looked for there; a set of the ids seen
    finds the ids carried twice. ``freeze``, once every entry is in, settles the rest in
    one pass over the ids: the parents found elsewhere or later, and the first carrier of
    an id carried twice. The id -> row table is built only if ``row_of`` or ``carriers``
    is asked (a backend's own pointers, a finding about a parent). Memory grows by about
    a hundred and fifty bytes per checkpoint whatever the states weigh."""

    def __init__(self, place: Place, namer: Namer, *, unique_ids: bool = False) -> None:
        """``unique_ids`` when the store itself keeps every id on one entry at most (a
        unique index): no set of the ids seen is then kept (~32 MiB at 1,000,000)."""
        self.place = place
        self.namer = namer
        self.unique_ids = unique_ids
        self.names: Sequence[str] = _Names(self)
        self.odd_names: dict[int, str] = {}
        self.ids: list[str] = []
        self.kinds = bytearray()
        self.threads: list[str | None] = []
        self.procs: list[str | None] = []
        self.counters = array("q")
        self.secs = array("q")
        self.nanos = array("q")
        self.parent_rows = array("q")
        self.lost_parents: dict[int, str] = {}
        self._seen: set[str] = set()
        self._carried_again: set[str] = set()
        """Ids met on more than one row (``freeze`` makes ``other_ids`` of them)."""
        self._last_of_thread: dict[str, int] = {}
        self._row_of_id: dict[str, int] | None = None
        self._procs_of_heads: dict[str, str | None] = {}
        self._other_ids: dict[str, list[int]] = {}

    def add(self, entry: CheckpointEntry, *, odd_name: bool = False) -> int:
        """Take one entry; ``odd_name`` when it lives under another name than ``namer``
        gives (an object whose key names another id). Returns its row."""
        row = len(self.ids)
        self.extend((entry.checkpoint_id,), (entry.thread_id,), (entry.timestamp_ns,),
                    (entry.parent_id,))
        if odd_name:
            self.odd_names[row] = entry.name
        return row

    def extend(self, ids: Sequence[str], threads: Sequence[str], timestamps_ns: Sequence[int],
               parents: Sequence[str | None]) -> None:
        """Take a batch of checkpoints, one column each, in row order (``PlainEntries``
        unpacked). The work is done a column at a time (comprehensions and C loops), not an
        entry at a time."""
        start = len(self.ids)
        count = len(ids)
        self.ids.extend(ids)
        self.kinds.extend(bytes([PLAIN]) * count)
        self.threads.extend(map(sys.intern, threads))
        # The process part depends on the id without its counter digits alone: parse one id
        # per head (a store has a handful), not one per checkpoint.
        heads = [checkpoint_id.rstrip(_DIGITS) for checkpoint_id in ids]
        procs_of = self._procs_of_heads
        for head in set(heads).difference(procs_of):
            parsed = proc_and_counter(head + "0")
            procs_of[head] = None if parsed is None else parsed[1]
        procs = [procs_of[head] if 0 < len(checkpoint_id) - len(head) <= COUNTER_DIGITS_MAX
                 else None for head, checkpoint_id in zip(heads, ids, strict=True)]
        self.procs.extend(procs)
        self.counters.extend([-1 if proc is None else int(checkpoint_id[len(head):])
                              for proc, head, checkpoint_id in zip(procs, heads, ids,
                                                                   strict=True)])
        self.secs.extend([moment // NS_PER_SEC for moment in timestamps_ns])
        self.nanos.extend([moment % NS_PER_SEC for moment in timestamps_ns])
        if not self.unique_ids:
            self._note_ids(ids)
        self.parent_rows.extend(self._parent_rows(start, self.threads, parents))
        self._row_of_id = None  # made again if asked

    def _note_ids(self, ids: Sequence[str]) -> None:
        """Note the ids carried again. Nearly always every id of a batch is new: one C-level
        test and update."""
        seen = self._seen
        if seen.isdisjoint(ids):
            size = len(seen)
            seen.update(ids)
            if len(seen) - size < len(ids):  # an id twice in this batch
                self._carried_again.update(
                    checkpoint_id for checkpoint_id, times in Counter(ids).items() if times > 1)
            return
        for checkpoint_id in ids:
            if checkpoint_id in seen:
                self._carried_again.add(checkpoint_id)
            else:
                seen.add(checkpoint_id)

    def _parent_rows(self, start: int, threads: list[str | None],
                     parents: Sequence[str | None]) -> list[int]:
        """The row of each parent (rows ``start`` on) when it is the entry its thread saved
        last, else ``LOST_PARENT`` (settled by ``freeze``)."""
        ids = self.ids
        last_of_thread = self._last_of_thread
        lost = self.lost_parents
        rows: list[int] = []
        for row in range(start, len(ids)):
            parent = parents[row - start]
            thread = threads[row]
            assert thread is not None
            if parent is None:
                rows.append(NO_PARENT)
            else:
                previous = last_of_thread.get(thread, NO_PARENT)
                if previous >= 0 and ids[previous] == parent:
                    rows.append(previous)
                else:
                    rows.append(LOST_PARENT)
                    lost[row] = parent
            last_of_thread[thread] = row
        return rows

    def freeze(self) -> None:
        """Every entry is in: resolve the parents not found as their thread's previous
        entry, and make ``other_ids`` (each parent then names the first row carrying its
        id, as ``row_of`` does)."""
        again = self._carried_again
        if not self.lost_parents and not again:
            return
        wanted = again.union(self.lost_parents.values())
        if len(wanted) * 16 > len(self.ids):
            # Most parents came out of order (a key-value store lists in hash order): the
            # whole id -> row table, made in C, answers them (and ``row_of`` after).
            first = self._lookup()
            wanted = again
        else:
            first = {}
        for row, checkpoint_id in enumerate(self.ids if wanted else ()):
            if checkpoint_id in wanted:
                found = first.setdefault(checkpoint_id, row)
                if found != row:
                    self._other_ids.setdefault(checkpoint_id, [found]).append(row)
        for row, parent in list(self.lost_parents.items()):
            found = first.get(parent, LOST_PARENT)
            if found >= 0:
                self.parent_rows[row] = found
                del self.lost_parents[row]
        if again:  # a parent found as its thread's previous entry may have a first carrier
            ids, parent_rows = self.ids, self.parent_rows
            for row, parent_row in enumerate(parent_rows):
                if parent_row >= 0 and ids[parent_row] in again:
                    parent_rows[row] = first[ids[parent_row]]
            again.clear()

    def _lookup(self) -> dict[str, int]:
        """Id -> the first row carrying it, made when first asked."""
        if self._row_of_id is None:
            ids = self.ids
            # In reverse, so that an id on several rows keeps its first.
            self._row_of_id = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1),
                                       strict=True))
        return self._row_of_id

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def other_ids(self) -> dict[str, list[int]]:
        return self._other_ids

    def row_of(self, checkpoint_id: str) -> int | None:
        """The first row carrying ``checkpoint_id``."""
        return self._lookup().get(checkpoint_id)

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
        row = self._lookup().get(checkpoint_id)
        return [] if row is None else [row]

    def timestamp_ns(self, row: int) -> int:
        return self.secs[row] * NS_PER_SEC + self.nanos[row]

    def record(self, row: int) -> TableRecord:
        thread = self.threads[row]
        assert thread is not None
        return TableRecord(self.names[row], self.ids[row], thread, self.secs[row],
                           self.nanos[row])
