"""Checking a kcat capture or JSONL log with two processes: windows of records, merged in
log order.

The log is cut into windows of ``WINDOW_RECORDS`` records.  Whoever holds the token
(this process or one forked worker) walks the next window (length prefixes, or newlines) to
find where the following one starts, passes the token on, then checks its window with a fresh
``SequenceTracker``.  This process merges the windows in order with
``SequenceTracker.absorb``, which gives exactly the findings of one sequential pass; a
window that ``absorb`` cannot settle is checked again here (first reading the previous
window's message_ids again when that window may hold one of its retries), and if the
worker dies, this process checks the rest of the log itself.

Only the token walk is serial; the token is a fixed-size message on a pipe, so whoever
reads it owns the walk.  The worker sends each window's frame findings and tracker back
pickled (the tracker without its message_ids, only their hashes: ``absorb`` compares them
with the previous window's).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dashfix.checks.stream.log import LogResult, check_records
from dashfix.checks.stream.sequences import WINDOW_RECORDS, SequenceTracker
from dashfix.context import Progress
from dashfix.cpus import usable_cpus
from dashfix.inputs.streams import InputFormat, ReadOptions, find_run_end, iter_run
from dashfix.interrupts import fork_worker

_TOKEN = struct.Struct("<qqq")
"""Window number, byte offset and record index where the window starts; number -1: the
log has no more windows."""
_NO_MORE = _TOKEN.pack(-1, 0, 0)
_LENGTH = struct.Struct("<Q")
_POLL_SECONDS = 0.5
_AHEAD = 4
"""Windows the worker may have checked that this process has not merged yet: it takes a
window only with a credit, which this process hands back as it merges one of the worker's
windows, so what waits to be merged stays a few windows whatever the log's size."""
_SAMPLES = 8
_CROWDED = 0.5
"""No worker when the other running tasks (on average) leave less than this much of one
CPU to this process: on an overloaded machine (3 to 5 tasks running on 2 CPUs) a worker
made a 1,000,000-record capture slower (14.1-16.5 s instead of 12.1-14.5 s), while next to
one other busy task it still helped (4.4-4.9 s instead of 7.9-8.2 s)."""


def _others_running(loadavg: str = "/proc/loadavg") -> int:
    """Tasks running or runnable right now besides this one (from ``loadavg``); 0 if
    unknown.

    An instant count, unlike the load averages, which also remember this process's own
    earlier runs.
    """
    try:
        with open(loadavg, "rb") as handle:
            running = handle.read().split()[3].split(b"/")[0]
        return max(int(running) - 1, 0)
    except (OSError, IndexError, ValueError):
        return 0


def parallel_workers() -> int:
    """Processes that may check one log: the CPUs this process may run on (max 2)."""
    return min(usable_cpus(), 2) if hasattr(os, "fork") else 1


@dataclass
class _Window:
    number: int
    start: int
    first_index: int
    end: int | None
    """Byte offset where the next window starts; None: this one runs to the end."""
    records: int
    result: LogResult
    tracker: SequenceTracker


class _Shared:
    """What both processes need to take windows and check them."""

    def __init__(self, path: Path, fmt: InputFormat, rel: str, tracker: SequenceTracker,
                 options: ReadOptions, window: int) -> None:
        self.path = path
        self.fmt = fmt
        self.rel = rel
        self.tracker = tracker
        self.options = options
        self.window = window
        self.fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self.fd).st_size
        self.token_r, self.token_w = os.pipe()
        self.credit_r, self.credit_w = os.pipe()
        # Both processes wait on the token with select; the one that loses the read must
        # go back to waiting (and checking the other is alive), not block in read.
        os.set_blocking(self.token_r, False)
        os.set_blocking(self.credit_r, False)

    def close(self) -> None:
        for fd in (self.fd, self.token_r, self.token_w, self.credit_r, self.credit_w):
            os.close(fd)

    def boundary(self, start: int, count: int | None = None) -> int | None:
        return find_run_end(self.fmt, lambda size, offset: os.pread(self.fd, size, offset),
                            start, count or self.window, self.size)

    def first_boundary(self) -> tuple[int | None, float]:
        """Where the second window starts, and how many other tasks were running on
        average while this walk went on (``_others_running``, sampled between its steps)."""
        position: int | None = 0
        samples = []
        left = self.window
        while left and position is not None:
            step = min(left, max(self.window // _SAMPLES, 1))
            position = self.boundary(position, step)
            left -= step
            samples.append(_others_running())
        return position, sum(samples) / len(samples)

    def check(self, number: int, start: int, first_index: int, end: int | None) -> _Window:
        result = LogResult()
        tracker = self.tracker.spawn()
        records = check_records(
            iter_run(self.path, self.fmt, self.options, start, first_index, end), tracker,
            result, self.rel, self.options.limit, self.fmt.value, None, window=None,
        )
        return _Window(number, start, first_index, end, records, result, tracker)

    def take_windows(self, alive: Callable[[], bool], done: Callable[[_Window], None], *,
                     credited: bool = False) -> None:
        """Check windows while there are any: read the token, find the next window's
        start, pass the token on, check the window.  ``alive`` says whether the other
        process can still pass the token back; ``credited``: take a credit before each
        window (the worker)."""
        while True:
            if credited and self._take(self.credit_r, 1, alive) is None:
                return
            token = self._take(self.token_r, _TOKEN.size, alive)
            if token is None:
                return
            number, start, first_index = _TOKEN.unpack(token)
            if number < 0:
                os.write(self.token_w, _NO_MORE)
                return
            end = self.boundary(start)
            os.write(self.token_w, _NO_MORE if end is None else
                     _TOKEN.pack(number + 1, end, first_index + self.window))
            done(self.check(number, start, first_index, end))

    @staticmethod
    def _take(fd: int, size: int, alive: Callable[[], bool]) -> bytes | None:
        """A ``size``-byte message from the pipe ``fd``, or None once the other process
        is gone."""
        while True:
            ready, _, _ = select.select([fd], [], [], _POLL_SECONDS)
            if ready:
                try:
                    return os.read(fd, size)
                except BlockingIOError:
                    continue  # the other process took it
            if not alive():
                return None


def check_log_in_parallel(path: Path, fmt: InputFormat, rel: str, tracker: SequenceTracker,
                          result: LogResult, options: ReadOptions, progress: Progress | None,
                          window: int = WINDOW_RECORDS) -> bool:
    """Check the log at ``path`` (``fmt``: one of ``RUN_FORMATS``) into ``tracker`` and
    ``result`` with two processes; False (nothing done) when it holds a single window,
    which one process checks best."""
    try:
        shared = _Shared(path, fmt, rel, tracker, options, window)
    except OSError:
        return False  # the sequential reader reports it
    tracker.merging = True
    try:
        first_end, others = shared.first_boundary()
        if first_end is None or usable_cpus() - others < _CROWDED:
            return False
        os.write(shared.token_w, _TOKEN.pack(1, first_end, window))
        os.write(shared.credit_w, bytes(_AHEAD))
        result_r, result_w = os.pipe()
        try:
            pid = fork_worker()  # it ignores Ctrl-C: the merger below ends it
        except OSError:  # no process to spare: one process checks it all
            os.close(result_r)
            os.close(result_w)
            return False
        if pid == 0:
            _work(shared, result_r, result_w)
        os.close(result_w)
        _Merger(shared, pid, result_r, result, progress).run(first_end)
        return True
    finally:
        shared.close()


def _work(shared: _Shared, result_r: int, result_w: int) -> None:
    """The forked worker: check windows, send them, exit without running any cleanup of
    the parent's (atexit handlers, buffered output)."""
    status = 1
    try:
        os.close(result_r)
        parent = os.getppid()

        def send(window: _Window) -> None:
            window.tracker.end_window()
            data = pickle.dumps(window, protocol=pickle.HIGHEST_PROTOCOL)
            payload = _LENGTH.pack(len(data)) + data
            while payload:
                payload = payload[os.write(result_w, payload):]

        shared.take_windows(lambda: os.getppid() == parent, send, credited=True)
        status = 0
    finally:
        os._exit(status)


class _Merger:
    """This process's side: check windows, collect the worker's, merge them in order."""

    def __init__(self, shared: _Shared, pid: int, result_r: int, result: LogResult,
                 progress: Progress | None) -> None:
        self.shared = shared
        self.pid = pid
        self.exited = False
        self.result = result
        self.progress = progress
        self.pending: dict[int, _Window] = {}
        self.from_worker: set[int] = set()
        self.lock = threading.Lock()
        self.next_number = 0
        self.next_start: int | None = 0
        self.last_merged: tuple[int, int, int, int | None] | None = None
        """Number, start, first record and end of the window merged last."""
        self.holds_ids = True
        """Whether the merged tracker holds the message_ids of the window merged last (it
        checked that window itself)."""
        self.reader = threading.Thread(target=self._receive, args=(result_r,), daemon=True)

    def run(self, first_end: int) -> None:
        self.reader.start()
        try:
            self._keep(self.shared.check(0, 0, 0, first_end))
            self.shared.take_windows(self._worker_alive, self._keep)
            while self.reader.is_alive():
                # Merging hands credits back: a worker out of credits could otherwise
                # never see that no window is left, and never exit.
                self._merge_ready()
                self.reader.join(_POLL_SECONDS / 10)
        except BaseException:
            if not self.exited:  # interrupted or failed: the worker's windows are moot
                os.kill(self.pid, signal.SIGKILL)
            raise
        finally:
            if not self.exited:
                os.waitpid(self.pid, 0)
        self._merge_ready()
        if self.next_start is not None:
            # The worker died: whatever was not merged is checked here, in one run.
            self._check_here(self.next_number, self.next_start, None, window=True)

    def _worker_alive(self) -> bool:
        if not self.exited:
            self.exited = os.waitpid(self.pid, os.WNOHANG)[0] != 0
        return not self.exited

    def _receive(self, result_r: int) -> None:
        with os.fdopen(result_r, "rb") as stream:
            while len(head := stream.read(_LENGTH.size)) == _LENGTH.size:
                (size,) = _LENGTH.unpack(head)
                data = stream.read(size)
                if len(data) != size:
                    return
                window: _Window = pickle.loads(data)
                with self.lock:
                    self.pending[window.number] = window
                    self.from_worker.add(window.number)

    def _keep(self, window: _Window) -> None:
        window.tracker.end_window()  # as the worker does
        with self.lock:
            self.pending[window.number] = window
        self._merge_ready()

    def _merge_ready(self) -> None:
        while self.next_start is not None:
            with self.lock:
                window = self.pending.pop(self.next_number, None)
            if window is None:
                return
            if window.number in self.from_worker:
                os.write(self.shared.credit_w, bytes(1))
            tracker = self.shared.tracker
            if tracker.absorb(window.tracker):
                self._add(window.result, window.records)
                self.holds_ids = False
            else:
                if tracker.shares_ids(window.tracker):
                    self._restore_ids()
                self._check_here(window.number, window.start, window.end, window=False)
                tracker.end_window(keep_ids=True)
                self.holds_ids = True
            self.last_merged = (window.number, window.start, window.first_index, window.end)
            self.next_number += 1
            self.next_start = window.end

    def _check_here(self, number: int, start: int, end: int | None, *, window: bool) -> None:
        """Check records from ``start`` with the merged tracker itself; ``window``: to the
        end of the log, in windows."""
        tracker = self.shared.tracker
        if window:
            self._restore_ids()  # check_records starts the first window
        else:
            tracker.new_window()
        part = LogResult()
        records = check_records(
            iter_run(self.shared.path, self.shared.fmt, self.shared.options, start,
                     number * self.shared.window, end),
            tracker, part, self.shared.rel, self.shared.options.limit,
            self.shared.fmt.value, None, window=self.shared.window if window else None,
            first_window=number if window else 0,
        )
        self._add(part, records)

    def _restore_ids(self) -> None:
        """Give the merged tracker the message_ids of the window merged last, read again
        from the log, if it dropped them with that window's tracker."""
        if self.holds_ids or self.last_merged is None:
            return
        self.shared.tracker.adopt_ids(self.shared.check(*self.last_merged).tracker)
        self.holds_ids = True

    def _add(self, part: LogResult, records: int) -> None:
        self.result.findings.extend(part.findings)
        self.result.records += records
        if self.result.input_format is None:
            self.result.input_format = part.input_format
        if self.progress is not None:
            self.progress.advance(records)
