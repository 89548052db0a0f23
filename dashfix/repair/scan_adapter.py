"""What the index rebuild needs from a store scan: the checkpoints DashFlow could load.

A candidate is a top-level ``{id}.bin`` file that DashFlow's FileCheckpointer reads without
error: a regular file, DCHK header intact (or a legacy file whose id and thread decode), and
whose name is exactly its embedded id plus ``.bin``, so ``load(id)`` finds it. Everything
else is listed as excluded with the reason.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import parse_tail, read_head
from dashfix.formats.variants import Variant, classify_name
from dashfix.repair.index_rebuild import Candidate
from dashfix.repair.reading import read_entry

PARALLEL_MIN_FILES_PER_WORKER = 2000
CHUNKS_PER_WORKER = 4


@dataclass
class CandidateSet:
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)
    """(file name, why it cannot be the latest checkpoint of its thread)."""


def _candidate(store_fd: int, name: str) -> Candidate | str:
    """The candidate for one file name, or why it is not one."""
    read = read_entry(name, store_fd)
    if isinstance(read, str):
        return read
    data, info = read
    return candidate_from_bytes(name, data, info.st_mtime_ns)


def candidate_from_bytes(name: str, data: bytes, mtime_ns: int) -> Candidate | str:
    """The candidate that file ``name`` holding ``data`` would be, or why it is not one."""
    if dchk.is_wrapped(data):
        problem = dchk.verify(data)
        if problem is not None:
            return f"corrupt: {problem.kind.value}"
        payload = dchk.payload_of(data)
    else:
        payload = memoryview(data)
    try:
        head = read_head(payload)
    except DecodeError as exc:
        return f"payload does not decode ({exc})"
    if name != head.checkpoint_id + ".bin":
        return f"name does not match the embedded id {head.checkpoint_id!r}"
    tail = parse_tail(payload, head).unique
    embedded = None if tail is None else (tail.secs, tail.nanos)
    return Candidate(name, head.checkpoint_id, head.thread_id, embedded, mtime_ns)


# Workers send plain tuples: pickling 100k dataclass instances costs more than the parse.
_Row = tuple[str, str, str, int, int, int] | tuple[str, str]


def _collect_rows(store: str, names: list[str]) -> list[_Row]:
    rows: list[_Row] = []
    store_fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in names:
            result = _candidate(store_fd, name)
            if isinstance(result, str):
                rows.append((name, result))
            else:
                secs, nanos = result.embedded or (-1, -1)
                rows.append((name, result.checkpoint_id, result.thread_id, secs, nanos,
                             result.mtime_ns))
    finally:
        os.close(store_fd)
    return rows


def _add_rows(found: CandidateSet, rows: list[_Row]) -> None:
    for row in rows:
        if len(row) == 2:
            found.excluded.append((row[0], row[1]))
        else:
            name, checkpoint_id, thread_id, secs, nanos, mtime_ns = row
            embedded = None if secs < 0 else (secs, nanos)
            found.candidates.append(
                Candidate(name, checkpoint_id, thread_id, embedded, mtime_ns)
            )


def collect_candidates(store: Path) -> CandidateSet:
    """Read every ``*.bin`` checkpoint of the store's top level (never below it).

    Reading and CRC-checking is the whole cost, so large stores are split over the CPUs;
    each worker returns only the small per-file records.
    """
    with os.scandir(store) as entries:
        names = sorted(e.name for e in entries if classify_name(e.name) is Variant.DCHK)
    workers = min(os.cpu_count() or 1, len(names) // PARALLEL_MIN_FILES_PER_WORKER)
    found = CandidateSet()
    if workers <= 1:
        _add_rows(found, _collect_rows(str(store), names))
    else:
        step = -(-len(names) // (workers * CHUNKS_PER_WORKER))
        chunks = [names[i : i + step] for i in range(0, len(names), step)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for rows in pool.map(_collect_rows, [str(store)] * len(chunks), chunks):
                _add_rows(found, rows)
    found.excluded.sort()
    return found
