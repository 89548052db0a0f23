"""Check a Kafka topic's snapshot: every check of a stream log, plus what only the broker
knows: record keys, partitions, and offsets that retention deleted.

Each partition is checked as a log of its own, in offset order (Kafka orders records only
within a partition), with its own sequence tracker; the thread-to-partition map spans the
topic.  A finding's root is the topic's URL (it holds no credential) and its path the
record inside it, ``#pP@OFFSET``, so it is located at ``kafka://host/topic#pP@OFFSET``,
with ``partition`` and ``offset`` (the Kafka offset) in its details; its fingerprint holds
the topic, partition and offset, never the brokers (``Finding.fingerprint``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dashfix.checks.stream.log import LogResult, check_records, counted
from dashfix.checks.stream.parallel import parallel_workers
from dashfix.checks.stream.sequences import WINDOW_RECORDS, SequenceTracker
from dashfix.context import CheckContext, Progress
from dashfix.findings import Finding
from dashfix.inputs.kafka import KafkaLocator, PartitionRange, TopicSnapshot, fragment
from dashfix.inputs.sources import KAFKA_FORMAT, TopicSource
from dashfix.inputs.streams import ReadOptions, RecordValue, ValueBlock
from dashfix.native import key_misfits
from dashfix.rules import stream as rules

_WHERE = re.compile(r"record (\d+) \(byte (\d+)\): ")


def locate(finding: Finding, locator: KafkaLocator, partition: int) -> Finding:
    """A finding that the log checks located at ``record`` R (the Kafka offset) and byte B
    of the value, moved to ``kafka://host/topic#pP@R``: its message starts "partition P
    offset R" and its details say partition and offset."""
    offset = finding.record
    if offset is None:
        return dataclasses.replace(finding, root=str(locator), path=fragment(partition),
                                   details={**finding.details, "topic": locator.topic,
                                            "partition": partition})

    def where(match: re.Match[str]) -> str:
        at = int(match[2])
        inside = f" (byte {at} of the value)" if at else ""
        return f"partition {partition} offset {match[1]}{inside}: "

    return dataclasses.replace(
        finding, root=str(locator), path=fragment(partition, offset),
        message=_WHERE.sub(where, finding.message, count=1),
        details={**finding.details, "topic": locator.topic, "partition": partition,
                 "offset": offset})


def offsets_deleted(locator: KafkaLocator, part: PartitionRange) -> Finding | None:
    """The info finding of a partition whose first offsets retention deleted."""
    if not part.lost:
        return None
    assert part.requested is not None
    return dataclasses.replace(rules.OFFSETS_DELETED.at(
        fragment(part.partition),
        f"partition {part.partition}: offsets {part.requested}..{part.low - 1} were deleted "
        f"({part.lost} offsets lost); its checks start at offset {part.low}",
        expected=f"earliest offset {part.requested}", actual=f"earliest offset {part.low}",
        key=f"p{part.partition}",
        details={"topic": locator.topic, "partition": part.partition,
                 "offsets_lost": part.lost, "earliest_offset": part.low}), root=str(locator))


class KeysAndHomes:
    """The key check of every record and the thread-to-partition map of the topic."""

    def __init__(self, locator: KafkaLocator) -> None:
        self.locator = locator
        self.result = LogResult()
        """Where the findings go: the result of the partition being checked."""
        self.homes: dict[str, int] = {}
        """thread_id -> the partition of its first record (partitions are read in order)."""
        self.partition = 0
        self.keys: dict[int, bytes | None] = {}
        """The keys of the batch being checked, by offset."""

    def _add(self, rule: Any, offset: int, message: str, thread_id: str | None,
             **kw: Any) -> None:
        self.result.findings.append(dataclasses.replace(rule.at(
            fragment(self.partition, offset),
            f"partition {self.partition} offset {offset}: {message}", thread_id=thread_id,
            record=offset, key=f"p{self.partition}@{offset}",
            details={"topic": self.locator.topic, "partition": self.partition,
                     "offset": offset}, **kw), root=str(self.locator)))

    def block(self, block: ValueBlock, scans: Sequence[Any]) -> None:
        """The common case inline: each record keyed by its thread, in the thread's
        partition; anything else goes to ``record``."""
        for at in key_misfits(block, scans, self.keys, self.homes, self.partition):
            self.record(block[at], scans[at][1])

    def record(self, record: RecordValue, thread_id: str | None) -> None:
        offset = record[0]
        key = self.keys.get(offset)
        if thread_id is None:
            return  # no header: the frame checks said why
        if not key:
            self._add(rules.KEY_MISSING, offset,
                      f"record of thread {thread_id!r} has no key; DashFlow keys by thread_id",
                      thread_id, expected=thread_id, actual="no key")
        elif key != thread_id.encode():
            shown = key.decode("utf-8", "replace")
            self._add(rules.KEY_NOT_THREAD, offset,
                      f"key {shown!r} is not the header's thread_id {thread_id!r}", thread_id,
                      expected=thread_id, actual=shown)
        home = self.homes.setdefault(thread_id, self.partition)
        if home != self.partition:
            self._add(rules.THREAD_SPLIT, offset,
                      f"thread {thread_id!r} began in partition {home} but this record is in "
                      f"partition {self.partition}: their relative order is lost", thread_id,
                      expected=f"partition {home}", actual=f"partition {self.partition}")


def blocks_of(snapshot: TopicSnapshot, part: PartitionRange, keys: dict[int, bytes | None],
            stop: int | None = None) -> Iterator[ValueBlock]:
    """A partition's records (below ``stop``) as ``(offset, 0, value)`` blocks, their keys
    in ``keys``."""
    return snapshot.blocks(part, keys, stop)


def begin_partition(locator: KafkaLocator, part: PartitionRange, keys: KeysAndHomes,
                    progress: Progress | None) -> LogResult:
    """A partition's result before its records: the deleted-offsets info; its bar started,
    ``keys`` set to report into it."""
    result = LogResult(input_format=KAFKA_FORMAT)
    lost = offsets_deleted(locator, part)
    if lost is not None:
        result.findings.append(lost)
    if progress is not None:
        progress.start(f"{locator.topic} partition {part.partition}", part.size)
    keys.partition = part.partition
    keys.result = result
    return result


def check_piece(snapshot: TopicSnapshot, part: PartitionRange, keys: KeysAndHomes,
                tracker: SequenceTracker, checked: LogResult, options: ReadOptions,
                progress: Progress | None, *, stop: int | None = None,
                window: int | None = WINDOW_RECORDS,
                expired: Callable[[], bool] | None = None) -> int:
    """Check the records of ``part`` (below ``stop``) into ``tracker`` (frame findings into
    ``checked``, key findings into ``keys``); the number of records."""
    return check_records(
        blocks_of(snapshot, part, keys.keys, stop), tracker, checked,
        snapshot.locator.at(part.partition), options.limit, KAFKA_FORMAT, progress,
        window=window, expired=expired, on_thread=keys)


def end_partition(result: LogResult, locator: KafkaLocator, part: PartitionRange,
                  records: int, frames: list[Finding], tracker: SequenceTracker) -> LogResult:
    """``result`` (``begin_partition``) completed with the partition's ``records``, frame
    findings and tracker, all located in the topic."""
    result.records = records
    result.partitions.append({"partition": part.partition, "earliest": part.low,
                              "start": part.start, "end": part.end, "records": records})
    found = [*frames, *tracker.finish()]
    result.findings.extend(locate(f, locator, part.partition) for f in found)
    result.threads = tracker.summaries()
    return result


def check_partition(snapshot: TopicSnapshot, part: PartitionRange, keys: KeysAndHomes,
                    options: ReadOptions, progress: Progress | None, now_us: int | None,
                    expired: Callable[[], bool] | None,
                    window: int = WINDOW_RECORDS) -> LogResult:
    """Every check of one partition's snapshot, in its own result: the deleted-offsets
    info, then the key and partition findings in offset order, then the frame and sequence
    findings; its thread summaries, records and range.  ``keys`` holds the homes of the
    threads of the partitions checked before it (in partition order)."""
    result = begin_partition(snapshot.locator, part, keys, progress)
    tracker = SequenceTracker(snapshot.locator.at(part.partition), now_us=now_us)
    checked = LogResult(input_format=KAFKA_FORMAT)
    records = check_piece(snapshot, part, keys, tracker, checked, options, progress,
                          window=window, expired=expired)
    result.complete = checked.complete
    return end_partition(result, snapshot.locator, part, records, checked.findings, tracker)


def merge_partition(result: LogResult, part: LogResult) -> None:
    """Add one partition's result (``check_partition``) to the topic's, in partition order."""
    result.findings.extend(part.findings)
    result.threads.extend(part.threads)
    result.records += part.records
    result.partitions.extend(part.partitions)
    result.complete = result.complete and part.complete


def check_topic(source: TopicSource, options: ReadOptions | None = None, *,
                progress: Progress | None = None, now_us: int | None = None,
                expired: Callable[[], bool] | None = None, parallel: bool = True,
                parallel_from: int = WINDOW_RECORDS, window: int = WINDOW_RECORDS) -> LogResult:
    """Every stream check on every record of the topic's snapshot, and the Kafka checks.
    ``expired`` (a time limit) stops the check part way (``result.complete``).
    ``window``: the dedup window, in offsets (tests make it small).

    ``parallel``: a snapshot of at least ``parallel_from`` records in several partitions
    is checked by forked processes, one per CPU, each taking about as many records, in
    runs of whole partitions and windows (``kafka_parallel``), with the same findings in
    the same order; a time-limited check runs in this process, so that it can stop at any
    block."""
    options = options or ReadOptions()
    with source.snapshot() as snapshot:
        partitions = snapshot.partitions
        several = sum(1 for part in partitions if part.size) > 1
        if not (parallel and several and expired is None and snapshot.size >= parallel_from
                and parallel_workers() > 1):
            return _check_in_order(snapshot, options, progress, now_us, expired, window)
    # Forked workers must not inherit a live client: the snapshot is closed first.
    from dashfix.checks.stream import kafka_parallel

    result = kafka_parallel.check_partitions(source, partitions, options, progress, now_us,
                                             window=window)
    if result is not None:
        return result
    with TopicSnapshot(source.locator, source.options, partitions) as snapshot:
        return _check_in_order(snapshot, options, progress, now_us, expired, window)


def _check_in_order(snapshot: TopicSnapshot, options: ReadOptions, progress: Progress | None,
                    now_us: int | None, expired: Callable[[], bool] | None,
                    window: int) -> LogResult:
    """``check_topic`` in this process: partition after partition."""
    result = LogResult(input_format=KAFKA_FORMAT)
    keys = KeysAndHomes(snapshot.locator)
    for part in snapshot.partitions:
        checked = check_partition(snapshot, part, keys, options, progress, now_us, expired,
                                  window)
        merge_partition(result, checked)
        if not checked.complete:
            break
    return result


def check_topic_target(source: TopicSource, ctx: CheckContext) -> Iterator[Finding]:
    """``check_topic`` for ``dashfix verify``."""
    options = ReadOptions(limit=ctx.options.limit_bytes,
                          max_line_bytes=ctx.options.max_line_bytes)
    result = check_topic(source, options, progress=ctx.progress,
                         expired=ctx.selection.deadline())
    yield from counted(result, ctx, source.root, "topics")
