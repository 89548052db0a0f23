"""Reading the listed files of a store into rows, spread over the CPUs: C reader threads,
or forked Python readers; in spans, so a time limit or Ctrl-C leaves the rest unread."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

from dashfix import native
from dashfix.cpus import usable_cpus
from dashfix.formats.checkpoint import DEFAULT_SECS_BOUNDS
from dashfix.inputs.checkpoint_files.file_reader import MAX_FILE_BYTES, summarise_name
from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
from dashfix.inputs.checkpoint_record import ABSENT_ROW, PLAIN, FileRecord, RowValues, row_values
from dashfix.inputs.checkpoint_rows import RowBatch, StoreRows, batch_of, records_batch
from dashfix.interrupts import forking, in_worker

PARALLEL_MIN_FILES_PER_WORKER = 2000
ROWS_PER_SPAN = 4096


def _read_rows(store: str, names: list[str], start: int, stop: int,
               row_of: native.RowTable) -> RowBatch:
    """The rows of the listed regular files ``names[start:stop]`` of one store folder, in
    Python (a forked reader's work when the C reader is not in use)."""
    values: list[RowValues] = []
    others: list[tuple[int, FileRecord]] = []
    append = values.append
    dir_fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with paused_gc():
            for row, name in enumerate(names[start:stop], start):
                summary = summarise_name(dir_fd, name)
                if summary is None:
                    append(ABSENT_ROW)
                elif isinstance(summary, FileRecord):
                    row_value = row_values(summary)
                    append(row_value)
                    if row_value[0] != PLAIN:
                        others.append((row, summary))
                else:
                    append(summary)
    finally:
        os.close(dir_fd)
    return batch_of(start, values, others, row_of)


def read_rows_native(rows: StoreRows, dir_fd: int, start: int, stop: int) -> None:
    """Fill rows ``start:stop`` of ``rows`` (listed regular files of the folder ``dir_fd``)
    in place: the C reader (``dashfix._native.read_checkpoints``) reads every healthy plain
    checkpoint with one open, fstat and read, the GIL released; the files it leaves (any
    other name, variant or damage) take the Python path, which reports them."""
    left = native.MODULE.read_checkpoints(
        dir_fd, rows.names, start, stop, native.row_lookup(rows.row_of), rows.columns(),
        MAX_FILE_BYTES, *DEFAULT_SECS_BOUNDS)
    names = rows.names
    for row in left:
        summary = summarise_name(dir_fd, names[row])
        if summary is None:
            continue
        if isinstance(summary, FileRecord):
            rows.set_row(row, row_values(summary), summary)
        else:
            rows.set_row(row, summary, None)


Spans = list[tuple[int, int]]


def _read_native(store: str, rows: StoreRows, spans: Spans, workers: int,
                 on_read: FilesRead | None, expired: Callable[[], bool]) -> Spans:
    """``read_rows_native`` over ``spans`` on ``workers`` threads: the C reader releases the
    GIL while it reads, so the threads read at once and fill the columns in place (no
    messages, no copies); this thread reports progress. No span is started once
    ``expired()``; the spans not read are returned."""
    dir_fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pending = iter(spans)
        unread: Spans = []
        done: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()

        def work() -> None:
            try:
                for start, stop in pending:  # next() on a list iterator is atomic
                    if expired():
                        unread.append((start, stop))
                        continue
                    read_rows_native(rows, dir_fd, start, stop)
                    done.put(stop - start)
            except BaseException as exc:  # re-raised in the calling thread
                done.put(exc)
            done.put(None)

        if workers <= 1:
            work()
            workers = 0
        threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        failure: BaseException | None = None
        running = max(workers, 1)
        while running:
            news = done.get()
            if news is None:
                running -= 1
            elif isinstance(news, BaseException):
                failure = failure or news
            elif on_read is not None:
                on_read(news)
        for thread in threads:
            thread.join()
        if failure is not None:
            raise failure
        return unread
    finally:
        os.close(dir_fd)


def _read_forked(store: str, rows: StoreRows, spans: Spans, workers: int,
                 on_read: FilesRead | None, expired: Callable[[], bool]) -> Spans:
    """The Python readers over ``spans``: in this process, or forked ones (one per CPU)
    that inherit the listing (a task is only a range of rows) and send back column batches
    (``RowBatch``). The spans not read once ``expired()`` are returned."""
    names = rows.names
    done: set[int] = set()
    if workers <= 1:
        for start, stop in spans:
            if expired():
                break
            _fill(rows, _read_rows(store, names, start, stop, rows.row_of), on_read)
            done.add(start)
    else:
        _read_in_pool(store, names, rows, spans, workers, on_read, expired, done)
    return [span for span in spans if span[0] not in done]


FilesRead = Callable[[int], None]
"""Told how many more files of a store have been read."""

_shared_listing: tuple[str, list[str], native.RowTable, Any] | None = None
"""What a forked reader inherits from the scanning process: store, names, rows by name and
the shared stop flag (set by ``_share_listing`` in the worker, never pickled)."""


def _share_listing(store: str, names: list[str], row_of: native.RowTable,
                   stopping: Any) -> None:
    global _shared_listing
    in_worker()  # a Ctrl-C reaches the whole process group: the scanning process ends us
    _shared_listing = (store, names, row_of, stopping)


def _read_shared_rows(span: tuple[int, int]) -> RowBatch:
    assert _shared_listing is not None
    store, names, row_of, stopping = _shared_listing
    # Once the scan is given up (Ctrl-C), every span left comes back empty at once.
    return _read_rows(store, names, span[0], span[0] if stopping.value else span[1], row_of)


def never() -> bool:
    return False


def _spans(skip: bytearray | None, count: int) -> Spans:
    """Spans of at most ``ROWS_PER_SPAN`` rows of ``0:count``, leaving out the rows marked
    in ``skip``."""
    if skip is None or not any(skip):
        return [(start, min(start + ROWS_PER_SPAN, count))
                for start in range(0, count, ROWS_PER_SPAN)]
    spans: Spans = []
    start = None
    for row in range(count + 1):
        if row < count and not skip[row] and start is None:
            start = row
        elif start is not None and (row == count or skip[row] or row - start == ROWS_PER_SPAN):
            spans.append((start, row))
            start = None if row == count or skip[row] else row
    return spans


def read_store_rows(store: str, names: list[str], odd: Iterable[FileRecord] = (), *,
                    parallel: bool = True, on_read: FilesRead | None = None,
                    skip: bytearray | None = None, rows: StoreRows | None = None,
                    expired: Callable[[], bool] = never) -> tuple[StoreRows, Spans]:
    """The rows of the listed regular files ``names`` (sorted) of one store folder, then
    of the ``odd`` entries found while listing it (symlinks, folders); rows marked in
    ``skip`` are not read (``rows``, when given, already holds them). ``on_read(n)`` is told
    each time ``n`` more files are in (progress on a large store). Also the spans of rows
    left unread because ``expired()`` said so before they were started.

    Reading and CRC-checking is the whole cost of a big store, so it is split over the
    CPUs, in spans of ``ROWS_PER_SPAN`` rows that each worker takes as it gets to them (a
    worker slowed by other jobs takes fewer). With the C reader the workers are threads
    filling the columns in place. Without it (no compiler, ``DASHFIX_PURE_PYTHON=1``) they
    are forked processes.

    Measured on a 2-core machine with one core kept busy by other jobs, two processes were
    as fast as one (within the noise), at 0.4-0.8 s more CPU per 100,000 files; on idle
    CPUs they are faster. A load-based choice was tried and dropped: the 1-minute load
    counts this program's own previous runs, so back-to-back runs went single-process."""
    odd = list(odd)
    if rows is None:
        rows = StoreRows(names + [record.name for record in odd])
    count = len(names)
    spans = _spans(skip, count)
    workers = min(usable_cpus(), count // PARALLEL_MIN_FILES_PER_WORKER) if parallel else 1
    read = _read_native if native.MODULE is not None else _read_forked
    unread = read(store, rows, spans, workers, on_read, expired)
    rows.fill(records_batch(count, odd, rows.row_of))
    return rows, unread


def _read_in_pool(store: str, names: list[str], rows: StoreRows, spans: Spans, workers: int,
                  on_read: FilesRead | None, expired: Callable[[], bool], done: set[int]) -> None:
    """``read_store_rows`` on ``workers`` forked readers; the first row of each span read
    goes into ``done``.

    The readers ignore SIGINT and are never killed: ``Pool.terminate`` kills them with
    SIGTERM, and one killed while it holds a pool queue's lock hangs the pool's own cleanup
    for ever. When this process gives up (Ctrl-C, an error, ``expired()``), the readers are
    told to stop, answer every span left with an empty batch, and leave like after a
    complete scan."""
    import multiprocessing  # the Python path's readers only: the C reader uses threads

    context = multiprocessing.get_context("fork")
    stopping = context.RawValue("b", 0)
    pool = None
    try:
        with forking():  # a Ctrl-C while the readers start is raised once `pool` is set
            pool = context.Pool(workers, initializer=_share_listing,
                                initargs=(store, names, rows.row_of, stopping))
        parts = pool.imap_unordered(_read_shared_rows, spans)
        try:
            for part in parts:
                if part.kinds:  # a span given up comes back empty
                    _fill(rows, part, on_read)
                    done.add(part.start)
                if not stopping.value and expired():
                    stopping.value = 1
        except BaseException:
            stopping.value = 1
            for _ in parts:
                pass
            raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def _fill(rows: StoreRows, batch: RowBatch, on_read: FilesRead | None) -> None:
    rows.fill(batch)
    if on_read is not None:
        on_read(len(batch.kinds))
