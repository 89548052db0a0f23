"""Reading the listed files of a store into rows, spread over the CPUs: C reader threads,
or forked Python readers; in spans, so a time limit or Ctrl-C leaves the rest unread."""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn, cast

from dashfix import native
from dashfix.cpus import usable_cpus
from dashfix.formats.checkpoint import DEFAULT_SECS_BOUNDS
from dashfix.inputs.checkpoint_files.file_reader import (
    MAX_FILE_BYTES,
    read_plain_row,
    summarise_name,
)
from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
from dashfix.inputs.checkpoint_record import ABSENT_ROW, PLAIN, FileRecord, RowValues, row_values
from dashfix.inputs.checkpoint_rows import RowBatch, StoreRows, batch_of, records_batch
from dashfix.interrupts import fork_worker

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

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
                plain = read_plain_row(dir_fd, name)
                if plain is not None:
                    append(plain)
                    continue
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
            # Inside the pause too: the columns are a few new tuples of thousands of
            # items each, which set off collections (~0.4 us a row, measured at 1M files).
            return batch_of(start, values, others, row_of)
    finally:
        os.close(dir_fd)


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

    Each reader inherits the listing, takes the next span from a shared counter and sends
    its batch through a pipe of its own; this process waits on those pipes alone. (A
    ``multiprocessing.Pool`` was used before: its worker-handler thread also waits on the
    results pipe, so on idle CPUs it spun while a batch was on its way, ~8 s of CPU at
    1,000,000 files, and it took the GIL from the thread receiving the batches.)

    The readers ignore SIGINT and are never killed. When this process gives up (Ctrl-C, an
    error, ``expired()``), they are told to stop, finish the span they are on, and leave;
    their pipes are read to the end and they are reaped."""
    import multiprocessing  # the Python path's readers only: the C reader uses threads

    context = multiprocessing.get_context("fork")
    stopping = context.RawValue("b", 0)
    taken = context.RawValue("q", 0)
    lock = context.Lock()
    readers: dict[Connection, int] = {}
    try:
        for _ in range(workers):
            receiving, sending = context.Pipe(duplex=False)
            try:
                pid = fork_worker()
            except BaseException:
                receiving.close()
                sending.close()
                raise
            if pid == 0:  # pragma: no cover (the reader leaves through os._exit)
                # Only this process reads the pipes: a reader whose pipe it closes gets
                # EPIPE and leaves, never blocks on a pipe that it holds open itself.
                for pipe in (receiving, *readers):
                    pipe.close()
                _reader(store, names, rows.row_of, spans, (taken, lock, stopping), sending)
            sending.close()
            readers[receiving] = pid
        _receive(rows, list(readers), stopping, on_read, expired, done)
    except BaseException:
        stopping.value = 1
        for pipe in readers:
            with contextlib.suppress(EOFError, OSError):
                while True:
                    pipe.recv_bytes()
        raise
    finally:
        failed = False
        for pipe, pid in readers.items():
            pipe.close()
            failed = os.waitpid(pid, 0)[1] != 0 or failed
    if failed:
        raise OSError(errno.EIO, "a reader process of the store ended without its rows")


def _receive(rows: StoreRows, pending: list[Connection], stopping: Any,
             on_read: FilesRead | None, expired: Callable[[], bool], done: set[int]) -> None:
    """Fill ``rows`` with the batches coming through the readers' pipes, until each pipe
    ends; a reader's error is raised here. Once ``expired()``, the readers are told to
    stop."""
    from multiprocessing.connection import wait

    while pending:
        for ready in wait(pending):
            pipe = cast("Connection", ready)
            try:
                part: RowBatch | BaseException = pipe.recv()
            except EOFError:
                pending.remove(pipe)
                continue
            if isinstance(part, BaseException):
                raise part
            _fill(rows, part, on_read)
            done.add(part.start)
            if not stopping.value and expired():
                stopping.value = 1


_Shared = tuple[Any, Any, Any]
"""What the readers share: the count of spans taken, its lock, the stop flag."""


def _reader(store: str, names: list[str], row_of: native.RowTable, spans: Spans,
            shared: _Shared, sending: Connection) -> NoReturn:
    """A forked reader: the next span not yet taken, until none is left or the scan is
    given up; each span's batch (or what failed) goes through ``sending``."""
    taken, lock, stopping = shared
    status = 1
    try:
        while not stopping.value:
            with lock:
                at = taken.value
                taken.value = at + 1
            if at >= len(spans):
                break
            start, stop = spans[at]
            sending.send(_read_rows(store, names, start, stop, row_of))
        status = 0
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            sending.send(exc)
    finally:
        os._exit(status)


def _fill(rows: StoreRows, batch: RowBatch, on_read: FilesRead | None) -> None:
    rows.fill(batch)
    if on_read is not None:
        on_read(len(batch.kinds))
