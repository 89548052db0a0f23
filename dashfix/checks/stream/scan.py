"""The hot path of log validation: one message's bytes to what the sequence tracker needs,
for a message the frame checks would find nothing in.

``scan_message(data, start, compressed)`` reads the DashStreamMessage in ``data[start:]``
and returns ``(oneof number, thread_id, timestamp_us, items)`` when the record is healthy:
it parses; exactly one top-level field, a oneof payload; the payload has a header whose
type matches the oneof, schema_version 0 or 1, compression 1 exactly when the frame is
``compressed``, a 16-byte message_id and a thread_id; an EventBatch's header has sequence 0
and each inner event a header that passes the same tests with a sequence above 0.
``items`` holds one ``(sequence, timestamp_us, message_id, event_type, None)`` per message
the tracker takes: the payload itself, or each inner event of a batch (event_type is 0
for payloads that are not Events).  Anything else returns None and the caller runs
``validate_frame``, which says what is wrong.  Error payloads and error events also
return None: their text is checked on the slow path.  The usual messages come back in
shapes the tracker takes faster (``compact``): a ``sequences.Single`` for a payload that is
one message, a ``sequences.Run`` for a batch whose events continue one another.

Two implementations of one rule set: the C extension ``dashfix._native`` (built when a compiler is
available; it reads the wire bytes without building protobuf objects) and
``scan_message_python`` (the protobuf runtime).  Tests hold them to the same answers on
healthy input, and both to ``validate_frame`` on damaged input; the C one may return None
for a message the Python one accepts (it refuses non-canonical encodings), never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import zstandard
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from dashfix import native
from dashfix.checks.stream.sequences import (
    COMPRESSION_ZSTD,
    ERROR_EVENT_TYPES,
    EVENT,
    EVENT_BATCH,
    MESSAGE_ID_BYTES,
    NODE_EVENT_TYPES,
    NODE_PAYLOAD_NUMBERS,
    ONEOF_NUMBERS,
    Item,
    Run,
    Scanned,
    Single,
    dedup_fingerprint,
)
from dashfix.context import CONSUMER_LIMIT
from dashfix.formats.frame import (
    COMPRESSION_THRESHOLD,
    FLAG_UNCOMPRESSED,
    FLAG_ZSTD,
    LEGACY_PROTOBUF_FIRST_BYTES,
    guarded_decompress,
    single_field_message,
)
from dashfix.formats.proto.dashstream_pb2 import DashStreamMessage
from dashfix.inputs.streams import RecordValue

SIZE_RULES_FROM = CONSUMER_LIMIT // 2 - 2
"""Any inner event costs at least 2 bytes, so at or below this no size rule can fire."""
RUN_PAYLOADS = frozenset(ONEOF_NUMBERS.values()) - NODE_PAYLOAD_NUMBERS
"""Payloads the tracker keeps sequences of: only they can be a run or a single."""
MIN_RUN_ITEMS = 2
MAX_RUN_ITEMS = 64
_UNUSUAL_EVENT_TYPES = ERROR_EVENT_TYPES | NODE_EVENT_TYPES

_KIND_VARINT, _KIND_FIXED64, _KIND_FIXED32, _KIND_STRING, _KIND_BYTES, _KIND_MESSAGE = range(1, 7)
_KINDS = {
    **dict.fromkeys((FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64,
                     FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64,
                     FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
                     FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_ENUM), _KIND_VARINT),
    **dict.fromkeys((FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64,
                     FieldDescriptor.TYPE_DOUBLE), _KIND_FIXED64),
    **dict.fromkeys((FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32,
                     FieldDescriptor.TYPE_FLOAT), _KIND_FIXED32),
    FieldDescriptor.TYPE_STRING: _KIND_STRING,
    FieldDescriptor.TYPE_BYTES: _KIND_BYTES,
    FieldDescriptor.TYPE_MESSAGE: _KIND_MESSAGE,
}


def schema_tables(root: Descriptor) -> tuple[tuple[tuple[tuple[int, int, bool, int], ...], ...],
                                              dict[str, int]]:
    """Every message type reachable from ``root`` as ``(number, kind, repeated, schema
    index of a message field or -1)`` rows, and the index of each type by full name."""
    order: list[Descriptor] = []
    index: dict[str, int] = {}
    pending = [root]
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name in index:
            continue
        index[descriptor.full_name] = len(order)
        order.append(descriptor)
        pending.extend(f.message_type for f in descriptor.fields if f.message_type is not None)
    tables = tuple(
        tuple((f.number, _KINDS[f.type], f.is_repeated,
               -1 if f.message_type is None else index[f.message_type.full_name])
              for f in descriptor.fields)
        for descriptor in order
    )
    return tables, index


def _healthy_header(header: Any, compressed: bool) -> bool:
    return (header.schema_version <= 1
            and (header.compression == COMPRESSION_ZSTD) is compressed
            and len(header.message_id) == MESSAGE_ID_BYTES
            and bool(header.thread_id))


def scan_message_python(data: bytes, start: int, compressed: bool) -> Scanned | Single | Run | None:
    """``scan_message`` with the protobuf runtime."""
    body = data[start:] if start else data
    try:
        message = DashStreamMessage.FromString(body)
    except (DecodeError, RecursionError, ValueError):
        return None
    which = message.WhichOneof("message")
    if which is None or which == "error" or not single_field_message(body):
        return None
    payload = getattr(message, which)
    header = payload.header  # a missing header reads as an empty one: no thread_id
    number = ONEOF_NUMBERS[which]
    if header.type != number or not _healthy_header(header, compressed):
        return None
    items: tuple[Item, ...]
    if number == EVENT_BATCH:
        if header.sequence:
            return None
        collected = []
        for event in payload.events:
            inner = event.header
            if (not inner.sequence or not _healthy_header(inner, compressed)
                    or event.event_type in ERROR_EVENT_TYPES):
                return None
            collected.append((inner.sequence, inner.timestamp_us, inner.message_id,
                              event.event_type, None))
        items = tuple(collected)
    else:
        event_type = payload.event_type if number == EVENT else 0
        if event_type in ERROR_EVENT_TYPES:
            return None
        items = ((header.sequence, header.timestamp_us, header.message_id, event_type, None),)
    return compact((number, header.thread_id, header.timestamp_us, items))


def compact(scanned: Scanned) -> Scanned | Single | Run:
    """``scanned`` in the shape the tracker takes fastest when it is the usual message: a
    ``Single`` for a payload that is one sequenced message (sequence and timestamp above 0,
    no error or node event, a payload whose sequences are tracked), a ``Run`` for an
    EventBatch whose 2 to 64 items continue one another as a healthy thread's do (each
    sequence the one after the one before, timestamps above 0 that never go back, the batch
    header's too, distinct message_ids)."""
    number, thread_id, timestamp_us, items = scanned
    if number not in RUN_PAYLOADS or timestamp_us <= 0 or not items or not items[0][0]:
        return scanned
    if number != EVENT_BATCH:
        sequence, stamp, message_id, event_type, _ = items[0]
        if event_type in _UNUSUAL_EVENT_TYPES:
            return scanned
        return (number, thread_id, sequence, stamp, message_id,
                dedup_fingerprint(sequence, stamp))
    if not MIN_RUN_ITEMS <= len(items) <= MAX_RUN_ITEMS:
        return scanned
    before: Item | None = None
    for item in items:
        sequence, stamp, _, event_type, _ = item
        if event_type in _UNUSUAL_EVENT_TYPES or stamp <= 0 or (
                before is not None and (sequence != before[0] + 1 or stamp < before[1])):
            return scanned
        before = item
    ids = tuple(item[2] for item in items)
    if len(set(ids)) != len(ids):
        return scanned
    return (number, thread_id, timestamp_us, items[0][0], items[-1][0], items[0][1],
            items[-1][1], ids, tuple(dedup_fingerprint(item[0], item[1]) for item in items))


def _native() -> Any:
    """The C scanner configured with this schema, or None (then ``NATIVE`` is False, which
    ``make test`` refuses: a schema the C side cannot take, say a field number over 64,
    shows there, not as a silent slowdown)."""
    if native.MODULE is None:
        return None
    tables, index = schema_tables(DashStreamMessage.DESCRIPTOR)
    try:
        native.MODULE.configure(
            tables, index[DashStreamMessage.DESCRIPTOR.full_name],
            index["dashstream.v1.Header"], index["dashstream.v1.Event"],
            tuple(sorted(ERROR_EVENT_TYPES)), tuple(sorted(_UNUSUAL_EVENT_TYPES)),
            tuple(sorted(RUN_PAYLOADS)))
    except ValueError:
        return None
    return native.MODULE


ScanMessage: TypeAlias = Callable[[bytes, int, bool], Scanned | Single | Run | None]

_NATIVE = _native()
NATIVE = _NATIVE is not None
"""Whether the C scanner is built (``pip install`` compiles it when it can)."""
scan_message: ScanMessage = (scan_message_python if _NATIVE is None
                             else _NATIVE.scan_message)


def scan_record(value: bytes | None, limit: int, unframed: bool, *,
                scan: ScanMessage = scan_message) -> Scanned | Single | Run | None:
    """What the tracker needs of a record ``validate_frame`` finds nothing wrong with
    (``scan_message``), read without building a verdict; None means "something may be
    wrong: run ``validate_frame``".

    The hot path of log validation: the frame and size checks of ``validate_frame`` are
    here as yes/no tests (cheapest first), the message checks in ``scan_message``.
    Together they must never accept a record that ``validate_frame`` would report (tests
    compare them, for either implementation of ``scan``).
    """
    if not value:
        return None
    size = len(value)
    if size > (limit if unframed else limit + 1) or size > SIZE_RULES_FROM:
        return None
    first = value[0]
    if first == FLAG_UNCOMPRESSED:
        return scan(value, 1, False)
    if first == FLAG_ZSTD:
        out = guarded_decompress(value[1:], limit)
        if type(out) is not bytes:
            return None
        decompressed = len(out)
        if (size - 1 >= decompressed or decompressed <= COMPRESSION_THRESHOLD
                or decompressed > SIZE_RULES_FROM):
            return None
        return scan(out, 0, True)
    if unframed and first in LEGACY_PROTOBUF_FIRST_BYTES:
        return scan(value, 0, False)
    return None


def scan_block(records: list[RecordValue], limit: int,
               unframed: bool) -> list[Scanned | Single | Run | None]:
    """``scan_record`` of each record's value.  In C: ``scan_block`` leaves zstd frames as
    None, and ``scan_zstd`` then walks their frame headers, decompresses them with
    python-zstandard and scans them (each None it leaves is one ``scan_record`` refuses)."""
    if _NATIVE is None:
        return [scan_record(value, limit, unframed) for _, _, value in records]
    scans: list[Scanned | Single | Run | None] = _NATIVE.scan_block(
        records, limit if unframed else limit + 1, SIZE_RULES_FROM, unframed)
    _NATIVE.scan_zstd(records, scans, limit, unframed, SIZE_RULES_FROM, COMPRESSION_THRESHOLD,
                      _DECOMPRESS, zstandard.ZstdError)
    return scans


_DECOMPRESS = zstandard.ZstdDecompressor().decompress
"""What ``guarded_decompress`` decompresses with, for the C side (``scan_zstd``)."""
