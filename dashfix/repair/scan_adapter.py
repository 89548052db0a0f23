"""Adapter from the verify scan (``dashfix.inputs.checkpoint_files.scan.scan_store``) to what the
index rebuild needs: the checkpoints DashFlow could load under the id the index names.

A candidate is a record the scan found loadable (no integrity, decode or tail problem) whose
file name is exactly its embedded id plus the suffix its checkpointer loads
(``{id}.bin``, ``{id}.bin.gz``, ``{id}.v.bin``, ``{id}.v.bin.gz``; the index is shared by the
three file checkpointers). Everything else that DashFlow lists is reported as excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from dashfix import native
from dashfix.checks.checkpoint_problems import problem_code
from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import parse_tail, read_head
from dashfix.formats.variants import INDEX_NAME, LOCK_NAME
from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
from dashfix.inputs.checkpoint_files.scan import TEMP_LEFTOVER, StoreScan, scan_store
from dashfix.inputs.checkpoint_record import (
    DCHK,
    JSON,
    LEGACY,
    LOAD_SUFFIXES,
    OTHER,
    PLAIN,
    TEMP_CHECKPOINT,
    TEMP_INDEX,
    FileRecord,
)
from dashfix.inputs.checkpoint_rows import StoreRows
from dashfix.repair.index_rebuild import Candidate, IndexPlan, OldIndex, Order, plan_threads

_NEVER_LISTED = frozenset({TEMP_CHECKPOINT, TEMP_INDEX, JSON})
"""Store files no DashFlow checkpointer lists as checkpoints."""
_BIN_VARIANTS = frozenset({DCHK, LEGACY})
"""Variants DashFlow's FileCheckpointer loads from ``{id}.bin``."""


class PlainContenders(NamedTuple):
    """A thread's PLAIN rows (healthy ``{id}.bin`` files, all with an embedded time), as far
    as a ranking can tell them apart: of the rows with the greatest (embedded time, id) and
    with the greatest (mtime, id), the first."""

    files: int
    by_embedded: int
    by_mtime: int


def _plain_contenders_python(rows: StoreRows) -> dict[str, PlainContenders]:
    """The Python twin of ``_native.plain_contenders``: one pass over the PLAIN rows, in row
    order, keeping a row only when it ranks after the kept one (``FILE_SCAN``'s order)."""
    names, threads = rows.names, rows.threads
    secs, nanos, mtimes = rows.secs, rows.nanos, rows.mtimes
    found: dict[str, list[int]] = {}
    for row, kind in enumerate(rows.kinds):
        if kind != PLAIN:
            continue
        thread = threads[row]
        assert thread is not None  # a PLAIN row is a checkpoint with its ids
        kept = found.get(thread)
        if kept is None:
            found[thread] = [1, row, row]
            continue
        kept[0] += 1
        name = names[row][:-4]
        top = kept[1]
        if (secs[row], nanos[row], name) > (secs[top], nanos[top], names[top][:-4]):
            kept[1] = row
        top = kept[2]
        if (mtimes[row], name) > (mtimes[top], names[top][:-4]):
            kept[2] = row
    return {thread: PlainContenders(*kept) for thread, kept in found.items()}


def plain_contenders(rows: StoreRows) -> dict[str, PlainContenders]:
    """Per thread (in order of first row), its PLAIN rows' count and contenders: in C where
    built (one pass over every row, on one core), else ``_plain_contenders_python``."""
    if native.MODULE is None:
        return _plain_contenders_python(rows)
    found: dict[str, tuple[int, int, int]] = native.MODULE.plain_contenders(
        rows.kinds, rows.threads, rows.names, rows.secs, rows.nanos, rows.mtimes)
    return {thread: PlainContenders(*kept) for thread, kept in found.items()}


@dataclass
class CandidateSet:
    """The candidates by thread, and the files left out. A PLAIN row (nearly every file)
    becomes a Candidate only when it is one of its thread's two contenders (``group``,
    ``contenders``): a store of 1,000,000 files never holds them all."""

    rows: StoreRows = field(default_factory=lambda: StoreRows([]))
    plain: dict[str, PlainContenders] = field(default_factory=dict)
    """Thread -> its PLAIN rows' count and contenders."""
    built: dict[int, Candidate] = field(default_factory=dict)
    """The candidates of rows that are not PLAIN, built from their records (or, in a repair
    plan, what a fixed file or a promoted temp will hold)."""
    built_rows: dict[str, list[int]] = field(default_factory=dict)
    """Thread -> the rows of its built candidates."""
    excluded: list[tuple[str, str]] = field(default_factory=list)
    """(file name, why it cannot be the latest checkpoint of its thread)."""
    temps: list[str] = field(default_factory=list)
    """The store folder's dashfix temp files as the scan listed them (``tidy`` removes them)."""

    @property
    def count(self) -> int:
        return sum(kept.files for kept in self.plain.values()) + sum(
            map(len, self.built_rows.values()))

    @property
    def threads(self) -> set[str]:
        return self.plain.keys() | self.built_rows.keys()

    def has_thread(self, thread_id: str) -> bool:
        return thread_id in self.plain or thread_id in self.built_rows

    def contenders(self, thread_id: str) -> tuple[list[Candidate], int]:
        """The thread's candidates that can win a ranking, in row order, and how many
        candidates it has: every built one, and its PLAIN contenders. Whatever the ranking,
        the first greatest of these is the first greatest of all (``index_rebuild.choose``)."""
        rows, built = self.rows, self.built
        names, secs, nanos, mtimes = rows.names, rows.secs, rows.nanos, rows.mtimes
        chosen = set(self.built_rows.get(thread_id, ()))
        files = len(chosen)
        plain = self.plain.get(thread_id)
        if plain is not None:
            chosen.update((plain.by_embedded, plain.by_mtime))
            files += plain.files
        return [
            built[row] if row in built else Candidate(
                names[row], names[row][:-4], thread_id, (secs[row], nanos[row]), mtimes[row])
            for row in sorted(chosen)
        ], files

    def plan(self, old_index: OldIndex, order: Order) -> IndexPlan:
        return plan_threads(self.threads, self.contenders, old_index, order)

    def group(self) -> None:
        """File the PLAIN rows and the rows with a built candidate under their threads."""
        self.plain = plain_contenders(self.rows)
        for row in sorted(self.built):
            self.built_rows.setdefault(self.built[row].thread_id, []).append(row)

    def add(self, row: int, candidate: Candidate) -> None:
        """The candidate of ``row``, after the candidates ``group`` filed."""
        self.built[row] = candidate
        self.built_rows.setdefault(candidate.thread_id, []).append(row)


_SUFFIXES_LONGEST_FIRST = tuple(sorted(LOAD_SUFFIXES, key=len, reverse=True))


def expected_name(record: FileRecord) -> str | None:
    """The name DashFlow loads this record's checkpoint from: its id plus the suffix of the
    checkpointer that reads files named like this one."""
    if record.checkpoint_id is None:
        return None
    for suffix in _SUFFIXES_LONGEST_FIRST:
        if record.name.endswith(suffix):
            return record.checkpoint_id + suffix
    return None


def candidate_of(record: FileRecord) -> Candidate | str:
    """The record as an index candidate, or why it is not one."""
    if not record.loadable:
        if record.problem is not None:
            return f"{problem_code(record.problem)}: {record.message}"
        return f"not a checkpoint ({record.variant})"
    assert record.checkpoint_id is not None and record.thread_id is not None
    wanted = expected_name(record)
    if record.name != wanted:
        return f"name does not match the embedded id {record.checkpoint_id!r} (expected {wanted})"
    return Candidate(record.name, record.checkpoint_id, record.thread_id, record.timestamp,
                     record.mtime_ns)


def candidates_of(scan: StoreScan) -> CandidateSet:
    rows = scan.rows
    found = CandidateSet(rows)
    kinds = rows.kinds
    for row, record in rows.others.items():
        if kinds[row] == OTHER:
            result = _candidate_or_reason(record)
            if isinstance(result, Candidate):
                found.built[row] = result
            elif result is not None:
                found.excluded.append((rows.names[row], result))
    found.group()
    found.excluded.sort()
    found.temps = store_temps(scan)
    return found


def store_temps(scan: StoreScan) -> list[str]:
    """The store folder's dashfix temp files as the scan listed them (``tidy`` removes them).
    The quarantine's leftovers are named by their path under the store."""
    return [name for name, what in scan.dashfix_leftovers
            if what == TEMP_LEFTOVER and "/" not in name]


def _candidate_or_reason(record: FileRecord) -> Candidate | str | None:
    """``candidate_of`` the record; None for a file no checkpointer lists."""
    if record.variant in _NEVER_LISTED or record.name in (INDEX_NAME, LOCK_NAME):
        return None
    thread_id, checkpoint_id = record.thread_id, record.checkpoint_id
    if (record.problem is None and record.variant in _BIN_VARIANTS and thread_id is not None
            and checkpoint_id is not None and record.name[:-4] == checkpoint_id):
        return Candidate(record.name, checkpoint_id, thread_id, record.timestamp,
                         record.mtime_ns)
    return candidate_of(record)


def collect_candidates(store: Path) -> CandidateSet:
    with paused_gc():
        return candidates_of(scan_store(store, read_index=False))


def candidate_from_dchk_bytes(name: str, data: bytes, mtime_ns: int) -> Candidate | str:
    """The candidate a DCHK file ``name`` holding ``data`` would be once in place (used to
    preview a promoted temp or a fixed magic, which the scan records only as damaged)."""
    problem = dchk.verify(data)
    if problem is not None:
        return f"{problem.kind.value}: {problem.message}"
    payload = dchk.payload_of(data)
    try:
        head = read_head(payload)
    except DecodeError as exc:
        return f"payload does not decode ({exc})"
    if name != head.checkpoint_id + ".bin":
        return f"holds checkpoint {head.checkpoint_id!r}, not {name[: -len('.bin')]!r}"
    tail = parse_tail(payload, head).unique
    embedded = None if tail is None else (tail.secs, tail.nanos)
    return Candidate(name, head.checkpoint_id, head.thread_id, embedded, mtime_ns)
