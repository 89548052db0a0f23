"""Validate one record value as a DashStream codec frame (spec section 9, general checks).

``validate_frame`` is the single entry point used for stream logs, DLQ payloads and
replay: it applies the size cap first, triages the flag byte, decompresses through the
zstd guard, parses with the protobuf runtime and checks the header invariants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashfix.checks.stream.scan import SIZE_RULES_FROM
from dashfix.checks.stream.sequences import (
    COMPRESSION_ZSTD,
    MESSAGE_ID_BYTES,
    ONEOF_NUMBERS,
)
from dashfix.context import CONSUMER_LIMIT, SERVER_LIMIT
from dashfix.findings import Finding, Rule, Severity
from dashfix.formats.frame import (
    COMPRESSION_THRESHOLD,
    FrameKind,
    WireFault,
    WireProblem,
    ZstdFault,
    ZstdProblem,
    classify,
    guarded_decompress,
    parse_message,
    single_field_message,
    top_level_fields,
)
from dashfix.rules import stream as rules

MESSAGE_TYPE_EVENT_BATCH = 8
SCHEMA_VERSIONS = (0, 1)
PROFILES = {"consumer": CONSUMER_LIMIT, "server": SERVER_LIMIT}

_ZSTD_RULES = {
    ZstdFault.BAD_MAGIC: rules.ZSTD_BAD_MAGIC,
    ZstdFault.NO_CONTENT_SIZE: rules.ZSTD_NO_CONTENT_SIZE,
    ZstdFault.DECLARED_OVERSIZE: rules.ZSTD_DECLARED_OVERSIZE,
    ZstdFault.TRAILING_DATA: rules.ZSTD_TRAILING_DATA,
    ZstdFault.CORRUPT: rules.ZSTD_CORRUPT,
}
_WIRE_RULES = {
    WireFault.VARINT_TOO_LONG: rules.VARINT_TOO_LONG,
    WireFault.TOO_DEEP: rules.NESTING_TOO_DEEP,
    WireFault.TRUNCATED: rules.PROTOBUF_INVALID,
    WireFault.BAD_WIRE_TYPE: rules.PROTOBUF_INVALID,
    WireFault.INVALID: rules.PROTOBUF_INVALID,
}


def fits(frame_size: int, decompressed_size: int | None, limit: int, *, unframed: bool) -> bool:
    """Would a DashFlow decoder with cap ``limit`` accept these sizes?"""
    frame_cap = limit if unframed else limit + 1
    return frame_size <= frame_cap and (decompressed_size is None or decompressed_size <= limit)


@dataclass(slots=True)
class FrameVerdict:
    kind: FrameKind
    frame_size: int
    """Bytes of the record value (flag byte included)."""
    unframed: bool = False
    compressed_size: int | None = None
    """Bytes of the zstd data, for compressed frames."""
    decompressed_size: int | None = None
    """Bytes of the protobuf message (after decompression when compressed)."""
    declared_size: int | None = None
    message: Any = None
    """The parsed DashStreamMessage, or None when it could not be decoded."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Decoded, and nothing at error severity."""
        return self.message is not None and not any(
            f.severity is Severity.ERROR for f in self.findings
        )

    def profiles(self) -> dict[str, bool]:
        """Whether the consumer (1 MiB) and server (10 MiB) decoders accept this frame."""
        size = self.decompressed_size if self.declared_size is None else self.declared_size
        return {
            name: fits(self.frame_size, size, limit, unframed=self.unframed)
            for name, limit in PROFILES.items()
        }

    def size_details(self) -> dict[str, Any]:
        return {
            "frame_kind": self.kind.value,
            "frame_bytes": self.frame_size,
            "compressed_bytes": self.compressed_size,
            "decompressed_bytes": self.decompressed_size,
            "declared_bytes": self.declared_size,
            "fits": self.profiles(),
        }


class _Reporter:
    """Builds findings located at one record, with the frame's sizes in the details."""

    __slots__ = ("offset", "path", "record", "verdict")

    def __init__(self, verdict: FrameVerdict, path: str, record: int, offset: int) -> None:
        self.verdict = verdict
        self.path = path
        self.record = record
        self.offset = offset

    def add(self, rule: Rule, message: str, *, at: int = 0, thread_id: str | None = None,
            expected: Any = None, actual: Any = None) -> None:
        self.verdict.findings.append(
            rule.at(
                self.path, f"record {self.record} (byte {self.offset + at}): {message}",
                record=self.record, offset=self.offset + at, thread_id=thread_id,
                expected=expected, actual=actual, key=f"record {self.record}",
                details=self.verdict.size_details(),
            )
        )


def validate_frame(
    value: bytes | None,
    *,
    limit: int,
    path: str,
    record: int,
    offset: int,
    unframed: bool = False,
) -> FrameVerdict:
    """Check one record value; never raises on any input.

    ``unframed`` marks containers that store bare protobuf by design (file and SQLite
    backends): legacy protobuf is expected there, not a finding.
    """
    size = 0 if value is None else len(value)
    if value is None:
        kind = FrameKind.EMPTY
    elif size and value[0] == 0:  # the common case, ahead of the general classify()
        kind = FrameKind.UNCOMPRESSED
    else:
        kind = classify(value)
    verdict = FrameVerdict(kind, size, unframed)
    report = _Reporter(verdict, path, record, offset)
    if not value:
        report.add(rules.NULL_RECORD, "record has no value" if value is None else
                   "record value is empty (0 bytes)")
        return verdict
    frame_cap = limit if unframed else limit + 1
    if size > frame_cap:
        report.add(rules.FRAME_OVERSIZE,
                   f"value of {size} bytes is over the {frame_cap}-byte cap; not decoded",
                   expected=f"<= {frame_cap} bytes", actual=f"{size} bytes")
        return verdict
    body = _body(value, kind, limit, report)
    if body is None:
        return verdict
    verdict.decompressed_size = len(body)
    parsed = parse_message(body)
    if isinstance(parsed, WireProblem):
        if kind is FrameKind.UNCOMPRESSED or kind is FrameKind.LEGACY_PROTOBUF:
            report.add(_WIRE_RULES[parsed.fault], parsed.message,
                       at=parsed.offset + (1 if kind is FrameKind.UNCOMPRESSED else 0))
        else:  # a position inside decompressed bytes is no file offset
            report.add(_WIRE_RULES[parsed.fault],
                       f"{parsed.message} (byte {parsed.offset} of the decompressed message)")
        return verdict
    verdict.message = parsed
    if size > SIZE_RULES_FROM or len(body) > SIZE_RULES_FROM:
        _check_sizes(verdict, report)
    _check_message(parsed, body, kind, report)
    return verdict


def _body(value: bytes, kind: FrameKind, limit: int, report: _Reporter) -> bytes | None:
    verdict = report.verdict
    if kind is FrameKind.UNCOMPRESSED:
        return value[1:]
    if kind is FrameKind.ZSTD:
        return _decompress(value[1:], 1, limit, report)
    if kind is FrameKind.LEGACY_PROTOBUF:
        if not verdict.unframed:
            report.add(rules.LEGACY_FRAME,
                       f"value starts with 0x{value[0]:02x}: bare protobuf without a flag byte",
                       expected="0x00 or 0x01", actual=f"0x{value[0]:02x}")
        return value
    if kind is FrameKind.LEGACY_ZSTD:
        report.add(rules.LEGACY_ZSTD, "value is a raw zstd frame without a flag byte")
        return _decompress(value, 0, limit, report)
    if kind is FrameKind.JSON:
        report.add(rules.JSON_NOT_FRAME, f"value starts with {chr(value[0])!r}: JSON text",
                   expected="0x00 or 0x01", actual=f"0x{value[0]:02x}")
        return None
    report.add(rules.INVALID_FLAG,
               f"first byte 0x{value[0]:02x} is neither a frame flag nor a protobuf tag",
               expected="0x00 or 0x01", actual=f"0x{value[0]:02x}")
    return None


def _decompress(data: bytes, at: int, limit: int, report: _Reporter) -> bytes | None:
    verdict = report.verdict
    verdict.compressed_size = len(data)
    out = guarded_decompress(data, limit)
    if isinstance(out, ZstdProblem):
        if out.fault is ZstdFault.DECLARED_OVERSIZE and out.actual is not None:
            verdict.declared_size = int(out.actual)
        report.add(_ZSTD_RULES[out.fault], out.message, at=at + out.offset,
                   expected=out.expected, actual=out.actual)
        return None
    if len(data) >= len(out):
        report.add(rules.ZSTD_NOT_SMALLER,
                   f"compressed {len(data)} bytes for {len(out)} bytes of content",
                   expected=f"< {len(out)} bytes", actual=f"{len(data)} bytes")
    if len(out) <= COMPRESSION_THRESHOLD:
        report.add(rules.ZSTD_BELOW_THRESHOLD,
                   f"compressed message is only {len(out)} bytes (threshold "
                   f"{COMPRESSION_THRESHOLD})", expected=f"> {COMPRESSION_THRESHOLD} bytes",
                   actual=f"{len(out)} bytes")
    return out


def _check_sizes(verdict: FrameVerdict, report: _Reporter) -> None:
    fit = verdict.profiles()
    if fit["server"] and not fit["consumer"]:
        report.add(rules.CAP_MISMATCH,
                   f"{verdict.frame_size}-byte frame ({verdict.decompressed_size} bytes decoded) "
                   "passes the 10 MiB server cap but fails the 1 MiB consumer cap",
                   expected=f"<= {CONSUMER_LIMIT} bytes", actual=f"{verdict.decompressed_size}")
    if verdict.kind in (FrameKind.ZSTD, FrameKind.LEGACY_ZSTD):
        message = verdict.message
        inner = len(message.event_batch.events) if message.HasField("event_batch") else 0
        margin = 2 * (inner + 1)
        size = verdict.decompressed_size or 0
        if CONSUMER_LIMIT - margin < size <= CONSUMER_LIMIT + margin:
            report.add(rules.NEAR_PRODUCER_CAP,
                       f"compressed message decodes to {size} bytes, within {margin} bytes of the "
                       f"{CONSUMER_LIMIT}-byte producer cap ({inner} inner events)",
                       expected=f"<= {CONSUMER_LIMIT - margin} bytes", actual=f"{size} bytes")


def _check_message(message: Any, body: bytes, kind: FrameKind, report: _Reporter) -> None:
    which = message.WhichOneof("message")
    if which is None:
        report.add(rules.EMPTY_MESSAGE, "message has no payload (no oneof field set)")
        return
    if not single_field_message(body):
        numbers = [number for number, _ in top_level_fields(body)]
        report.add(rules.MULTIPLE_PAYLOADS,
                   f"message has top-level fields {numbers}; decoders keep only the last "
                   f"payload ({which})", expected="one field", actual=str(numbers))
    payload = getattr(message, which)
    if not payload.HasField("header"):
        report.add(rules.HEADER_MISSING, f"{which} message has no header")
        return
    header = payload.header
    number = ONEOF_NUMBERS[which]
    compressed = kind is FrameKind.ZSTD or kind is FrameKind.LEGACY_ZSTD
    if header.type != number:
        report.add(rules.TYPE_MISMATCH, f"header type {header.type} but payload is {which}",
                   thread_id=header.thread_id or None, expected=number, actual=header.type)
    if _header_suspect(header, compressed):
        _check_header(header, compressed, report, which)
    if number == MESSAGE_TYPE_EVENT_BATCH:
        _check_batch(payload, compressed, report)


def _header_suspect(header: Any, compressed: bool) -> bool:
    """One cheap test per header on the hot path; ``_check_header`` then says what is wrong."""
    return (
        header.schema_version > 1
        or (header.compression == COMPRESSION_ZSTD) is not compressed
        or len(header.message_id) != MESSAGE_ID_BYTES
        or not header.thread_id
    )


def _check_header(header: Any, compressed: bool, report: _Reporter, what: str) -> None:
    thread_id = header.thread_id or None
    if header.schema_version not in SCHEMA_VERSIONS:
        report.add(rules.SCHEMA_VERSION, f"{what} has schema_version {header.schema_version}",
                   thread_id=thread_id, expected="0 or 1", actual=header.schema_version)
    if (header.compression == COMPRESSION_ZSTD) != compressed:
        report.add(rules.COMPRESSION_FLAG_MISMATCH,
                   f"{what} header says compression {header.compression} in a "
                   f"{'0x01' if compressed else 'uncompressed'} frame", thread_id=thread_id,
                   expected=COMPRESSION_ZSTD if compressed else 0, actual=header.compression)
    if len(header.message_id) != MESSAGE_ID_BYTES:
        report.add(rules.MESSAGE_ID_LENGTH,
                   f"{what} message_id is {len(header.message_id)} bytes", thread_id=thread_id,
                   expected=f"{MESSAGE_ID_BYTES} bytes", actual=f"{len(header.message_id)} bytes")
    if not header.thread_id:
        report.add(rules.THREAD_ID_EMPTY, f"{what} header has an empty thread_id")


def _check_batch(batch: Any, compressed: bool, report: _Reporter) -> None:
    header = batch.header
    thread_id = header.thread_id or None
    if header.sequence != 0 or header.type != MESSAGE_TYPE_EVENT_BATCH:
        report.add(rules.BATCH_HEADER,
                   f"batch header has sequence {header.sequence} and type {header.type}",
                   thread_id=thread_id, expected="sequence 0, type 8",
                   actual=f"sequence {header.sequence}, type {header.type}")
    for position, event in enumerate(batch.events):
        inner = event.header  # an unset header reads as an empty one: sequence 0
        if inner.sequence == 0:
            if not event.HasField("header"):
                report.add(rules.BATCH_INNER_EVENT, f"inner event {position} has no header",
                           thread_id=thread_id)
                continue
            report.add(rules.BATCH_INNER_EVENT, f"inner event {position} has sequence 0",
                       thread_id=thread_id, expected="> 0", actual=0)
        if _header_suspect(inner, compressed):
            _check_header(inner, compressed, report, f"inner event {position}")
