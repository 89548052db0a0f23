"""Build DLQ dumps: healthy ones and one per DQ code (payloads from ``testing.streams``).

Records are built the way DashFlow writes them (spec 4.2, 4.3)::

    record = library_record(encode_frame(Messages().event("t-a", 1)), offset=7)
    write_dump(tmp_path / "dlq.jsonl", [record, websocket_record(value, offset=8)])
    fixture = write_dlq_fault("DQ307", tmp_path)    # a dump holding exactly that fault
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from dashfix.formats.dlq import LIBRARY_INCLUDED_BYTES, PRODUCER_SIDE
from dashfix.testing.streams import (
    TOPIC,
    FaultFixture,
    Messages,
    encode_frame,
    write_kcat,
)

TIMESTAMP = "2026-01-01T00:00:00.123+00:00"
INVALID_FLAG = 0x07


def trace_id(number: int) -> str:
    """Deterministic hyphenated UUIDs, as the DLQ's trace_id."""
    return str(uuid.UUID(int=number + 1))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def library_record(payload: bytes, *, topic: str = TOPIC, partition: int = 0, offset: int = 0,
                   number: int = 0, error: str = "Protobuf decoding error: bad wire type",
                   error_type: str = "decode_error", truncate_at: int = LIBRARY_INCLUDED_BYTES,
                   producer_side: bool = False, thread_id: str | None = None) -> dict[str, Any]:
    """A library ``DlqMessage``; payloads over ``truncate_at`` bytes are truncated like
    DashFlow does (size, included bytes, flag and SHA-256 of the full payload)."""
    record: dict[str, Any] = {"original_payload_base64": _b64(payload[:truncate_at])}
    if len(payload) > truncate_at:
        record.update({
            "original_payload_size_bytes": len(payload),
            "original_payload_included_bytes": truncate_at,
            "original_payload_truncated": True,
            "original_payload_sha256": hashlib.sha256(payload).hexdigest(),
        })
    record.update({
        "error": error, "source_topic": topic,
        "source_partition": PRODUCER_SIDE if producer_side else partition,
        "source_offset": PRODUCER_SIDE if producer_side else offset,
        "timestamp": TIMESTAMP,
        "consumer_id": "producer:acme" if producer_side else "dashstream-consumer",
    })
    if producer_side:
        record.update({"thread_id": thread_id or "t-a", "tenant_id": "acme",
                       "error": "Kafka send failed after 3 attempts: Message timed out",
                       "error_type": "kafka_send_error"})
    else:
        record["error_type"] = error_type
    record["trace_id"] = trace_id(number)
    return record


def websocket_record(payload: bytes, *, partition: int = 0, offset: int = 0, number: int = 0,
                     include_payload: bool = True) -> dict[str, Any]:
    """The websocket server's decode-failure record (keys unordered in real dumps)."""
    return {
        "trace_id": trace_id(number), "timestamp": TIMESTAMP,
        "error": "Protobuf decoding error: invalid wire type", "error_type": "invalid_protobuf",
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "original_payload_base64": _b64(payload) if include_payload else None,
        "payload_truncation_note": None if include_payload else (
            "payload omitted (DLQ_INCLUDE_FULL_PAYLOAD=false)"),
        "message_size": len(payload),
        "first_bytes_hex": "[" + ", ".join(f"{b:02x}" for b in payload[:16]) + "]",
        "last_bytes_hex": "[" + ", ".join(f"{b:02x}" for b in payload[-16:]) + "]"
        if len(payload) >= 16 else "",
        "kafka_partition": partition, "kafka_offset": offset, "message_count": offset + 1,
        "thread_id": None, "tenant_id": None,
    }


def write_dump(path: Path, lines: Iterable[dict[str, Any] | bytes]) -> Path:
    """One compact JSON object per line (bytes are written as given, plus a newline)."""
    with open(path, "wb") as out:
        for line in lines:
            out.write((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n")
    return path


def valid_payload(sequence: int = 1, thread: str = "t-a") -> bytes:
    return encode_frame(Messages(seed=sequence).event(thread, sequence))


def invalid_payload() -> bytes:
    return bytes([INVALID_FLAG]) + legacy_payload(1)


def large_payload() -> bytes:
    """A zstd StateDiff frame of a few KiB (big enough to truncate in fixtures)."""
    return encode_frame(Messages().state_diff("t-b", 1, state_bytes=16384))


def healthy_dump(path: Path) -> Path:
    """Both shapes, every record replayable: consumer-side, websocket with full payload."""
    return write_dump(path, [
        library_record(valid_payload(1), offset=3, number=0),
        library_record(large_payload(), offset=4, number=1),
        websocket_record(valid_payload(2), offset=5, number=2),
    ])


# -- one dump per finding code -----------------------------------------------------------

def _dump(*lines: dict[str, Any] | bytes) -> Callable[[Path], Path]:
    return lambda folder: write_dump(folder / "dlq.jsonl", lines)


def _unreadable(folder: Path) -> Path:
    path = folder / "dlq.jsonl"
    path.mkdir()  # a folder where the dump should be: cannot be read as a file
    return path


def _edited(edit: Callable[[dict[str, Any]], None],
            build: Callable[[], dict[str, Any]] | None = None) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        record = build() if build is not None else library_record(valid_payload())
        edit(record)
        return write_dump(folder / "dlq.jsonl", [record])
    return write


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.update(values)


def _drop(*keys: str) -> Callable[[dict[str, Any]], None]:
    def edit(record: dict[str, Any]) -> None:
        for key in keys:
            del record[key]
    return edit


def _truncated() -> dict[str, Any]:
    return library_record(large_payload(), truncate_at=1000)


def _wrong_included(record: dict[str, Any]) -> None:
    record["original_payload_included_bytes"] = 999


def legacy_payload(sequence: int) -> bytes:
    """Bare protobuf without a flag byte: the strict consumer dead-letters it, replay can
    reframe it."""
    encoded: bytes = Messages(seed=sequence).event("t-a", sequence).SerializeToString()
    return encoded


def _against(folder: Path) -> Path:
    """Records 1 and 2 of the log are rejected by the consumer (legacy, no flag byte); the
    dump only has record 1's DLQ record."""
    log = write_kcat(folder / "main.kcat", [valid_payload(1), legacy_payload(2),
                                            legacy_payload(3)])
    write_dump(folder / "dlq.jsonl", [
        library_record(legacy_payload(2), offset=1,
                       error="Invalid message format: Invalid compression header byte: 0x0A",
                       error_type="invalid_format")])
    return log


DLQ_FAULTS: dict[str, Callable[[Path], Path]] = {
    "DQ300": _unreadable,
    "DQ301": _dump(library_record(valid_payload()),
                   b'{"original_payload_base64":"' + b"A" * 1_500_000 + b'"}'),
    "DQ302": _dump(b'{"error":"\xff\xfe"}'),
    "DQ303": _dump(b"not json at all"),
    "DQ304": _edited(_drop("source_offset")),
    "DQ305": _edited(_set(original_payload_base64="not*base64")),
    "DQ306": _dump(library_record(large_payload())),
    "DQ307": _edited(_wrong_included, _truncated),
    "DQ308": _edited(_set(payload_sha256="0" * 64),
                     lambda: websocket_record(valid_payload())),
    "DQ309": _edited(lambda record: None, _truncated),
    "DQ310": _edited(lambda record: None,
                     lambda: websocket_record(invalid_payload(), include_payload=False)),
    "DQ311": _dump(library_record(invalid_payload())),
    "DQ312": _dump(library_record(valid_payload()), library_record(valid_payload())),
    "DQ313": _dump(library_record(valid_payload(4), producer_side=True)),
    "DQ314": _against,
}


def _fault_args(code: str, folder: Path) -> tuple[str, ...]:
    if code == "DQ306":
        return ("--limits", "1000")
    if code == "DQ314":
        return ("--against", str(folder / "main.kcat"), "--topic", TOPIC, "--partition", "0")
    return ()


def write_dlq_fault(code: str, folder: Path) -> FaultFixture:
    """Write a dump in ``folder`` holding exactly the fault of ``code``; ``path`` is the dump
    (for DQ314 the dump, with the main log passed in ``args``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = DLQ_FAULTS[code](folder)
    path = folder / "dlq.jsonl" if code == "DQ314" else written
    return FaultFixture(code, path, _fault_args(code, folder))
