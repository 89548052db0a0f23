"""Check a DLQ dump line by line, and reconcile it with the main log (bug #11).

Per line: UTF-8, JSON object, required fields and types, base64 within the cap, size and
hash consistency (hashes only against full payloads), the payload as a frame (the same
``validate_frame`` as stream logs), trace_id duplicates, producer-side records.  With a
main log (``--against``): every record the default consumer rejects must have a DLQ
record with the same topic, partition and offset; producer-side records are matched
against the log's sequence gaps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashfix.checks.stream.frame import FrameVerdict, validate_frame
from dashfix.checks.stream.kafka import locate
from dashfix.checks.stream.log import problem_finding
from dashfix.checks.stream.sequences import SequenceTracker
from dashfix.context import CheckContext
from dashfix.findings import Finding, Rule, Severity
from dashfix.formats.dlq import DlqFault, DlqProblem, DlqRecord, inconsistencies
from dashfix.formats.frame import FrameKind
from dashfix.inputs import InputKind, Target
from dashfix.inputs.dlq import DumpLine, DumpOptions, LineTooLong, dump_lines, sniff_dlq_file
from dashfix.inputs.kafka import KafkaLocator
from dashfix.inputs.sources import Source, TopicSource, as_source, source_records
from dashfix.inputs.streams import ReadOptions, StreamRecord
from dashfix.rules import dlq as rules
from dashfix.rules.stream import SEQUENCE_GAP

_FAULT_RULES: dict[DlqFault, Rule] = {
    DlqFault.NOT_UTF8: rules.NOT_UTF8,
    DlqFault.NOT_JSON: rules.NOT_JSON,
    DlqFault.BAD_FIELDS: rules.BAD_FIELDS,
    DlqFault.BAD_BASE64: rules.BAD_BASE64,
    DlqFault.OVERSIZE: rules.PAYLOAD_OVERSIZE,
}
DEADLINE_LINES = 1000
"""Under a time limit, the clock is read every this many records of a dump."""
_DROPPED = "dropped by the DLQ (backpressure at 100 sends in flight, timeout or send failure)"


def payload_sequences(message: Any) -> tuple[str, list[int]]:
    """Thread id and the sequences a decoded message carries (inner events of a batch)."""
    which = message.WhichOneof("message")
    payload = getattr(message, which)
    if which == "event_batch":
        return payload.header.thread_id, [e.header.sequence for e in payload.events
                                           if e.header.sequence]
    sequence = payload.header.sequence
    return payload.header.thread_id, [sequence] if sequence else []


def consumer_rejects(verdict: FrameVerdict) -> bool:
    """Would DashFlow's default (strict) consumer refuse this record, and dead-letter it?"""
    if not verdict.ok:
        return True
    return not verdict.unframed and verdict.kind in (FrameKind.LEGACY_PROTOBUF,
                                                     FrameKind.LEGACY_ZSTD)


def first_error(verdict: FrameVerdict) -> str:
    """The most severe frame finding's message, for skip reasons and summaries."""
    if not verdict.findings:
        return "payload does not decode"
    worst = max(verdict.findings, key=lambda f: f.severity.rank)
    return worst.message.split(": ", 1)[-1]


@dataclass(frozen=True, slots=True)
class AgainstLog:
    """The main log to reconcile with, and what to assume where the log is silent."""

    path: Path | Source
    """The log: a path, or a source (a Kafka topic)."""
    rel: str
    input_format: str | None = None
    options: ReadOptions = field(default_factory=ReadOptions)
    topic: str | None = None
    """Topic of the log's records when the log does not say (kcat ``%R%s`` captures)."""
    partition: int | None = None
    first_offset: int = 0
    """Kafka offset of the log's first record when the log does not carry offsets."""


@dataclass(frozen=True, slots=True)
class _ProducerSide:
    """What a producer-side finding needs (not the payload: memory stays small)."""

    index: int
    offset: int
    topic: str | None
    error_type: str
    thread_id: str | None
    sequences: tuple[int, ...]


@dataclass
class DumpResult:
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    """Non-blank lines."""
    unique: int = 0
    """Parsed records after trace_id deduplication."""
    replayable: int = 0
    producer_side: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    complete: bool = True
    """False when a time limit stopped the check part way (``records`` were checked)."""
    log_records: int = 0
    log_rejected: int = 0


class _DlqIndex:
    """(topic, partition, offset) of dead-lettered records, matchable with unknown parts."""

    def __init__(self) -> None:
        self._library: set[tuple[str | None, int | None, int]] = set()
        self._websocket: set[tuple[int | None, int]] = set()

    def add(self, record: DlqRecord) -> None:
        if record.topic is None:
            self._websocket.update(((record.partition, record.offset), (None, record.offset)))
            return
        for topic in (record.topic, None):
            for partition in (record.partition, None):
                self._library.add((topic, partition, record.offset))

    def has(self, topic: str | None, partition: int | None, offset: int) -> bool:
        return (topic, partition, offset) in self._library or (
            (partition, offset) in self._websocket)


class DumpChecker:
    """Checks lines one at a time (``line``), so replay can share every rule."""

    def __init__(self, path: Path | Source, rel: str, options: DumpOptions) -> None:
        self.source = as_source(path)
        self.locator = (self.source.locator if isinstance(self.source, TopicSource)
                        else None)
        self.partition: int | None = None
        """The partition of the line being checked (a DLQ topic's)."""
        self.rel = rel
        self.options = options
        self.result = DumpResult()
        self.seen: dict[str, int] = {}
        self.index = _DlqIndex()
        self.producer: list[_ProducerSide] = []

    def add(self, rule: Rule, index: int, offset: int, message: str, **kw: Any) -> None:
        finding = rule.at(self.rel, f"record {index} (byte {offset}): {message}",
                          record=index, offset=offset, key=f"record {index}", **kw)
        self.result.findings.append(_located(finding, self.locator, self.partition))

    def run(self, expired: Callable[[], bool] | None = None) -> None:
        """Check every line; ``expired`` (a time limit), asked every ``DEADLINE_LINES``
        lines, stops the check part way (``result.complete``)."""
        try:
            for line in dump_lines(self.source, self.options):
                self.line(line)
                if (expired is not None and self.result.records % DEADLINE_LINES == 0
                        and expired()):
                    self.result.complete = False
                    break
        except OSError as exc:
            self.result.findings.append(rules.DUMP_UNREADABLE.at(
                self.rel, f"cannot read DLQ dump: {exc.strerror or exc}"))

    def line(self, line: DumpLine) -> FrameVerdict | None:
        """Check one line; the payload's verdict when the record is replayable, else None."""
        self.result.records += 1
        self.partition = line.partition
        item = line.item
        if isinstance(item, LineTooLong):
            self.add(rules.LINE_TOO_LONG, line.index, line.offset,
                     f"line of {item.length} bytes is over --max-line-bytes {item.cap}; "
                     "skipped unread", expected=f"<= {item.cap} bytes",
                     actual=f"{item.length} bytes")
            return None
        if isinstance(item, DlqProblem):
            self.add(_FAULT_RULES[item.fault], line.index, line.offset + item.column, item.message,
                     expected=item.expected, actual=item.actual)
            return None
        return self.record(line, item)

    def record(self, line: DumpLine, record: DlqRecord) -> FrameVerdict | None:
        first = self.seen.get(record.trace_id)
        if first is not None:
            self.add(rules.DUPLICATE_TRACE_ID, line.index, line.offset,
                     f"trace_id {record.trace_id} already seen at record {first} (retried DLQ "
                     "send); counted once", thread_id=record.thread_id, actual=record.trace_id,
                     details={"first_record": first})
            return None
        self.seen[record.trace_id] = line.index
        result = self.result
        result.unique += 1
        result.shapes[record.shape.value] += 1
        if not record.producer_side:
            self.index.add(record)
        broken = inconsistencies(record)
        for problem in broken:
            self.add(rules.SHA256_MISMATCH if problem.sha256 else rules.TRUNCATION_INCONSISTENT,
                     line.index, line.offset, problem.message, thread_id=record.thread_id,
                     expected=problem.expected,
                     actual=problem.actual)
        # A payload that contradicts its own record is already reported: not decoded.
        verdict = None if broken else self._payload(line, record)
        if record.producer_side:
            result.producer_side += 1
            thread_id = record.thread_id
            sequences: tuple[int, ...] = ()
            if verdict is not None and verdict.message is not None:
                thread, found = payload_sequences(verdict.message)
                thread_id, sequences = thread or thread_id, tuple(found)
            self.producer.append(_ProducerSide(line.index, line.offset, record.topic,
                                               record.error_type, thread_id, sequences))
        return verdict if verdict is not None and verdict.ok else None

    def _payload(self, line: DumpLine, record: DlqRecord) -> FrameVerdict | None:
        """Decode a full payload as a frame; say why an omitted or truncated one is not."""
        if record.payload is None:
            self.add(rules.PAYLOAD_OMITTED, line.index, line.offset,
                     f"websocket-server record has no payload ({record.full_size} bytes, "
                     "DLQ_INCLUDE_FULL_PAYLOAD off); not replayable", thread_id=record.thread_id)
            return None
        if record.truncated:
            self.add(rules.PAYLOAD_TRUNCATED, line.index, line.offset,
                     f"payload truncated to {len(record.payload)} of {record.full_size} bytes; "
                     "not decoded, SHA-256 not checkable, not replayable",
                     thread_id=record.thread_id,
                     details={"included_bytes": len(record.payload),
                              "size_bytes": record.full_size})
            return None
        verdict = validate_frame(record.payload, limit=self.options.limit, path=self.rel,
                                 record=line.index, offset=line.offset)
        if verdict.ok:
            self.result.replayable += 1
        else:
            self._not_frame(line, record, verdict)
        return verdict

    def _not_frame(self, line: DumpLine, record: DlqRecord, verdict: FrameVerdict) -> None:
        codes = sorted({f.code for f in verdict.findings if f.severity is Severity.ERROR}
                       or {f.code for f in verdict.findings})
        self.add(rules.PAYLOAD_NOT_FRAME, line.index, line.offset,
                 f"payload ({verdict.frame_size} bytes, {verdict.kind.value}) is not a valid "
                 f"frame: {first_error(verdict)} [{', '.join(codes)}]; not replayable",
                 thread_id=record.thread_id, expected="a valid frame", actual=", ".join(codes),
                 details={"frame_findings": [{"code": f.code, "message": f.message}
                                             for f in verdict.findings],
                          **verdict.size_details()})

    def producer_findings(self, gaps: list[Finding] | None, log_rel: str | None) -> None:
        for side in self.producer:
            what = (f"thread {side.thread_id!r} sequence "
                    + _span(side.sequences) if side.sequences else
                    f"thread {side.thread_id!r}" if side.thread_id else "its message")
            topic = f"topic {side.topic!r}" if side.topic else "the main topic"
            message = (f"producer-side record ({side.error_type}): {what} never reached "
                       f"{topic}; it explains a sequence gap there")
            details: dict[str, Any] = {"sequences": list(side.sequences)}
            if gaps is not None and side.thread_id and side.sequences:
                hit = _gap_for(gaps, side.thread_id, side.sequences)
                if hit is not None:
                    message += f" (the gap at record {hit.record} of {log_rel})"
                    details["explains"] = {"path": hit.path, "record": hit.record,
                                           "offset": hit.offset}
                else:
                    message += f" (no such gap in {log_rel})"
            self.add(rules.PRODUCER_SIDE, side.index, side.offset, message,
                     thread_id=side.thread_id, details=details)


def _span(sequences: tuple[int, ...]) -> str:
    if len(sequences) == 1:
        return str(sequences[0])
    return f"{min(sequences)}..{max(sequences)}"


def _gap_for(gaps: list[Finding], thread_id: str, sequences: tuple[int, ...]) -> Finding | None:
    for gap in gaps:
        if gap.thread_id != thread_id:
            continue
        first, last = gap.details["missing_first"], gap.details["missing_last"]
        if any(first <= sequence <= last for sequence in sequences):
            return gap
    return None


def _located(finding: Finding, locator: KafkaLocator | None,
             partition: int | None) -> Finding:
    """A finding at a record of a topic moved to its ``kafka://`` location."""
    if locator is None or partition is None:
        return finding
    return locate(finding, locator, partition)


def _reconcile(checker: DumpChecker, against: AgainstLog) -> list[Finding]:
    """Walk the main log: report rejected records without a DLQ record; return its gaps."""
    tracker = SequenceTracker(against.rel)
    result = checker.result
    limit = against.options.limit
    log = as_source(against.path)
    locator = log.locator if isinstance(log, TopicSource) else None
    for item in source_records(log, against.input_format, against.options):
        if not isinstance(item, StreamRecord):
            # Container damage hides records from the reconciliation: say so.
            result.findings.append(problem_finding(item, against.rel))
            continue
        result.log_records += 1
        verdict = validate_frame(item.value, limit=limit, path=against.rel, record=item.index,
                                 offset=item.offset, unframed=item.unframed)
        if verdict.message is not None:
            tracker.observe(verdict.message, item.index, item.offset)
        if not consumer_rejects(verdict):
            continue
        result.log_rejected += 1
        topic = item.topic if item.topic is not None else against.topic
        partition = item.partition if item.partition is not None else against.partition
        offset = (item.kafka_offset if item.kafka_offset is not None
                  else against.first_offset + item.index)
        if checker.index.has(topic, partition, offset):
            continue
        where = ", ".join(part for part in (
            None if topic is None else f"topic {topic!r}",
            None if partition is None else f"partition {partition}", f"offset {offset}") if part)
        result.findings.append(_located(rules.DLQ_RECORD_MISSING.at(
            against.rel,
            f"record {item.index} (byte {item.offset}): {where} is rejected by the consumer "
            f"({first_error(verdict)}) but {checker.rel} has no DLQ record for it: {_DROPPED}",
            record=item.index, offset=item.offset, key=f"record {item.index}",
            expected=f"a DLQ record for {where}", actual="none",
            details={"topic": topic, "partition": partition, "kafka_offset": offset,
                     "frame_findings": sorted({f.code for f in verdict.findings})}),
            locator, item.partition))
    return [f for f in tracker.finish() if f.code == SEQUENCE_GAP.code]


def check_dump(path: Path | Source, rel: str, options: DumpOptions | None = None, *,
               against: AgainstLog | None = None,
               expired: Callable[[], bool] | None = None) -> DumpResult:
    """Every DLQ check on the dump (or DLQ topic) at ``path``; with ``against``, reconcile
    with that log (or topic).  ``expired``: a time limit (``DumpChecker.run``)."""
    checker = DumpChecker(path, rel, options or DumpOptions())
    checker.run(expired)
    gaps = None if against is None else _reconcile(checker, against)
    checker.producer_findings(gaps, None if against is None else against.rel)
    return checker.result


def check_dlq_target(target: Target, ctx: CheckContext) -> Iterator[Finding]:
    """The ``dlq-dump`` input kind's check for ``dashfix verify``."""
    options = DumpOptions(limit=ctx.options.limit_bytes,
                          max_line_bytes=ctx.options.max_line_bytes)
    result = check_dump(target.path, target.rel, options, expired=ctx.selection.deadline())
    if not result.complete:
        ctx.selection.stopped(target.rel, f"the first {result.records} record(s)")
    ctx.stats["dumps"] += 1
    ctx.stats["records"] += result.records
    yield from result.findings


DLQ_DUMP_KIND = InputKind(
    name="dlq-dump",
    check=check_dlq_target,
    sniff_file=sniff_dlq_file,
    description="DashFlow DLQ dump: JSON lines in the library or websocket-server shape",
)
