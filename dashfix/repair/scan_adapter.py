"""Adapter from the verify scan (``dashfix.inputs.checkpoint_files.scan.scan_store``) to what the
index rebuild needs: the checkpoints DashFlow could load under the id the index names.

A candidate is a record the scan found loadable (no integrity, decode or tail problem) whose
file name is exactly its embedded id plus the suffix its checkpointer loads
(``{id}.bin``, ``{id}.bin.gz``, ``{id}.v.bin``, ``{id}.v.bin.gz``; the index is shared by the
three file checkpointers). Everything else that DashFlow lists is reported as excluded.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path

from dashfix.checks.checkpoint_problems import problem_code
from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import parse_tail, read_head
from dashfix.formats.variants import INDEX_NAME, LOCK_NAME
from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
from dashfix.inputs.checkpoint_files.scan import StoreScan, scan_store
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


@dataclass
class CandidateSet:
    """The candidates by thread, and the files left out. A candidate is built when its
    thread is planned (``of_thread``): a store of 1,000,000 files never holds them all."""

    rows: StoreRows = field(default_factory=lambda: StoreRows([]))
    thread_rows: dict[str, array[int]] = field(default_factory=dict)
    """Thread -> the rows of its candidates, by name."""
    built: dict[int, Candidate] = field(default_factory=dict)
    """The candidates of rows that are not PLAIN, built from their records (or, in a repair
    plan, what a fixed file or a promoted temp will hold)."""
    excluded: list[tuple[str, str]] = field(default_factory=list)
    """(file name, why it cannot be the latest checkpoint of its thread)."""

    @property
    def count(self) -> int:
        return sum(map(len, self.thread_rows.values()))

    def of_thread(self, thread_id: str) -> list[Candidate]:
        rows, built = self.rows, self.built
        names, secs, nanos, mtimes = rows.names, rows.secs, rows.nanos, rows.mtimes
        return [
            built[row] if row in built else Candidate(
                names[row], names[row][:-4], thread_id, (secs[row], nanos[row]), mtimes[row])
            for row in self.thread_rows[thread_id]
        ]

    def contenders(self, thread_id: str) -> tuple[list[Candidate], int]:
        """The thread's candidates that can win a ranking, in row order, and how many
        candidates it has: every built one, and of its PLAIN rows (all with an embedded
        time) the first greatest by (embedded time, id) and by (mtime, id). Whatever the
        ranking, the first greatest of these is the first greatest of all
        (``index_rebuild.choose``), and no Candidate is built for the other PLAIN rows."""
        rows, built = self.rows, self.built
        names, secs, nanos, mtimes = rows.names, rows.secs, rows.nanos, rows.mtimes
        thread_rows = self.thread_rows[thread_id]
        plain = [row for row in thread_rows if row not in built] if built else thread_rows
        chosen = {row for row in thread_rows if row in built} if built else set()
        if plain:
            chosen.add(max(plain, key=lambda row: (secs[row], nanos[row], names[row][:-4])))
            chosen.add(max(plain, key=lambda row: (mtimes[row], names[row][:-4])))
        return [
            built[row] if row in built else Candidate(
                names[row], names[row][:-4], thread_id, (secs[row], nanos[row]), mtimes[row])
            for row in sorted(chosen)
        ], len(thread_rows)

    def plan(self, old_index: OldIndex, order: Order) -> IndexPlan:
        return plan_threads(self.thread_rows, self.contenders, old_index, order)

    def group(self) -> None:
        """File the PLAIN rows and the rows with a built candidate under their threads, in
        row order."""
        thread_rows, built = self.thread_rows, self.built
        for row, (kind, thread_id) in enumerate(zip(self.rows.kinds, self.rows.threads,
                                                    strict=True)):
            if kind == PLAIN:
                # A healthy {id}.bin checkpoint: the bulk of a store, kept as its row.
                assert thread_id is not None
                group = thread_rows.get(thread_id)
                if group is None:
                    group = thread_rows[thread_id] = array("q")
                group.append(row)
            elif row in built:
                thread_rows.setdefault(built[row].thread_id, array("q")).append(row)

    def add(self, row: int, candidate: Candidate) -> None:
        """The candidate of ``row``, after the candidates ``group`` filed."""
        self.built[row] = candidate
        self.thread_rows.setdefault(candidate.thread_id, array("q")).append(row)


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
    return found


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
