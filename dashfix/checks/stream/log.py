"""Check one whole stream log, streaming: container problems, every frame, sequences."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

from dashfix.checks.stream.frame import PROFILES, fits, validate_frame
from dashfix.checks.stream.scan import scan_block, scan_record
from dashfix.checks.stream.sequences import WINDOW_RECORDS, SequenceTracker, ThreadSummary
from dashfix.context import CheckContext, Progress
from dashfix.findings import Finding, Rule
from dashfix.inputs import InputKind, Target
from dashfix.inputs.streams import (
    RUN_FORMATS,
    UNFRAMED_FORMATS,
    ProblemKind,
    ReadOptions,
    RecordProblem,
    RecordValue,
    StreamRecord,
    ValueBlock,
    claims_frames_dir,
    iter_values,
    resolve_format,
    sniff_stream_file,
)
from dashfix.rules import stream as rules

PROGRESS_EVERY = 10_000
_NO_WINDOW = 1 << 62

_PROBLEM_RULES: dict[ProblemKind, Rule] = {
    ProblemKind.UNREADABLE: rules.STREAM_UNREADABLE,
    ProblemKind.TRUNCATED: rules.CAPTURE_TRUNCATED,
    ProblemKind.BAD_LENGTH: rules.BAD_LENGTH_PREFIX,
    ProblemKind.OVERSIZE: rules.FRAME_OVERSIZE,
    ProblemKind.LINE_TOO_LONG: rules.LINE_TOO_LONG,
    ProblemKind.NOT_UTF8: rules.NOT_UTF8,
    ProblemKind.BAD_LINE: rules.BAD_JSON_LINE,
    ProblemKind.BAD_BASE64: rules.BAD_BASE64,
}


@dataclass
class LogResult:
    findings: list[Finding] = field(default_factory=list)
    threads: list[ThreadSummary] = field(default_factory=list)
    records: int = 0
    input_format: str | None = None
    complete: bool = True
    """False when ``expired`` stopped the check part way (``records`` were checked)."""
    partitions: list[dict[str, int]] = field(default_factory=list)
    """For a Kafka topic: per partition, the snapshot's offsets and the records read."""


def _record_path(rel: str, member: str | None) -> str:
    if member is None:
        return rel
    return member if rel == "." else f"{rel}/{member}"


def problem_finding(problem: RecordProblem, rel: str) -> Finding:
    """A container problem as a finding located at its record and byte offset."""
    details: dict[str, object] = {"input_format": problem.source_format}
    if problem.size is not None:
        details["size_bytes"] = problem.size
        if problem.kind is ProblemKind.OVERSIZE:
            unframed = problem.source_format in ("jsonl", "sqlite")
            details["fits"] = {name: fits(problem.size, None, limit, unframed=unframed)
                               for name, limit in PROFILES.items()}
    where = "" if problem.kind is ProblemKind.UNREADABLE else (
        f"record {problem.index} (byte {problem.offset}): ")
    return _PROBLEM_RULES[problem.kind].at(
        _record_path(rel, problem.member), where + problem.message,
        record=None if problem.kind is ProblemKind.UNREADABLE else problem.index,
        offset=None if problem.kind is ProblemKind.UNREADABLE else problem.offset,
        expected=problem.expected, actual=problem.actual, key=f"record {problem.index}",
        details=details,
    )


def check_log(
    path: Path,
    rel: str,
    *,
    input_format: str | None = None,
    options: ReadOptions | None = None,
    progress: Progress | None = None,
    now_us: int | None = None,
    parallel: bool = True,
    window: int = WINDOW_RECORDS,
    expired: Callable[[], bool] | None = None,
) -> LogResult:
    """Every check of spec section 9 on every record of the log at ``path``.

    ``parallel``: a kcat capture or JSONL log of more than one ``window`` of records is
    checked by two processes when the machine has two CPUs (same findings, see
    ``stream.parallel``). ``expired`` (a time limit) is asked between blocks of records;
    when it says yes the check stops there and ``result.complete`` is False. A time-limited
    check runs in one process, so that it can stop at any block.
    """
    options = options or ReadOptions()
    result = LogResult()
    tracker = SequenceTracker(rel, now_us=now_us)
    input_format_read = input_format
    try:
        resolved = resolve_format(path, input_format)
    except OSError:
        resolved = None  # iter_values reports it
    if resolved is not None:
        # Forcing the resolved format spares iter_values a second detection.
        input_format_read = resolved.value
        if parallel and expired is None and resolved in RUN_FORMATS:
            from dashfix.checks.stream import parallel as two_processes

            if two_processes.parallel_workers() > 1 and two_processes.check_log_in_parallel(
                    path, resolved, rel, tracker, result, options, progress, window):
                _finish(result, tracker)
                return result
    result.records = check_records(
        iter_values(path, input_format_read, options), tracker, result, rel, options.limit,
        input_format_read, progress, window=window, expired=expired,
    )
    _finish(result, tracker)
    return result


def _finish(result: LogResult, tracker: SequenceTracker) -> None:
    result.findings.extend(tracker.finish())
    result.threads = tracker.summaries()


def check_records(
    items: Iterable[ValueBlock | StreamRecord | RecordProblem],
    tracker: SequenceTracker,
    result: LogResult,
    rel: str,
    limit: int,
    input_format: str | None,
    progress: Progress | None,
    *,
    window: int | None,
    expired: Callable[[], bool] | None = None,
    on_thread: ThreadObserver | None = None,
    first_window: int = 0,
) -> int:
    """Check ``items`` (``iter_values``), frame findings into ``result.findings``, messages
    into ``tracker``; the number of records.  ``window``: start a new dedup window every
    that many records (None: ``items`` are one window). ``expired`` is asked after each item
    (a block of records, or one record); True stops the check (``result.complete``).
    ``on_thread``: told each record's header thread_id.  ``first_window``: the number of
    the window ``items`` start with (their first record's index is ``first_window *
    window``); when not 0, ``tracker`` ends the window before it (holds its message_ids)."""
    records = _RecordChecker(tracker, result, rel, limit, input_format, window, on_thread,
                             first_window)
    count = 0
    reported = 0
    for item in items:
        if type(item) is list:
            records.block(item)
            count += len(item)
        elif isinstance(item, StreamRecord):
            records.stream_record(item)
            count += 1
        else:
            assert isinstance(item, RecordProblem)
            result.findings.append(problem_finding(item, rel))
            if item.kind is not ProblemKind.UNREADABLE:
                count += 1
        if progress is not None and count - reported >= PROGRESS_EVERY:
            progress.advance(count - reported)
            reported = count
        if expired is not None and expired():
            result.complete = False
            break
    if progress is not None:
        progress.advance(count - reported)
    return count


class ThreadObserver(Protocol):
    """Told the thread_id of each record's header: a block's at once (the records
    ``scan_block`` read, in ``scans``; None where it did not), the others one by one."""

    def block(self, block: ValueBlock, scans: Sequence[Any]) -> None: ...

    def record(self, record: RecordValue, thread_id: str | None) -> None:
        """``thread_id`` None: the record has no readable header."""


class _RecordChecker:
    """``check_records``' state: where the next dedup window starts, and whether the
    values are framed (kcat) or bare protobuf (file and SQLite backends)."""

    def __init__(self, tracker: SequenceTracker, result: LogResult, rel: str, limit: int,
                 input_format: str | None, window: int | None,
                 on_thread: ThreadObserver | None = None, first_window: int = 0) -> None:
        self.on_thread = on_thread
        self.tracker = tracker
        self.result = result
        self.rel = rel
        self.limit = limit
        self.input_format = input_format
        self.unframed = input_format in UNFRAMED_FORMATS
        self.span = window or _NO_WINDOW
        # The log's first window starts without new_window, a later one with it at its
        # first record: not as if the windows before it had held no record (which would
        # forget the message_ids of the window before it).
        self.next_window = self.span * (first_window or 1)

    def block(self, block: ValueBlock) -> None:
        """Records of a kcat capture or JSONL log (``input_format``), in order."""
        if self.result.input_format is None:
            self.result.input_format = self.input_format
        while block[-1][0] >= self.next_window:
            cut = bisect_left(block, self.next_window, key=itemgetter(0))
            if cut:
                self._check_values(block[:cut], self.rel)
            self._start_window(block[cut][0])
            block = block[cut:]
        self._check_values(block, self.rel)

    def stream_record(self, record: StreamRecord) -> None:
        if record.source_format != self.result.input_format:
            self.result.input_format = record.source_format
            self.unframed = record.unframed
        if record.index >= self.next_window:
            self._start_window(record.index)
        where = self.rel if record.member is None else _record_path(self.rel, record.member)
        self._check_value((record.index, record.offset, record.value), where)

    def _start_window(self, index: int) -> None:
        """Record ``index`` starts a later window.  When a whole window held no record (a
        JSONL log's blank lines take indexes too), the window before the new one is that
        empty one, so the new window forgets every message_id: two steps."""
        window = index // self.span
        skipped_a_window = window > self.next_window // self.span
        self.tracker.new_window()
        if skipped_a_window:
            self.tracker.new_window()
        self.next_window = (window + 1) * self.span

    def _check_values(self, block: ValueBlock, where: str) -> None:
        """The hot path for the records ``scan_block`` reads (and the zstd frames that
        ``scan_record`` reads after it, so that a block's healthy records go to the
        tracker at once), in runs between the others, which ``_check_unscanned`` takes one
        at a time, in order."""
        scans = scan_block(block, self.limit, self.unframed)
        limit, unframed = self.limit, self.unframed
        at = -1
        try:
            while True:
                at = scans.index(None, at + 1)
                scans[at] = scan_record(block[at][2], limit, unframed)
        except ValueError:
            pass  # no None left after ``at``
        if self.on_thread is not None:
            self.on_thread.block(block, scans)
        start = 0
        end = len(scans)
        observe_block = self.tracker.observe_block
        while start < end:
            try:
                stop = scans.index(None, start)
            except ValueError:
                stop = end
            # scans[start:stop] holds no None, which mypy cannot see: hence the ignores.
            if start == 0 and stop == end:
                observe_block(scans, block, where)  # type: ignore[arg-type]
                return
            if start < stop:
                observe_block(scans[start:stop], block[start:stop], where)  # type: ignore[arg-type]
            if stop < end:
                self._check_unscanned(block[stop], where)
            start = stop + 1

    def _check_value(self, record: RecordValue, where: str) -> None:
        scanned = scan_record(record[2], self.limit, self.unframed)
        if scanned is None:
            self._check_unscanned(record, where)
            return
        if self.on_thread is not None:
            self.on_thread.record(record, scanned[1])
        self.tracker.observe_block([scanned], [record], where)

    def _check_unscanned(self, record: RecordValue, where: str) -> None:
        """A record ``scan_record`` did not read: ``validate_frame`` says what is wrong."""
        index, offset, value = record
        verdict = validate_frame(value, limit=self.limit, path=where, record=index,
                                 offset=offset, unframed=self.unframed)
        self.result.findings.extend(verdict.findings)
        if self.on_thread is not None:
            self.on_thread.record(record, None if verdict.message is None else header_thread(
                verdict.message))
        if verdict.message is not None:
            self.tracker.observe(verdict.message, index, offset, where)


def header_thread(message: Any) -> str | None:
    """The thread_id of a decoded message's payload header (None: no payload)."""
    which = message.WhichOneof("message")
    return None if which is None else str(getattr(message, which).header.thread_id)


def check_stream_target(target: Target, ctx: CheckContext) -> Iterator[Finding]:
    """The ``stream-log`` input kind's check for ``dashfix verify``."""
    options = ReadOptions(limit=ctx.options.limit_bytes,
                          max_line_bytes=ctx.options.max_line_bytes)
    result = check_log(target.path, target.rel,
                       input_format=ctx.options.input_format or target.input_format,
                       options=options, progress=ctx.progress,
                       expired=ctx.selection.deadline())
    yield from counted(result, ctx, target.rel, "logs")


def counted(result: LogResult, ctx: CheckContext, where: str, unit: str) -> list[Finding]:
    """A checked log's (or topic's, ``unit``) share of the verify summary, and how far a
    time limit let it get; its findings."""
    if not result.complete:
        ctx.selection.stopped(where, f"the first {result.records} record(s)")
    ctx.stats[unit] += 1
    ctx.stats["records"] += result.records
    ctx.stats["threads"] += len(result.threads)
    return result.findings


STREAM_LOG_KIND = InputKind(
    name="stream-log",
    check=check_stream_target,
    claims_dir=claims_frames_dir,
    sniff_file=sniff_stream_file,
    description="DashStream log: kcat capture, file-backend JSONL, raw .frame file, folder of "
    ".frame files or SQLite backend database",
)
