"""DashFlow dead-letter records: one JSON line -> a typed record, or what is wrong with it.

Two shapes exist (spec 4.2, 4.3): the library ``DlqMessage`` (``source_topic``,
``source_partition``, ``source_offset``, payload truncated to 512 KiB with size/hash
fields) and the websocket server's record (``kafka_partition``, ``kafka_offset``,
``payload_sha256`` of the full value, payload only when full payloads are enabled).
Pure bytes -> values: the base64 length is checked against the caller's cap before
anything is decoded.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from dashfix.formats.filelog import base64_cap

LIBRARY_INCLUDED_BYTES = 524_288
"""DashFlow keeps at most this many payload bytes in a library DLQ record."""
PRODUCER_SIDE = -1
"""source_partition/source_offset of records written by the producer (never reached Kafka)."""


class DlqShape(StrEnum):
    LIBRARY = "library"
    WEBSOCKET = "websocket"


class DlqFault(StrEnum):
    NOT_UTF8 = "not-utf8"
    NOT_JSON = "not-json"
    BAD_FIELDS = "bad-fields"
    BAD_BASE64 = "bad-base64"
    OVERSIZE = "oversize"


@dataclass(frozen=True, slots=True)
class DlqProblem:
    fault: DlqFault
    message: str
    column: int = 0
    """Byte position inside the line."""
    expected: str | None = None
    actual: str | None = None


@dataclass(frozen=True, slots=True)
class DlqRecord:
    shape: DlqShape
    trace_id: str
    error: str
    error_type: str
    timestamp: str
    topic: str | None
    """``source_topic`` (library); the websocket shape does not name its topic."""
    partition: int
    offset: int
    payload: bytes | None
    """The decoded payload: the whole record value, a prefix of it when ``truncated``, or
    None when the websocket server omitted it."""
    truncated: bool
    full_size: int | None
    """Size of the whole record value, when the record states it."""
    included_size: int | None
    """``original_payload_included_bytes`` of a truncated library record."""
    sha256: str | None
    """Hex SHA-256 of the whole record value, when the record states it."""
    thread_id: str | None = None
    tenant_id: str | None = None
    key: str | None = None
    """The Kafka key printed before the JSON (``print.key=true``), if any."""

    @property
    def producer_side(self) -> bool:
        return self.partition == PRODUCER_SIDE and self.offset == PRODUCER_SIDE


@dataclass(frozen=True, slots=True)
class Inconsistency:
    """A contradiction between a record's payload and its size/hash fields."""

    message: str
    expected: str | None = None
    actual: str | None = None
    sha256: bool = False
    """True when the full payload's hash differs (as opposed to sizes or flags)."""


_LIBRARY_MARKERS = ("source_topic", "source_partition", "source_offset", "consumer_id")
_WEBSOCKET_MARKERS = ("kafka_offset", "kafka_partition", "payload_sha256", "first_bytes_hex")
_DLQ_KEYS = ("original_payload_base64", *_LIBRARY_MARKERS, *_WEBSOCKET_MARKERS)
SNIFF_MARKERS = tuple(
    marker for key in _DLQ_KEYS for marker in (f'"{key}"'.encode(), f'\\"{key}\\"'.encode())
)
"""Keys whose presence in a JSON line says "DLQ record" (used by discovery); the escaped
form finds them inside a kcat -J envelope's payload string."""


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(
        c in "0123456789abcdefABCDEF" for c in value)


_TYPE_NAMES: dict[Callable[[Any], bool], str] = {
    _is_int: "an integer", _is_str: "a string", _is_bool: "a boolean",
    _is_hex64: "64 hex digits",
}
_Field = tuple[str, Callable[[Any], bool], bool]
"""(key, type test, required)"""

_LIBRARY_FIELDS: tuple[_Field, ...] = (
    ("original_payload_base64", _is_str, True),
    ("original_payload_size_bytes", _is_int, False),
    ("original_payload_included_bytes", _is_int, False),
    ("original_payload_truncated", _is_bool, False),
    ("original_payload_sha256", _is_hex64, False),
    ("error", _is_str, True), ("source_topic", _is_str, True),
    ("source_partition", _is_int, True), ("source_offset", _is_int, True),
    ("timestamp", _is_str, True), ("consumer_id", _is_str, True),
    ("thread_id", _is_str, False), ("tenant_id", _is_str, False),
    ("error_type", _is_str, True), ("trace_id", _is_str, True),
    ("node_id", _is_str, False), ("parent_trace_id", _is_str, False),
    ("span_id", _is_str, False),
)
_WEBSOCKET_FIELDS: tuple[_Field, ...] = (
    ("trace_id", _is_str, True), ("timestamp", _is_str, True), ("error", _is_str, True),
    ("error_type", _is_str, True), ("payload_sha256", _is_hex64, True),
    ("original_payload_base64", _is_str, False), ("payload_truncation_note", _is_str, False),
    ("message_size", _is_int, True), ("first_bytes_hex", _is_str, False),
    ("last_bytes_hex", _is_str, False), ("kafka_partition", _is_int, True),
    ("kafka_offset", _is_int, True), ("message_count", _is_int, False),
    ("thread_id", _is_str, False), ("tenant_id", _is_str, False),
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def shape_of(document: dict[str, Any]) -> DlqShape:
    """Websocket only when its keys say so; anything else is judged as the library shape."""
    if any(key in document for key in _LIBRARY_MARKERS):
        return DlqShape.LIBRARY
    if any(key in document for key in _WEBSOCKET_MARKERS):
        return DlqShape.WEBSOCKET
    return DlqShape.LIBRARY


def field_problems(document: dict[str, Any], shape: DlqShape) -> list[str]:
    """Every missing required key and every key of the wrong type (null counts as absent
    for optional keys: serde omits them, serde_json::json! writes null)."""
    problems = []
    for key, test, required in _LIBRARY_FIELDS if shape is DlqShape.LIBRARY else (
            _WEBSOCKET_FIELDS):
        value = document.get(key)
        if value is None:
            if required:
                problems.append(f"{key!r} is missing" if key not in document
                                else f"{key!r} is null, must be {_TYPE_NAMES[test]}")
            continue
        if not test(value):
            problems.append(f"{key!r} must be {_TYPE_NAMES[test]}, found {_json_type(value)}"
                            + (f" {value!r}" if _is_int(value) else ""))
    return problems


def _split_key(line: bytes) -> tuple[str | None, bytes]:
    """``<key>\\t{...}`` as written with ``print.key=true``; the key is never JSON."""
    if line[:1] == b"{":
        return None, line
    tab = line.find(b"\t{")
    if tab <= 0 or b"{" in line[:tab] or b'"' in line[:tab]:
        return None, line
    try:
        return line[:tab].decode("utf-8"), line[tab + 1:]
    except UnicodeDecodeError:
        return None, line


_ENVELOPE_KEYS = ("topic", "partition", "offset", "payload")


def _is_kcat_envelope(document: Any) -> bool:
    """``kcat -J`` wraps each record: the DLQ JSON is the string in ``payload``."""
    return (isinstance(document, dict) and all(k in document for k in _ENVELOPE_KEYS)
            and isinstance(document["payload"], str)
            and not any(k in document for k in _DLQ_KEYS))


def parse_line(line: bytes, *, payload_cap: int) -> DlqRecord | DlqProblem:
    """One dump line (without its newline). ``payload_cap``: the largest payload, in bytes,
    that will be decoded; longer base64 text is reported, never decoded."""
    key, body = _split_key(line)
    shift = len(line) - len(body)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as bad:
            return DlqProblem(DlqFault.NOT_UTF8, f"line is not UTF-8 text: {bad.reason}",
                              shift + bad.start)
        return DlqProblem(DlqFault.NOT_JSON, f"line is not JSON: {exc.msg}", shift + exc.pos)
    if _is_kcat_envelope(document):
        key = document["key"] if isinstance(document.get("key"), str) else key
        try:
            document = orjson.loads(document["payload"])
        except orjson.JSONDecodeError as exc:
            return DlqProblem(DlqFault.NOT_JSON,
                              f"payload of the kcat -J envelope is not JSON: {exc.msg}", shift)
    if not isinstance(document, dict):
        return DlqProblem(DlqFault.NOT_JSON,
                          f"line is a JSON {_json_type(document)}, not an object", shift,
                          expected="object", actual=_json_type(document))
    shape = shape_of(document)
    problems = field_problems(document, shape)
    if problems:
        return DlqProblem(DlqFault.BAD_FIELDS, f"{shape.value} DLQ record: " + "; ".join(problems),
                          shift)
    payload = _payload(document.get("original_payload_base64"), payload_cap)
    if isinstance(payload, DlqProblem):
        return payload
    if shape is DlqShape.LIBRARY:
        truncated = document.get("original_payload_truncated") is True
        return DlqRecord(
            shape, document["trace_id"], document["error"], document["error_type"],
            document["timestamp"], document["source_topic"], document["source_partition"],
            document["source_offset"], payload, truncated,
            document.get("original_payload_size_bytes"),
            document.get("original_payload_included_bytes"),
            _lower(document.get("original_payload_sha256")),
            document.get("thread_id"), document.get("tenant_id"), key,
        )
    return DlqRecord(
        shape, document["trace_id"], document["error"], document["error_type"],
        document["timestamp"], None, document["kafka_partition"], document["kafka_offset"],
        payload, False, document["message_size"], None, _lower(document["payload_sha256"]),
        document.get("thread_id"), document.get("tenant_id"), key,
    )


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _payload(text: str | None, cap: int) -> bytes | DlqProblem | None:
    if text is None:
        return None
    limit = base64_cap(cap)
    if len(text) > limit:
        return DlqProblem(
            DlqFault.OVERSIZE,
            f"original_payload_base64 holds {len(text)} characters, more than the {limit} a "
            f"{cap}-byte payload can need; not decoded",
            expected=f"<= {limit} characters", actual=f"{len(text)} characters",
        )
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        return DlqProblem(DlqFault.BAD_BASE64,
                          f"original_payload_base64 is not valid base64: {exc}")


_TRUNCATION_KEYS = {"size": "original_payload_size_bytes",
                    "included": "original_payload_included_bytes",
                    "sha256": "original_payload_sha256"}


def inconsistencies(record: DlqRecord) -> list[Inconsistency]:
    """Size and hash rules: what the payload contradicts in its own record.

    A truncated payload is a prefix: its hash is never compared (it covers bytes that are
    not there), only its sizes.
    """
    if record.shape is DlqShape.WEBSOCKET:
        return _websocket_inconsistencies(record)
    found: list[Inconsistency] = []
    payload = record.payload or b""
    present = {"size": record.full_size is not None, "included": record.included_size is not None,
               "sha256": record.sha256 is not None}
    if record.truncated:
        missing = [key for name, key in _TRUNCATION_KEYS.items() if not present[name]]
        if missing:
            found.append(Inconsistency(
                f"original_payload_truncated is true but {', '.join(missing)} missing"))
        if record.included_size is not None:
            if record.included_size != len(payload):
                found.append(Inconsistency(
                    f"original_payload_included_bytes is {record.included_size} but the payload "
                    f"holds {len(payload)} bytes", expected=str(len(payload)),
                    actual=str(record.included_size)))
            if record.included_size > LIBRARY_INCLUDED_BYTES:
                found.append(Inconsistency(
                    f"original_payload_included_bytes is {record.included_size}, over DashFlow's "
                    f"{LIBRARY_INCLUDED_BYTES}-byte truncation", expected=f"<= "
                    f"{LIBRARY_INCLUDED_BYTES}", actual=str(record.included_size)))
        if record.full_size is not None and record.full_size < len(payload):
            found.append(Inconsistency(
                f"original_payload_size_bytes {record.full_size} is smaller than the "
                f"{len(payload)} bytes included", expected=f">= {len(payload)}",
                actual=str(record.full_size)))
        return found
    stray = [key for name, key in _TRUNCATION_KEYS.items() if present[name]]
    if stray:
        found.append(Inconsistency(
            f"payload is not marked truncated but has {', '.join(stray)}"))
    if len(payload) > LIBRARY_INCLUDED_BYTES:
        found.append(Inconsistency(
            f"untruncated payload of {len(payload)} bytes; DashFlow truncates anything over "
            f"{LIBRARY_INCLUDED_BYTES} bytes", expected=f"<= {LIBRARY_INCLUDED_BYTES} bytes",
            actual=f"{len(payload)} bytes"))
    return found


def _websocket_inconsistencies(record: DlqRecord) -> list[Inconsistency]:
    payload = record.payload
    if payload is None:
        return []
    found = []
    if record.full_size is not None and record.full_size != len(payload):
        found.append(Inconsistency(
            f"message_size is {record.full_size} but the payload holds {len(payload)} bytes",
            expected=str(len(payload)), actual=str(record.full_size)))
    digest = hashlib.sha256(payload).hexdigest()
    if record.sha256 is not None and digest != record.sha256:
        found.append(Inconsistency(
            "payload_sha256 does not match the SHA-256 of the payload",
            expected=record.sha256, actual=digest, sha256=True))
    return found


def replayable(record: DlqRecord) -> bool:
    """The record holds the whole original value (not truncated, not omitted)."""
    return record.payload is not None and not record.truncated
