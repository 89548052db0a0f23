"""Checking a Kafka topic's partitions in several processes at once.

Each partition is checked on its own anyway (its own sequence tracker, ``check_partition``);
what ties the partitions together is the thread-to-partition map: a thread's home is the
partition of its first record in partition order, and every record of it elsewhere is a
THREAD_SPLIT finding.  So forked workers (at most one per CPU) each read their share of
the snapshot with a consumer of their own, over the snapshot's ranges taken once in the
parent, check it, and send back each partition's result and the set of its threads; the
parent puts the results together in partition order, which gives the findings, summaries
and order of a check in one process.  When a thread has records in more than one
partition, or a worker died, the parent says so (None) and the caller checks the topic
again in one process, in partition order: the split threads' records are reported there,
and a topic where DashFlow's keying holds is read once.

The shares are even (``plan``): the partitions, in order, are cut into one run per worker
of about as many records, so 3 partitions on 2 CPUs do not leave one worker with two of
them and the other idle half the time.  A cut inside a partition is at a window boundary
(a multiple of the dedup window, in offsets): the worker with the partition's beginning
checks it up to the cut with the partition's tracker, the other checks each window after
the cut with a fresh one, as ``stream.parallel`` checks a log's windows, and the parent
merges them in order with ``SequenceTracker.absorb``, which settles what each window could
not see and gives the findings of one pass.  A window it cannot settle (a retry across the
cut, say) has the parent check that partition again itself.

Workers start before the parent has any Kafka client (librdkafka's threads do not survive
a fork) and send length-prefixed frames on a pipe of their own: progress counts, which the
parent shows partition after partition as a check in one process does, and results.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import selectors
import signal
import struct
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from operator import itemgetter

from dashfix.checks.stream.kafka import (
    KeysAndHomes,
    begin_partition,
    blocks_of,
    check_partition,
    check_piece,
    end_partition,
    merge_partition,
)
from dashfix.checks.stream.log import LogResult, check_records
from dashfix.checks.stream.sequences import WINDOW_RECORDS, SequenceTracker
from dashfix.context import Progress
from dashfix.cpus import usable_cpus
from dashfix.errors import DashfixError
from dashfix.findings import Finding
from dashfix.inputs.kafka import PartitionRange, TopicSnapshot
from dashfix.inputs.sources import KAFKA_FORMAT, TopicSource
from dashfix.inputs.streams import ReadOptions, ValueBlock
from dashfix.interrupts import fork_worker

_FRAME = struct.Struct("<BQ")
"""A frame's kind and its value: a progress count, or the length of the pickle after it."""
_PROGRESS, _RESULT, _ERROR = range(3)


@dataclass(frozen=True)
class Piece:
    """The offsets of one partition (``index`` into the snapshot's) that one worker
    checks: from ``start`` up to ``stop`` (None: the snapshot's end)."""

    index: int
    start: int
    stop: int | None


@dataclass
class _Checked:
    """What a worker sends of a piece: all of a partition (``result`` is its result), or
    a part of one, which the parent merges: the head (up to a cut) or one window after a
    cut, with its key findings in ``result``, its frame findings (not yet located) in
    ``frames`` and its ``tracker``.  ``last``: the piece is done (a piece of windows ends
    with a part that holds nothing)."""

    index: int
    start: int
    last: bool
    result: LogResult
    threads: set[str]
    frames: list[Finding] = field(default_factory=list)
    tracker: SequenceTracker | None = None


class _Pipe:
    """The worker's side: a progress sink (the parent draws the bars) and the results."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, kind: int, value: int, payload: bytes = b"") -> None:
        data = _FRAME.pack(kind, value) + payload
        while data:
            data = data[os.write(self.fd, data):]

    def sendobj(self, kind: int, obj: object) -> None:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.send(kind, len(payload), payload)

    def start(self, label: str, total: int | None) -> None:
        return None  # the parent starts each partition's bar in partition order

    def expect(self, count: int) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        if count:
            self.send(_PROGRESS, count)

    def finish(self) -> None:
        return None


def worker_count(partitions: int) -> int:
    """Processes that read a topic at once: one per partition, at most one per CPU.  Each
    holds a consumer's queue and a partition's dedup windows (~90-110 MiB of PSS at
    1,000,000 records in 3 partitions): three on 2 CPUs held 330 MiB in all (two: 230, with
    the 8 MiB queues of then) and were not faster on a loaded machine (docs/streams.md)."""
    return min(partitions, usable_cpus())


def plan(partitions: list[PartitionRange], workers: int,
         window: int = WINDOW_RECORDS) -> list[list[Piece]]:
    """Each worker's pieces: the partitions in order, cut into ``workers`` runs of about
    as many records; a cut inside a partition is at the multiple of ``window`` nearest the
    even share (runs left empty are dropped).  A run that ends inside a partition checks
    that piece (the head) first: the other side of the cut comes first in the next run,
    so the parent can merge the cut partition early and drop its windows."""
    total = sum(part.size for part in partitions)
    # Where each run after the first starts: (partition index, offset).
    cuts: list[tuple[int, int]] = []
    before = 0
    for index, part in enumerate(partitions):
        while (len(cuts) < workers - 1
               and total * (len(cuts) + 1) < (before + part.size) * workers):
            wanted = part.start + total * (len(cuts) + 1) // workers - before
            offset = (wanted + window // 2) // window * window
            if offset >= part.end:
                cuts.append((index + 1, -1))
            else:
                cuts.append((index, max(offset, part.start)))
        before += part.size
    edges = [(0, -1), *cuts, (len(partitions), -1)]
    runs = []
    for (first, start), (last, stop) in pairwise(edges):
        pieces = []
        for index in range(first, min(last + 1, len(partitions))):
            part = partitions[index]
            piece = Piece(index, start if index == first and start >= 0 else part.start,
                          stop if index == last and stop >= 0 else None)
            if index == last and (piece.stop is None or piece.stop <= piece.start):
                continue  # the next run starts at this partition's beginning (or here)
            pieces.append(piece)
        if pieces:
            head = pieces[-1].stop is not None and len(pieces) > 1
            runs.append([pieces[-1], *pieces[:-1]] if head else pieces)
    return runs


def check_partitions(source: TopicSource, partitions: list[PartitionRange],
                     options: ReadOptions, progress: Progress | None,
                     now_us: int | None, *, window: int = WINDOW_RECORDS,
                     workers: int | None = None) -> LogResult | None:
    """``check_topic``'s result, the partitions checked by forked workers (``workers``,
    else ``worker_count``); None when a thread lies in several partitions or a worker died
    (check the topic in order)."""
    runs = plan(partitions, workers or worker_count(len(partitions)), window)
    if now_us is None:  # one clock for the head of a partition and the windows after it
        now_us = int(time.time() * 1e6)
    running: dict[int, _Worker] = {}
    try:
        for pieces in runs:
            read_fd, write_fd = os.pipe()
            try:
                pid = fork_worker()
            except OSError:  # no process to spare: the caller checks the topic itself
                os.close(read_fd)
                os.close(write_fd)
                return None
            if pid == 0:
                os.close(read_fd)
                for worker in running.values():
                    os.close(worker.fd)
                _work(source, partitions, pieces, options, now_us, window, write_fd)
            os.close(write_fd)
            running[read_fd] = _Worker(pid, read_fd, pieces)
        checked = _collect(running, _Bars(partitions, progress, source.locator.topic),
                           lambda index, parts: _merge(source, partitions[index], parts))
    finally:
        for worker in running.values():
            worker.stop()
    if checked is None:
        return None
    result = LogResult(input_format=KAFKA_FORMAT)
    homes: dict[str, int] = {}
    for index, merged in enumerate(checked):
        part, threads = merged or _check_again(source, partitions, index, options, now_us,
                                               window)
        for thread_id in threads:
            if homes.setdefault(thread_id, index) != index:
                return None
        merge_partition(result, part)
    return result


_Merged = tuple[LogResult, set[str]]
"""A partition's result and the threads it holds."""


def _merge(source: TopicSource, part: PartitionRange, parts: list[_Checked]) -> _Merged | None:
    """One partition's result and threads from the parts the workers sent; None when a
    window cannot be merged (``SequenceTracker.absorb``)."""
    if len(parts) == 1 and parts[0].tracker is None:
        return parts[0].result, parts[0].threads
    head, *windows = sorted((checked for checked in parts if checked.tracker is not None),
                            key=lambda checked: checked.start)
    assert head.tracker is not None and head.start == part.start
    tracker, result, frames, threads = head.tracker, head.result, head.frames, head.threads
    records = result.records
    for later in windows:
        assert later.tracker is not None
        if not tracker.absorb(later.tracker):
            return None
        result.findings.extend(later.result.findings)
        frames.extend(later.frames)
        records += later.result.records
        threads |= later.threads
    return end_partition(result, source.locator, part, records, frames, tracker), threads


def _check_again(source: TopicSource, partitions: list[PartitionRange], index: int,
                 options: ReadOptions, now_us: int, window: int) -> _Merged:
    """One partition checked here, whole: what ``_merge`` could not put together."""
    with TopicSnapshot(source.locator, source.options, partitions) as snapshot:
        keys = KeysAndHomes(source.locator)
        result = check_partition(snapshot, partitions[index], keys, options, None, now_us,
                                 None, window)
    return result, set(keys.homes)


def _work(source: TopicSource, partitions: list[PartitionRange], pieces: list[Piece],
          options: ReadOptions, now_us: int, window: int, fd: int) -> None:
    """A forked worker: check ``pieces``, send what each holds, exit without running any
    cleanup of the parent's."""
    status = 1
    try:
        pipe = _Pipe(fd)
        try:
            with TopicSnapshot(source.locator, source.options, partitions) as snapshot:
                for piece in pieces:
                    for checked in _check_piece(snapshot, partitions[piece.index], piece,
                                                options, now_us, window, pipe):
                        pipe.sendobj(_RESULT, checked)
        except DashfixError as exc:  # the broker went away, say: the parent raises it
            pipe.sendobj(_ERROR, exc)
        status = 0
    finally:
        os._exit(status)


def _check_piece(snapshot: TopicSnapshot, part: PartitionRange, piece: Piece,
                 options: ReadOptions, now_us: int, window: int,
                 pipe: _Pipe) -> Iterator[_Checked]:
    """What a worker sends of ``piece``: the partition's result when it is all of it; else
    its head, or each of its windows and a last part that holds nothing."""
    locator = snapshot.locator
    keys = KeysAndHomes(locator)
    if piece.start == part.start and piece.stop is None:
        result = check_partition(snapshot, part, keys, options, pipe, now_us, None, window)
        yield _Checked(piece.index, piece.start, True, result, set(keys.homes))
        return
    rel = locator.at(part.partition)
    if piece.start == part.start:
        result = begin_partition(locator, part, keys, pipe)
        tracker = SequenceTracker(rel, now_us=now_us, merging=True)
        checked = LogResult(input_format=KAFKA_FORMAT)
        result.records = check_piece(snapshot, part, keys, tracker, checked, options, pipe,
                                     stop=piece.stop, window=window)
        tracker.end_window()
        yield _Checked(piece.index, piece.start, True, result, set(keys.homes),
                       checked.findings, tracker)
        return
    keys.partition = part.partition
    tail = dataclasses.replace(part, start=piece.start)
    for start, blocks in _Windows(blocks_of(snapshot, tail, keys.keys, piece.stop), window):
        keys.result = LogResult(input_format=KAFKA_FORMAT)
        keys.homes.clear()
        tracker = SequenceTracker(rel, now_us=now_us, merging=True)
        checked = LogResult(input_format=KAFKA_FORMAT)
        keys.result.records = check_records(blocks, tracker, checked, rel, options.limit,
                                            KAFKA_FORMAT, pipe, window=None, on_thread=keys)
        tracker.end_window()
        yield _Checked(piece.index, start, False, keys.result, set(keys.homes),
                       checked.findings, tracker)
    yield _Checked(piece.index, piece.start, True, LogResult(), set())


class _Windows:
    """Blocks from a window boundary on, window after window: ``(first offset of the
    window, its blocks)``; each window's blocks are to be read before the next window."""

    def __init__(self, blocks: Iterator[ValueBlock], span: int) -> None:
        self._blocks = blocks
        self._span = span
        self._next: ValueBlock | None = None
        """The first records of the next window (the rest of a block cut at its start)."""

    def __iter__(self) -> Iterator[tuple[int, Iterator[ValueBlock]]]:
        while True:
            if self._next is None:
                self._next = next(self._blocks, None)
                if self._next is None:
                    return
            start = self._next[0][0] // self._span * self._span
            yield start, self._window(start + self._span)

    def _window(self, end: int) -> Iterator[ValueBlock]:
        block = self._next
        self._next = None
        while block is not None:
            if block[-1][0] < end:
                yield block
                block = next(self._blocks, None)
                continue
            cut = bisect_left(block, end, key=itemgetter(0))
            if cut:
                yield block[:cut]
            self._next = block[cut:]
            return


@dataclass
class _Worker:
    pid: int
    fd: int
    pieces: list[Piece]
    on: int = 0
    """The piece it is checking (an index into ``pieces``)."""
    buffer: bytearray = field(default_factory=bytearray)
    status: int | None = None
    """Its exit status once reaped."""

    def frames(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """The complete frames that ``data`` ends, in order."""
        self.buffer += data
        complete = []
        while len(self.buffer) >= _FRAME.size:
            kind, value = _FRAME.unpack_from(self.buffer)
            size = _FRAME.size + (0 if kind == _PROGRESS else value)
            if len(self.buffer) < size:
                break
            complete.append((kind, value, bytes(self.buffer[_FRAME.size:size])))
            del self.buffer[:size]
        return complete

    def reap(self) -> None:
        self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])

    def stop(self) -> None:
        """Close its pipe and reap it (killed first unless it was reaped)."""
        os.close(self.fd)
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            self.reap()


class _Bars:
    """Each partition's bar in partition order, as one process draws them: the counts of a
    partition whose turn has not come are held until it has."""

    def __init__(self, partitions: list[PartitionRange], progress: Progress | None,
                 topic: str) -> None:
        self.partitions = partitions
        self.progress = progress
        self.topic = topic
        self.held = [0] * len(partitions)
        self.done = [False] * len(partitions)
        self.current = -1
        self._next()

    def _next(self) -> None:
        while self.current + 1 < len(self.partitions):
            self.current += 1
            part = self.partitions[self.current]
            if self.progress is not None:
                self.progress.start(f"{self.topic} partition {part.partition}", part.size)
                if self.held[self.current]:
                    self.progress.advance(self.held[self.current])
            if not self.done[self.current]:
                return

    def advance(self, index: int, count: int) -> None:
        if index == self.current and self.progress is not None:
            self.progress.advance(count)
        else:
            self.held[index] += count

    def finished(self, index: int) -> None:
        self.done[index] = True
        if index == self.current:
            self._next()


def _collect(running: dict[int, _Worker], bars: _Bars,
             merge: Callable[[int, list[_Checked]], _Merged | None]
             ) -> list[_Merged | None] | None:
    """Each partition's result and threads, in partition order, ``merge``-d from what the
    workers sent of it as soon as all of it came (None where that failed: check it
    again); None if a worker died first."""
    partitions = bars.partitions
    parts: list[list[_Checked]] = [[] for _ in partitions]
    merged: list[_Merged | None] = [None] * len(partitions)
    pending = [0] * len(partitions)
    for worker in running.values():
        for piece in worker.pieces:
            pending[piece.index] += 1
    with selectors.DefaultSelector() as selector:
        for fd in running:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                worker = running[key.fd]
                data = os.read(worker.fd, 1 << 16)
                if not data:
                    selector.unregister(worker.fd)
                    worker.reap()
                    continue
                for kind, value, payload in worker.frames(data):
                    if kind == _PROGRESS:
                        bars.advance(worker.pieces[worker.on].index, value)
                    elif kind == _ERROR:
                        error: DashfixError = pickle.loads(payload)
                        raise error
                    else:
                        part: _Checked = pickle.loads(payload)
                        parts[part.index].append(part)
                        if part.last:
                            worker.on += 1
                            pending[part.index] -= 1
                            if not pending[part.index]:
                                merged[part.index] = merge(part.index, parts[part.index])
                                parts[part.index] = []
                                bars.finished(part.index)
    if any(worker.status for worker in running.values()) or any(pending):
        return None
    return merged
