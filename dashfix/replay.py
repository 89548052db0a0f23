"""Replay: re-emit the valid records of a stream log or DLQ dump into a new log.

Every record goes through ``validate_frame`` first; invalid ones are skipped and listed
with the reason.  Filters (thread, time window, message/event types) select what is
written; ``reframe`` turns legacy records into current frames.  The input is only read;
the output appears atomically (see ``dashfix.repair.replay``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from dashfix.checks.dlq import DumpChecker
from dashfix.checks.stream.frame import FrameVerdict, validate_frame
from dashfix.checks.stream.log import problem_finding
from dashfix.checks.stream.scan import scan_record
from dashfix.checks.stream.sequences import ONEOF_NUMBERS
from dashfix.errors import InputError, UsageError
from dashfix.findings import Finding, Severity
from dashfix.formats.dlq import DlqRecord
from dashfix.formats.frame import FLAG_UNCOMPRESSED, FLAG_ZSTD, FrameKind, guarded_decompress
from dashfix.formats.proto import dashstream_pb2
from dashfix.formats.reframe import bare_protobuf, encode_frame
from dashfix.inputs.dlq import DumpOptions, dump_lines
from dashfix.inputs.kafka import DEFAULT_TIMEOUT_SECONDS, SCHEME, parse_kafka_url
from dashfix.inputs.sources import FileSource, Source, TopicSource, as_source, source_records
from dashfix.inputs.streams import ProblemKind, ReadOptions, RecordProblem
from dashfix.repair.replay import (
    OUTPUT_FORMATS,
    Destination,
    OutputFormat,
    check_output,
    open_writer,
)

_EVENT_TYPE_PREFIX = "EVENT_TYPE_"
EVENT_TYPE_NAMES: dict[int, str] = {
    value.number: value.name.removeprefix(_EVENT_TYPE_PREFIX).lower()
    for value in dashstream_pb2.DashStreamMessage.DESCRIPTOR.file.enum_types_by_name[
        "EventType"].values
    if value.number
}
"""Event type number -> short name (node_start, graph_end, ...)."""
TYPE_NAMES = frozenset(ONEOF_NUMBERS) | frozenset(EVENT_TYPE_NAMES.values())
"""Accepted --types: payload kinds (event, state_diff, ...) and event types (node_start, ...)."""


def parse_time(text: str) -> int:
    """Microseconds since the epoch from an integer or an ISO-8601 time (naive = UTC)."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise UsageError(f"not a time: {text!r} (use ISO-8601 such as 2026-01-01T12:00:00Z, "
                         "or integer microseconds)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_types(values: Iterable[str]) -> frozenset[str]:
    names = frozenset(part.strip().lower() for value in values
                      for part in value.split(",") if part.strip())
    unknown = sorted(names - TYPE_NAMES)
    if unknown:
        raise UsageError(f"unknown --types {', '.join(unknown)}; use payload kinds "
                         f"({', '.join(ONEOF_NUMBERS)}) or event types (node_start, ...)")
    return names


@dataclass(frozen=True)
class ReplayFilters:
    threads: frozenset[str] = frozenset()
    since_us: int | None = None
    """Keep records whose header time is at or after this."""
    until_us: int | None = None
    """Keep records whose header time is before this."""
    types: frozenset[str] = frozenset()

    def accepts_header(self, thread_id: str, timestamp_us: int) -> bool:
        """The thread and time filters, on the payload header's fields."""
        if self.threads and thread_id not in self.threads:
            return False
        if self.since_us is not None and timestamp_us < self.since_us:
            return False
        return self.until_us is None or timestamp_us < self.until_us

    def accepts(self, message: Any) -> bool:
        which = message.WhichOneof("message")
        payload = getattr(message, which)
        header = payload.header
        if not self.accepts_header(header.thread_id, header.timestamp_us):
            return False
        if not self.types or which in self.types:
            return True
        events = payload.events if which == "event_batch" else (
            [payload] if which == "event" else [])
        return any(EVENT_TYPE_NAMES.get(e.event_type) in self.types for e in events)


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    record: int
    offset: int
    reason: str
    codes: tuple[str, ...] = ()
    partition: int | None = None
    """For a Kafka topic: the record's partition (``record`` is then its Kafka offset)."""

    def to_dict(self) -> dict[str, Any]:
        where = {} if self.partition is None else {"partition": self.partition}
        return {"record": self.record, "offset": self.offset, **where,
                "reason": self.reason, "codes": list(self.codes)}


@dataclass
class ReplayReport:
    source: str
    output: str
    to_format: str
    read: int = 0
    written: int = 0
    filtered: int = 0
    reframed: int = 0
    """Legacy records rewritten into current frames (``--reframe``)."""
    converted: int = 0
    """Records whose container form changed (framed <-> bare protobuf for the file backend)."""
    skipped: list[SkippedRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, "to_format": self.to_format,
                "read": self.read, "written": self.written, "filtered": self.filtered,
                "reframed": self.reframed, "converted": self.converted,
                "skipped": [s.to_dict() for s in self.skipped]}


@dataclass(frozen=True, slots=True)
class _Candidate:
    record: int
    offset: int
    value: bytes | None
    unframed: bool
    timestamp_us: int | None = None
    verdict: FrameVerdict | None = None
    partition: int | None = None


def _skip_from(findings: list[Finding], record: int, offset: int,
               partition: int | None = None) -> SkippedRecord:
    worst = max(findings, key=lambda f: f.severity.rank)
    return SkippedRecord(record, offset, worst.message.split(": ", 1)[-1],
                         tuple(sorted({f.code for f in findings})), partition)


class _Replayer:
    def __init__(self, report: ReplayReport, to_format: OutputFormat, filters: ReplayFilters,
                 reframe: bool, limit: int, rel: str, timeout: float,
                 kafka_properties: Mapping[str, str]) -> None:
        self.report = report
        self.timeout = timeout
        self.kafka_properties = kafka_properties
        self.to_format = to_format
        self.filters = filters
        self.reframe = reframe
        self.limit = limit
        self.rel = rel

    def run(self, out: Destination, items: Iterator[_Candidate | SkippedRecord]) -> None:
        with open_writer(out, self.to_format, timeout=self.timeout,
                         kafka_properties=self.kafka_properties) as writer:
            for item in items:
                self.report.read += 1
                if isinstance(item, SkippedRecord):
                    self.report.skipped.append(item)
                    continue
                converted = self.convert(item)
                if converted is not None:
                    writer.write(*converted)
                    self.report.written += 1

    def convert(self, item: _Candidate) -> tuple[bytes, int, bytes] | None:
        """The record's output value, timestamp and key (its thread_id), or None when it
        is skipped or filtered out."""
        if item.verdict is None and not self.filters.types:
            copied = self._copy_healthy(item)
            if copied is not False:
                return copied
        verdict = item.verdict or validate_frame(
            item.value, limit=self.limit, path=self.rel, record=item.record, offset=item.offset,
            unframed=item.unframed)
        if not verdict.ok or item.value is None:
            # A rejected verdict always carries the finding that rejected it.
            errors = [f for f in verdict.findings if f.severity is Severity.ERROR]
            self.report.skipped.append(
                _skip_from(errors or verdict.findings, item.record, item.offset,
                           item.partition))
            return None
        message = verdict.message
        if not self.filters.accepts(message):
            self.report.filtered += 1
            return None
        header = getattr(message, message.WhichOneof("message")).header
        stamp = header.timestamp_us if item.timestamp_us is None else item.timestamp_us
        return self.output_value(item.value, verdict), stamp, header.thread_id.encode()

    def _copy_healthy(self, item: _Candidate) -> tuple[bytes, int, bytes] | Literal[False] | None:
        """``convert`` without decoding, for a record the hot path of ``stream validate``
        finds healthy (``scan_record``) and whose output is its bytes as they are, or
        without their 0x00 flag byte for the file backend; False: not such a record."""
        value = item.value
        if not value:
            return False
        # Settled from the flag byte first, so a record that must be decoded anyway is
        # not scanned too.
        flag = value[0]
        if self.to_format.framed:
            if flag not in (FLAG_UNCOMPRESSED, FLAG_ZSTD):
                return False  # bare protobuf gets a frame
        elif flag == FLAG_ZSTD:
            return False  # decompressed, and its headers' compression reset
        scanned = scan_record(value, self.limit, item.unframed)
        if scanned is None:
            return False
        thread_id = scanned[1]
        header_us = scanned[3] if len(scanned) == 6 else scanned[2]  # a Single's is its own
        if not self.filters.accepts_header(thread_id, header_us):
            self.report.filtered += 1
            return None
        if not self.to_format.framed and flag == FLAG_UNCOMPRESSED:
            value = value[1:]  # the file backend stores bare protobuf
            self.report.converted += 1
        stamp = header_us if item.timestamp_us is None else item.timestamp_us
        return value, stamp, thread_id.encode()

    def output_value(self, value: bytes, verdict: FrameVerdict) -> bytes:
        kind = verdict.kind
        message = verdict.message
        framed = kind in (FrameKind.UNCOMPRESSED, FrameKind.ZSTD)
        if self.to_format.framed:
            if framed:
                return value
            if verdict.unframed or self.reframe:
                if verdict.unframed:
                    self.report.converted += 1
                else:
                    self.report.reframed += 1
                return encode_frame(message, self._body(value, kind))
            return value
        bare = bare_protobuf(message, self._body(value, kind))
        if bare != value:
            self.report.converted += 1
        return bare

    def _body(self, value: bytes, kind: FrameKind) -> bytes:
        """The protobuf bytes of a record that ``validate_frame`` already accepted."""
        if kind is FrameKind.UNCOMPRESSED:
            return value[1:]
        if kind is FrameKind.LEGACY_PROTOBUF:
            return value
        body = guarded_decompress(value[1:] if kind is FrameKind.ZSTD else value, self.limit)
        assert isinstance(body, bytes), "validate_frame accepted this frame"
        return body


def _stream_items(source: Source, input_format: str | None, options: ReadOptions,
                  rel: str) -> Iterator[_Candidate | SkippedRecord]:
    for item in source_records(source, input_format, options):
        if isinstance(item, RecordProblem):
            if item.kind is ProblemKind.UNREADABLE:
                raise InputError(f"{source.root}: {item.message}")
            yield _skip_from([problem_finding(item, rel)], item.index, item.offset)
            continue
        yield _Candidate(item.index, item.offset, item.value, item.unframed, item.timestamp_us,
                         partition=item.partition)


def _dlq_items(source: Source, options: DumpOptions,
               rel: str) -> Iterator[_Candidate | SkippedRecord]:
    checker = DumpChecker(source, rel, options)
    findings = checker.result.findings
    try:
        for line in dump_lines(source, options):
            before = len(findings)
            verdict = checker.line(line)
            item = line.item
            if verdict is None or not isinstance(item, DlqRecord):
                # The checker reports every reason a line is not replayable.
                yield _skip_from(findings[before:], line.index, line.offset, line.partition)
                continue
            yield _Candidate(line.index, line.offset, item.payload, False, verdict=verdict,
                             partition=line.partition)
    except OSError as exc:
        raise InputError(f"cannot read DLQ dump {source.root}: {exc.strerror or exc}") from exc


def _replayer(source: Source, out: str | Path, to_format: str | None, reframe: bool,
              filters: ReplayFilters | None, limit: int, timeout: float,
              kafka_properties: Mapping[str, str]) -> tuple[_Replayer, Destination]:
    """Check the request; the replayer and where it writes.  ``to_format`` None: Kafka
    for a ``kafka://`` output, else a kcat capture."""
    text = str(out)
    name = to_format or ("kafka" if text.startswith(SCHEME) else "kcat")
    try:
        fmt = OutputFormat(name)
    except ValueError:
        raise UsageError(f"--to-format must be one of {', '.join(OUTPUT_FORMATS)}, "
                         f"not {name!r}") from None
    if reframe and not fmt.framed:
        raise UsageError("--reframe applies to kcat, frames and kafka output; the file "
                         "backend (jsonl) stores bare protobuf without a flag byte")
    if isinstance(source, FileSource) and not source.path.exists():
        raise InputError(f"{str(source.path)!r} does not exist")
    destination: Destination
    if fmt is OutputFormat.KAFKA:
        destination = parse_kafka_url(text)
        if isinstance(source, TopicSource) and source.locator == destination:
            raise UsageError(f"--to {text!r} is the input topic itself; replay never "
                             "changes its input")
    elif text.startswith(SCHEME):
        raise UsageError(f"--to {text!r} is a Kafka topic, but --to-format is {fmt.value}")
    else:
        destination = Path(out)
        check_output(source.path if isinstance(source, FileSource) else None, destination, fmt)
    report = ReplayReport(source.root, str(destination), fmt.value)
    replayer = _Replayer(report, fmt, filters or ReplayFilters(), reframe, limit, source.name,
                         timeout, kafka_properties)
    return replayer, destination



def replay_stream(source: Path | Source, out: str | Path, *, to_format: str | None = None,
                  filters: ReplayFilters | None = None, reframe: bool = False,
                  input_format: str | None = None, options: ReadOptions | None = None,
                  timeout: float = DEFAULT_TIMEOUT_SECONDS,
                  kafka_properties: Mapping[str, str] | None = None) -> ReplayReport:
    """Write the valid records of the stream log or topic ``source`` to ``out`` (a path,
    or ``kafka://HOST:PORT/TOPIC``), in log order (a topic: partition after partition)."""
    options = options or ReadOptions()
    read_from = as_source(source)
    replayer, destination = _replayer(read_from, out, to_format, reframe, filters,
                                      options.limit, timeout, kafka_properties or {})
    replayer.run(destination, _stream_items(read_from, input_format, options, replayer.rel))
    return replayer.report


def replay_dlq(dump: Path | Source, out: str | Path, *, to_format: str | None = None,
               filters: ReplayFilters | None = None, reframe: bool = False,
               options: DumpOptions | None = None,
               timeout: float = DEFAULT_TIMEOUT_SECONDS,
               kafka_properties: Mapping[str, str] | None = None) -> ReplayReport:
    """Write the full, valid payloads of the DLQ dump or topic ``dump`` to ``out`` (once
    per trace_id)."""
    options = options or DumpOptions()
    source = as_source(dump)
    replayer, destination = _replayer(source, out, to_format, reframe, filters, options.limit,
                                      timeout, kafka_properties or {})
    replayer.run(destination, _dlq_items(source, options, replayer.rel))
    return replayer.report
