"""The lineage view of a database or object store, and the checks every such store gets:
which checkpoint DashFlow's own "latest" picks, and ids moved to another thread.

A backend's source streams ``CheckpointEntry`` values into a ``CheckpointTable``; the view
adds what the backend's ordering is (its unit and tie-break) so the same code answers for
SQLite's milliseconds, Redis's millisecond scores and Postgres's nanoseconds.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterator

from dashfix.checks.lineage import chains, writers
from dashfix.checks.lineage.view import LineageView, ids_of
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.formats.compression import UNCOMPRESSED, Compression, StateFraming
from dashfix.formats.ids import id_matches_thread
from dashfix.inputs.checkpoint_model import CheckpointEntry, CheckpointTable, PlainEntries
from dashfix.inputs.latest import LatestRule
from dashfix.rules import backends as db


class BackendView(LineageView):
    """A database or object store: rows are ``CheckpointTable`` rows, and an entry's path is
    ``{store}#{name}`` (``name`` alone when the store is the scanned root, a URL)."""

    rows: CheckpointTable

    def __init__(self, table: CheckpointTable, rel: str, unreadable: set[str]) -> None:
        super().__init__(table, rel)
        self.unreadable = unreadable
        """Ids of checkpoints the store holds but that could not be read (own findings)."""

    def parent_unreadable(self, checkpoint_id: str) -> bool:
        return checkpoint_id in self.unreadable

    def path(self, name: str) -> str:
        return entry_path(self.rel, name)


def entry_path(rel: str, name: str) -> str:
    """Entry ``name`` of the store at ``rel`` as findings name it: a logical location
    ``{store}#{name}``, or ``#{name}`` for a store that is its own root (a URL, so the
    location shown is ``postgresql://host/db#table/{id}``); "." is the store itself."""
    if name == ".":
        return rel
    return f"#{name}" if rel == "." else f"{rel}#{name}"


def latest_ties(view: BackendView, rule: LatestRule) -> Iterator[Finding]:
    """Checkpoints of one thread in the same ordering unit when the backend breaks no tie:
    at the top an error (get_latest picks either), below it a warning (list order)."""
    if rule.tie_break:
        return
    table = view.rows
    by_thread_unit: dict[tuple[str, int], list[int]] = {}
    for row, thread in enumerate(table.threads):
        if table.secs[row] >= 0:
            assert thread is not None
            by_thread_unit.setdefault((thread, table.timestamp_ns(row) // rule.unit_ns),
                                      []).append(row)
    tied_below: dict[str, list[list[int]]] = {}
    for (thread, _unit), rows in by_thread_unit.items():
        if len(rows) < 2:
            continue
        latest = view.latest_rows[thread]
        if latest in rows:
            names = sorted(table.ids[row] for row in rows)
            yield db.LATEST_AMBIGUOUS.at(
                view.path(table.names[latest]), f"thread {thread!r}: {len(rows)} checkpoints "
                f"share the newest timestamp ({table.timestamp_ns(latest) // rule.unit_ns} in "
                f"the unit of `{rule.query}`): {', '.join(names)}; DashFlow resumes from "
                "either", thread_id=thread, checkpoint_id=table.ids[latest],
                details={"tied": names})
        else:
            tied_below.setdefault(thread, []).append(rows)
    for thread, groups in tied_below.items():
        first = min(groups, key=lambda rows: rows[0])
        tied = ", ".join(table.ids[row] for row in first)
        yield db.SAME_UNIT_ORDER.at(
            view.path(table.names[first[0]]), f"thread {thread!r}: {len(groups)} group(s) of "
            f"older checkpoints share a timestamp (first: {tied}); `{rule.query}` lists them "
            "in any order", thread_id=thread, details={"groups": len(groups)})


def moved_ids(view: BackendView) -> Iterator[Finding]:
    """Rows whose thread_id is not the thread their id names (an upsert moved them, #6)."""
    table = view.rows
    columns = zip(table.ids, table.threads, table.procs, strict=True)
    for row, (checkpoint_id, thread, proc) in enumerate(columns):
        assert thread is not None
        if proc and checkpoint_id.startswith(f"{thread}_{proc}_chkpt"):
            continue  # the current scheme, made for this thread (the common case, cheaply)
        if not id_matches_thread(checkpoint_id, thread):
            yield db.ID_THREAD_MOVED.at(
                view.path(table.names[row]), f"{checkpoint_id} is stored under thread "
                f"{thread!r}, but its id was made for another thread: a save of that thread "
                "overwrote this row, thread_id included", thread_id=thread,
                checkpoint_id=checkpoint_id, expected=f"an id starting {thread}_",
                actual=checkpoint_id)


PROGRESS_STEP = 1000
"""Entries read between two progress updates."""


class TableReading:
    """What every backend's check does while its source streams entries: count them (for
    progress), keep the readable ones in ``table`` with what their states read as, and report
    the ones DashFlow cannot read back and the states that do not decompress."""

    def __init__(self, table: CheckpointTable, ctx: CheckContext, rel: str) -> None:
        self.table = table
        self.ctx = ctx
        self.rel = rel
        self.read = 0
        self.unreadable: set[str] = set()
        self.compressions = bytearray()
        """Per table row, the ``Compression`` flags its state reads as."""
        self.reported: set[int] = set()
        """Rows whose state already has its finding (a damaged zstd frame)."""

    def counted(self, count: int = 1) -> None:
        """``count`` more entries read."""
        before = self.read
        self.read += count
        steps = self.read // PROGRESS_STEP - before // PROGRESS_STEP
        if steps:
            self.ctx.progress.advance(steps * PROGRESS_STEP)

    def unreadable_entry(self, name: str, checkpoint_id: str, problem: str | None,
                         thread_id: str | None = None) -> Finding:
        """An entry that is there but that DashFlow cannot read back."""
        self.unreadable.add(checkpoint_id)
        return db.ROW_UNDECODABLE.at(
            entry_path(self.rel, name), f"{name}: {problem}; DashFlow fails to read it",
            thread_id=thread_id, checkpoint_id=checkpoint_id, actual=problem)

    def keep(self, entry: CheckpointEntry, framing: StateFraming = UNCOMPRESSED, *,
             odd_name: bool = False) -> list[Finding]:
        """Keep a readable entry and what its state reads as. A zstd frame that does not
        decompress (certain by its magic) is reported now; a state in another compression
        than its store's once every state is in (``finish``)."""
        row = self.table.add(entry, odd_name=odd_name)
        self.compressions.append(framing.reads_as.value)
        problem = framing.problem
        if problem is None:
            return []
        self.reported.add(row)
        return [db.STATE_UNDECOMPRESSABLE.at(
            entry_path(self.rel, entry.name), f"{entry.name}: the zstd-compressed state "
            f"{problem.reason} (byte {problem.offset} of {entry.state_size})",
            offset=problem.offset, expected="zstd", actual="does not decompress",
            **ids_of(entry))]

    def plain(self, entries: PlainEntries) -> None:
        """Keep a page of plain entries as columns. Their states are counted as
        uncompressed: a source puts an entry on the plain path only when its state needs no
        decode check (no zstd magic, no lz4 or snappy header that fits: what ``state_framing``
        reads as uncompressed without trying anything), so ``compression_findings`` sees
        every state's compression, and its majority is the one it would be if every entry
        went through ``keep``. The page counts as read."""
        self.counted(len(entries.ids))
        self.table.extend(*entries)
        self.compressions.extend(bytes(len(entries.ids)))

    def compression_findings(self) -> Iterator[Finding]:
        """States in another compression than the store's. DashFlow records none per state:
        it reads every state with the one compression it is configured with, so the store's
        is taken as the one most of its states read as (a tie goes to the newest state's)."""
        table = self.table
        assert len(self.compressions) == len(table), "an entry was added without keep()"
        masks = Counter(self.compressions)
        if len(masks) < 2:
            return

        def reads(mask: int, compression: Compression) -> bool:
            return mask & compression.value != 0 if compression else mask == 0

        framings = (Compression.NONE, Compression.ZSTD, Compression.LZ4, Compression.SNAPPY)
        readable = {compression: sum(count for mask, count in masks.items()
                                     if reads(mask, compression)) for compression in framings}
        most = max(readable.values())
        store = [compression for compression in framings if readable[compression] == most]
        if len(store) > 1:
            newest = max(range(len(table)), key=table.timestamp_ns)
            store = [compression for compression in store
                     if reads(self.compressions[newest], compression)] or store
        chosen = store[0]
        total = len(self.compressions)
        for row, mask in enumerate(self.compressions):
            if reads(mask, chosen) or row in self.reported:
                continue
            entry = table.record(row)
            state = Compression(mask).label
            yield db.STATE_UNDECOMPRESSABLE.at(
                entry_path(self.rel, entry.name), f"{entry.name}: the state reads as {state}, "
                f"but {most} of the store's {total} states are {chosen.label}: DashFlow reads "
                "every state with the one compression it is configured with, so it fails on "
                "this one or on all the others", expected=chosen.label, actual=state,
                details={"store_compression": chosen.label, "states": total,
                         "in_store_compression": most}, **ids_of(entry))

    def finish(self, rule: LatestRule, pointers: dict[str, tuple[str, str]] | None = None,
               fix: str | None = None) -> Iterator[Finding]:
        """Every entry is in: the checks every store gets. ``fix`` is the command that
        re-points a wrong "latest" (``rebuild_command``), where there is one."""
        self.ctx.progress.advance(self.read % PROGRESS_STEP)
        yield from check_table(self.table, self.rel, self.unreadable, rule, self.ctx, pointers,
                               fix)
        yield from self.compression_findings()


def check_table(table: CheckpointTable, rel: str, unreadable: set[str], rule: LatestRule,
                ctx: CheckContext, pointers: dict[str, tuple[str, str]] | None = None,
                fix: str | None = None) -> Iterator[Finding]:
    """The checks every database or object store gets, once its entries are all in
    ``table`` (``unreadable``: ids it holds that could not be read), with the backend's own
    latest ``pointers`` when it keeps them apart from the checkpoints; counts it."""
    table.freeze()
    ctx.stats["stores"] += 1
    ctx.stats["checkpoints"] += len(table) + len(unreadable)
    ctx.stats["threads"] += len(set(table.threads))
    view = BackendView(table, rel, unreadable)
    yield from chains.check(view)
    yield from writers.check(view)
    yield from latest_ties(view, rule)
    yield from moved_ids(view)
    if pointers:
        yield from latest_pointers(view, pointers, rule, fix)


def rebuild_command(label: str) -> str:
    """The command that rebuilds the index of the store ``label`` names (a URL, shown
    without its password): for S3 and Redis, whose index is DashFlow's own state."""
    return f"dashfix rebuild-index {shlex.quote(label)}"


def latest_pointers(view: BackendView, pointers: dict[str, tuple[str, str]],
                    rule: LatestRule, fix: str | None = None) -> Iterator[Finding]:
    """Each thread's "latest" as the backend keeps it (thread -> (where the pointer lives,
    the id it names)) against the thread's checkpoints: a pointer to nothing is DB501, to
    a checkpoint older than the newest DB502. A pointer to another thread's checkpoint is
    the backend's own finding."""
    table = view.rows
    for thread, (where, checkpoint_id) in sorted(pointers.items()):
        if view.parent_unreadable(checkpoint_id):
            continue  # there but unreadable: its own finding says so
        rows = table.carriers(checkpoint_id)
        newest = view.latest_rows.get(thread)
        if not rows:
            instead = ("" if newest is None else
                       f"; its newest existing checkpoint is {table.ids[newest]}")
            yield db.LATEST_MISSING.at(
                view.path(where), f"thread {thread!r}: {where} names {checkpoint_id} as latest, "
                f"which does not exist: get_latest returns None and the workflow starts over"
                + instead, thread_id=thread, checkpoint_id=checkpoint_id,
                expected=None if newest is None else table.ids[newest], actual=checkpoint_id,
                fix_command=fix)
            continue
        row = rows[0]
        if table.threads[row] != thread or newest is None or newest == row:
            continue
        if table.timestamp_ns(newest) > table.timestamp_ns(row):
            yield db.LATEST_NOT_NEWEST.at(
                view.path(where), f"thread {thread!r}: `{rule.query}` picks {checkpoint_id} "
                f"({table.timestamp_ns(row)} ns) but {table.ids[newest]} is newer "
                f"({table.timestamp_ns(newest)} ns): DashFlow resumes from the older one",
                thread_id=thread, checkpoint_id=checkpoint_id, expected=table.ids[newest],
                actual=checkpoint_id, fix_command=fix)
