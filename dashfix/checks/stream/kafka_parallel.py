"""Checking a Kafka topic's partitions in several processes at once.

Each partition is checked on its own anyway (its own sequence tracker, ``check_partition``);
what ties the partitions together is the thread-to-partition map: a thread's home is the
partition of its first record in partition order, and every record of it elsewhere is a
THREAD_SPLIT finding.  So forked workers (at most one per CPU, each taking every Nth
partition) each read their partitions with a consumer of their own, over the snapshot's ranges
taken once in the parent, check them, and send back each partition's result and the set
of its threads; the parent puts the results together in partition order, which gives the
findings, summaries and order of a check in one process.  When a thread has records in
more than one partition, or a worker died, the parent says so (None) and the caller checks
the topic again in one process, in partition order: the split threads' records are
reported there, and a topic where DashFlow's keying holds is read once.

Workers start before the parent has any Kafka client (librdkafka's threads do not survive
a fork) and send length-prefixed frames on a pipe of their own: progress counts, which the
parent shows partition after partition as a check in one process does, and results.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import struct
from dataclasses import dataclass, field

from dashfix.checks.stream.kafka import KeysAndHomes, check_partition, merge_partition
from dashfix.checks.stream.log import LogResult
from dashfix.context import Progress
from dashfix.cpus import usable_cpus
from dashfix.errors import DashfixError
from dashfix.inputs.kafka import PartitionRange, TopicSnapshot
from dashfix.inputs.sources import KAFKA_FORMAT, TopicSource
from dashfix.inputs.streams import ReadOptions
from dashfix.interrupts import fork_worker

_FRAME = struct.Struct("<BQ")
"""A frame's kind and its value: a progress count, or the length of the pickle after it."""
_PROGRESS, _RESULT, _ERROR = range(3)


@dataclass
class _Checked:
    """What a worker sends of one partition."""

    index: int
    result: LogResult
    threads: set[str]


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
    holds a consumer's queue and a partition's dedup windows (~100 MiB of PSS at 1,000,000
    records in 3 partitions): three on 2 CPUs held 330 MiB in all (two: 230) and were not
    faster on a loaded machine (docs/streams.md)."""
    return min(partitions, usable_cpus())


def check_partitions(source: TopicSource, partitions: list[PartitionRange],
                     options: ReadOptions, progress: Progress | None,
                     now_us: int | None) -> LogResult | None:
    """``check_topic``'s result, the partitions checked by forked workers; None when a
    thread lies in several partitions or a worker died (check the topic in order)."""
    workers = worker_count(len(partitions))
    running: dict[int, _Worker] = {}
    try:
        for number in range(workers):
            mine = list(range(number, len(partitions), workers))
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
                _work(source, partitions, mine, options, now_us, write_fd)
            os.close(write_fd)
            running[read_fd] = _Worker(pid, read_fd)
        checked = _collect(running, partitions, _Bars(partitions, progress,
                                                      source.locator.topic))
    finally:
        for worker in running.values():
            worker.stop()
    if checked is None:
        return None
    result = LogResult(input_format=KAFKA_FORMAT)
    homes: dict[str, int] = {}
    for index, part in enumerate(checked):
        for thread_id in part.threads:
            if homes.setdefault(thread_id, index) != index:
                return None
        merge_partition(result, part.result)
    return result


def _work(source: TopicSource, partitions: list[PartitionRange], mine: list[int],
          options: ReadOptions, now_us: int | None, fd: int) -> None:
    """A forked worker: check the partitions ``mine`` (indexes into ``partitions``), send
    each one's result, exit without running any cleanup of the parent's."""
    status = 1
    try:
        pipe = _Pipe(fd)
        try:
            with TopicSnapshot(source.locator, source.options, partitions) as snapshot:
                for index in mine:
                    keys = KeysAndHomes(source.locator)
                    result = check_partition(snapshot, partitions[index], keys, options, pipe,
                                             now_us, None)
                    pipe.sendobj(_RESULT, _Checked(index, result, set(keys.homes)))
        except DashfixError as exc:  # the broker went away, say: the parent raises it
            pipe.sendobj(_ERROR, exc)
        status = 0
    finally:
        os._exit(status)


@dataclass
class _Worker:
    pid: int
    fd: int
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


def _collect(running: dict[int, _Worker], partitions: list[PartitionRange],
             bars: _Bars) -> list[_Checked] | None:
    """Every partition's result, in partition order; None if a worker died first."""
    workers = len(running)
    checked: list[_Checked | None] = [None] * len(partitions)
    # The partition each worker is on: worker N checks partitions N, N + workers, ...
    on = {fd: number for number, fd in enumerate(running)}
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
                        bars.advance(on[worker.fd], value)
                    elif kind == _ERROR:
                        error: DashfixError = pickle.loads(payload)
                        raise error
                    else:
                        part: _Checked = pickle.loads(payload)
                        checked[part.index] = part
                        bars.finished(part.index)
                        on[worker.fd] = part.index + workers
    if any(worker.status for worker in running.values()):
        return None
    return [part for part in checked if part is not None] if None not in checked else None
