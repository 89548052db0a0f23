"""Build DashStream messages, frames and stream logs: healthy ones and one per fault.

Deterministic: message ids come from a counter, timestamps from a fixed clock, zstd
runs at level 3 with the content size written (as DashFlow's encoder does)::

    msgs = Messages()
    values = healthy_values(msgs)                     # 2 threads, seq 1..5, framed
    write_kcat(tmp_path / "t.kcat", values)
    path = write_fault("ST250", tmp_path)             # a log holding exactly that fault
    build_large_capture(tmp_path / "big.kcat", records=1_000_000)
"""

from __future__ import annotations

import random
import sqlite3
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from dashfix.formats import filelog, kcat
from dashfix.formats.frame import COMPRESSION_THRESHOLD, FLAG_UNCOMPRESSED, FLAG_ZSTD
from dashfix.formats.proto import dashstream_pb2 as pb

# 2025-10-09T08:53:20Z, as for the checkpoint fixtures.
BASE_US = 1_760_000_000_000_000
TENANT = "acme"
TOPIC = "dashstream-events"
EVENT_NODE_START = 10
EVENT_NODE_ERROR = 12
_COMPRESSOR = zstandard.ZstdCompressor(level=3)


class Messages:
    """Deterministic message factory: ids and timestamps advance with every header."""

    def __init__(self, seed: int = 0, tenant: str = TENANT) -> None:
        self.seed = seed
        self.tenant = tenant
        self.count = 0

    def next_id(self) -> bytes:
        self.count += 1
        return struct.pack(">QQ", self.seed, self.count)

    def header(self, thread: str, sequence: int, message_type: int, **fields: Any) -> Any:
        values: dict[str, Any] = {
            "message_id": self.next_id(), "timestamp_us": BASE_US + self.count * 1000,
            "tenant_id": self.tenant, "thread_id": thread, "sequence": sequence,
            "type": message_type, "schema_version": 1,
        }
        values.update(fields)
        return pb.Header(**values)

    def event(self, thread: str, sequence: int, *, event_type: int = EVENT_NODE_START,
              node_id: str = "node", attributes: dict[str, Any] | None = None,
              **header: Any) -> Any:
        event = pb.Event(header=self.header(thread, sequence, 1, **header),
                         event_type=event_type, node_id=node_id)
        for name, value in (attributes or {}).items():
            _set_attribute(event.attributes[name], value)
        return pb.DashStreamMessage(event=event)

    def batch(self, thread: str, sequences: Iterable[int], **header: Any) -> Any:
        events = [self.event(thread, seq).event for seq in sequences]
        batch = pb.EventBatch(header=self.header(thread, 0, 8, **header), events=events)
        return pb.DashStreamMessage(event_batch=batch)

    def state_diff(self, thread: str, sequence: int, *, state_bytes: int = 8192,
                   **header: Any) -> Any:
        state = _json_state(state_bytes, self.count)
        diff = pb.StateDiff(header=self.header(thread, sequence, 2, **header), full_state=state,
                            state_hash=b"\x00" * 32)
        return pb.DashStreamMessage(state_diff=diff)

    def error(self, thread: str, sequence: int, text: str = "node failed: timeout",
              **header: Any) -> Any:
        error = pb.Error(header=self.header(thread, sequence, 7, **header), error_code="E1",
                         message=text, severity=4)
        return pb.DashStreamMessage(error=error)


def _set_attribute(target: Any, value: Any) -> None:
    if isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    else:
        target.string_value = str(value)


def _json_state(size: int, salt: int) -> bytes:
    words = [f'"k{i}":"value {i * 7919 % 1000} of state {salt}"' for i in range(size // 24 + 1)]
    return ("{" + ",".join(words) + "}").encode()[:size]


def _headers(message: Any) -> list[Any]:
    which = message.WhichOneof("message")
    payload = getattr(message, which)
    headers = [payload.header]
    if which == "event_batch":
        headers.extend(event.header for event in payload.events)
    return headers


def frame_uncompressed(message: Any) -> bytes:
    raw: bytes = message.SerializeToString()
    return bytes([FLAG_UNCOMPRESSED]) + raw


def frame_zstd(message: Any, *, mark_headers: bool = True) -> bytes:
    """A 0x01 frame; like DashFlow, every header says compression = 1 first."""
    if mark_headers:
        for header in _headers(message):
            header.compression = 1
    return bytes([FLAG_ZSTD]) + _COMPRESSOR.compress(message.SerializeToString())


def encode_frame(message: Any) -> bytes:
    """DashFlow's encoder rule: compress when larger than 512 bytes and strictly smaller."""
    raw: bytes = message.SerializeToString()
    if len(raw) > COMPRESSION_THRESHOLD:
        marked = type(message)()
        marked.CopyFrom(message)
        framed = frame_zstd(marked)
        if len(framed) - 1 < len(raw):
            return framed
    return bytes([FLAG_UNCOMPRESSED]) + raw


def unframe(value: bytes) -> bytes:
    """The bare protobuf that file and SQLite backends store for a framed value: they never
    compress, so every header says compression 0 again."""
    if value[0] != FLAG_ZSTD:
        return value[1:]
    message = pb.DashStreamMessage.FromString(zstandard.ZstdDecompressor().decompress(value[1:]))
    for header in _headers(message):
        header.compression = 0
    raw: bytes = message.SerializeToString()
    return raw


def healthy_values(msgs: Messages | None = None, threads: Sequence[str] = ("t-a", "t-b"),
                   per_thread: int = 5) -> list[bytes]:
    """Interleaved threads, sequences 1..per_thread, one EventBatch and one zstd StateDiff."""
    msgs = msgs or Messages()
    values = []
    for seq in range(1, per_thread + 1):
        for thread in threads:
            values.append(encode_frame(msgs.event(thread, seq)))
    values.append(encode_frame(msgs.batch(threads[0], range(per_thread + 1, per_thread + 4))))
    values.append(encode_frame(msgs.state_diff(threads[-1], per_thread + 1)))
    return values


# -- containers --------------------------------------------------------------------------

def write_kcat(path: Path, values: Iterable[bytes | None]) -> Path:
    with open(path, "wb") as out:
        for value in values:
            out.write(kcat.encode_record(value))
    return path


def write_jsonl(path: Path, values: Iterable[bytes], *, unframed: bool = True) -> Path:
    """File-backend log; framed values are unframed first (as the backend stores them)."""
    with open(path, "wb") as out:
        for offset, value in enumerate(values):
            data = unframe(value) if unframed and value[:1] in (b"\x00", b"\x01") else value
            out.write(filelog.encode_line(offset, BASE_US + offset, data))
    return path


def write_frames_dir(path: Path, values: Iterable[bytes]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for number, value in enumerate(values):
        (path / f"{number:06d}.frame").write_bytes(value)
    return path


def write_sqlite(path: Path, values: Iterable[bytes], *, topic: str = TOPIC) -> Path:
    """The SQLite backend's schema; values are stored unframed like the backend does."""
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
            "offset INTEGER NOT NULL, timestamp_us INTEGER NOT NULL, data BLOB NOT NULL, "
            "UNIQUE(topic, offset))"
        )
        connection.executemany(
            "INSERT INTO messages (topic, offset, timestamp_us, data) VALUES (?, ?, ?, ?)",
            [(topic, n, BASE_US + n, unframe(v)) for n, v in enumerate(values)],
        )
    connection.close()
    return path


# -- hand-crafted damage -----------------------------------------------------------------

def encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def zstd_bomb(declared: int = 512 * 1024 * 1024) -> bytes:
    """A 0x01 frame of a few bytes whose zstd header declares ``declared`` bytes."""
    descriptor = 0b1000_0000  # 4-byte content size, window descriptor present
    header = b"\x28\xb5\x2f\xfd" + bytes([descriptor, 0x58]) + struct.pack("<I", declared)
    rle_block = ((128 * 1024) << 3 | 1 << 1 | 1).to_bytes(3, "little") + b"\x00"
    return bytes([FLAG_ZSTD]) + header + rle_block


def deep_attribute_frame(levels: int = 60) -> bytes:
    """An Event whose attribute nests AttributeValue -> AttributeArray ``levels`` times."""
    value = _field(1, b"leaf")  # string_value
    for _ in range(levels):
        value = _field(6, _field(1, value))  # array_value { values: [value] }
    entry = _field(1, b"deep") + _field(2, value)
    header = Messages().header("t-a", 1, 1).SerializeToString()
    return bytes([FLAG_UNCOMPRESSED]) + _field(1, _field(1, header) + _field(4, entry))


def giant_varint_frame() -> bytes:
    return bytes([FLAG_UNCOMPRESSED, 0x0A]) + b"\xff" * 11 + b"\x01"


# -- one log per finding code ------------------------------------------------------------

@dataclass(frozen=True)
class FaultFixture:
    code: str
    path: Path
    args: tuple[str, ...] = ()
    """Extra CLI arguments the fault needs (e.g. ``--limits server``)."""


def _kcat_fault(values: list[bytes | None]) -> Callable[[Path], Path]:
    return lambda folder: write_kcat(folder / "log.kcat", values)


def _healthy_kcat(folder: Path) -> Path:
    msgs = Messages()
    return write_kcat(folder / "log.kcat", [encode_frame(m) for m in _events(msgs, (1, 2, 3))])


def _after_healthy(value: bytes) -> Callable[[Path], Path]:
    """A clean record first: a capture is recognised by its first record."""
    return _kcat_fault([encode_frame(Messages(seed=1).event("t-a", 1)), value])


def _sequenced(build: Callable[[Messages], list[Any]]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        return write_kcat(folder / "log.kcat", [encode_frame(m) for m in build(Messages())])
    return write


def _events(msgs: Messages, sequences: Iterable[int], thread: str = "t-a") -> list[Any]:
    return [msgs.event(thread, seq) for seq in sequences]


def _jsonl_lines(*lines: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        good = filelog.encode_line(0, BASE_US, unframe(encode_frame(Messages().event("t-a", 1))))
        path = folder / "log.jsonl"
        path.write_bytes(good + b"".join(lines))
        return path
    return write


def _modified(edit: Callable[[Messages], Any], *, compress: bool = False) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        message = edit(Messages())
        value = frame_zstd(message) if compress else frame_uncompressed(message)
        return write_kcat(folder / "log.kcat", [value])
    return write


def _with_header(**fields: Any) -> Callable[[Path], Path]:
    return _modified(lambda m: m.event("t-a", 1, **fields))


def _no_messages_table(folder: Path) -> Path:
    path = folder / "log.sqlite"
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE other (x INTEGER)")
    connection.close()
    return path


def _big_event(size: int) -> Any:
    return Messages().event("t-a", 1, attributes={"blob": random.Random(size).randbytes(size)})


def _zstd_without_size(folder: Path) -> Path:
    message = Messages().state_diff("t-a", 1)
    for header in _headers(message):
        header.compression = 1
    compressor = zstandard.ZstdCompressor(level=3, write_content_size=False)
    data = compressor.compress(message.SerializeToString())
    return write_kcat(folder / "log.kcat", [bytes([FLAG_ZSTD]) + data])


def _zstd_edit(edit: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        frame = frame_zstd(Messages().state_diff("t-a", 1))
        return write_kcat(folder / "log.kcat", [bytes([FLAG_ZSTD]) + edit(frame[1:])])
    return write


def _wrong_declared_size(data: bytes) -> bytes:
    """Declare one byte more than the frame holds (the blocks stay intact)."""
    descriptor = data[4]
    # An 8 KiB state compresses to a single-segment frame with a 2-byte size at bytes 5..6.
    assert descriptor >> 6 == 1 and descriptor & 0x20, f"unexpected zstd header {descriptor:#x}"
    stored = int.from_bytes(data[5:7], "little")
    return data[:5] + (stored + 1).to_bytes(2, "little") + data[7:]


def _near_cap(folder: Path) -> Path:
    message = Messages().state_diff("t-a", 1, state_bytes=1024)
    for header in _headers(message):
        header.compression = 1
    raw = message.SerializeToString()
    target = 1024 * 1024 - 1
    message.state_diff.full_state = message.state_diff.full_state + b" " * (target - len(raw) - 4)
    while len(message.SerializeToString()) < target:
        message.state_diff.full_state += b" "
    while len(message.SerializeToString()) > target:
        message.state_diff.full_state = message.state_diff.full_state[:-1]
    data = _COMPRESSOR.compress(message.SerializeToString())
    return write_kcat(folder / "log.kcat", [bytes([FLAG_ZSTD]) + data])


def _two_payloads(folder: Path) -> Path:
    msgs = Messages()
    joined = msgs.event("t-a", 1).SerializeToString() + msgs.state_diff(
        "t-a", 2, state_bytes=64).SerializeToString()
    return write_kcat(folder / "log.kcat", [bytes([FLAG_UNCOMPRESSED]) + joined])


def _exact_duplicate(folder: Path) -> Path:
    msgs = Messages()
    values = [encode_frame(m) for m in _events(msgs, (1, 2, 3))]
    return write_kcat(folder / "log.kcat", [*values[:2], values[1], values[2]])


def _reused_id(folder: Path) -> Path:
    msgs = Messages()
    first = msgs.event("t-a", 1)
    second = msgs.event("t-a", 2, message_id=first.event.header.message_id)
    return write_kcat(folder / "log.kcat", [encode_frame(first), encode_frame(second)])


def _timestamps(*stamps: int) -> Callable[[Path], Path]:
    def build(msgs: Messages) -> list[Any]:
        return [msgs.event("t-a", n + 1, timestamp_us=ts) for n, ts in enumerate(stamps)]
    return _sequenced(build)


def _error_event_without_text(msgs: Messages) -> list[Any]:
    return [msgs.error("t-a", 1, text="")]


def _oversize_frame(folder: Path) -> Path:
    return write_kcat(folder / "log.kcat", [frame_uncompressed(_big_event(1_100_000))])


def _server_only_frame(folder: Path) -> Path:
    return write_kcat(folder / "log.kcat", [frame_uncompressed(_big_event(2_000_000))])


def _line_too_long(folder: Path) -> Path:
    path = folder / "log.jsonl"
    good = filelog.encode_line(0, BASE_US, unframe(encode_frame(Messages().event("t-a", 1))))
    huge = b'{"offset":1,"timestamp_us":1,"data":"' + b"A" * 1_500_000 + b'"}\n'
    path.write_bytes(good + huge)
    return path


def _batch(edit: Callable[[Any], None]) -> Callable[[Path], Path]:
    def build(msgs: Messages) -> Any:
        message = msgs.batch("t-a", (1, 2, 3))
        edit(message.event_batch)
        return message
    return _modified(build)


def _set_batch_sequence(batch: Any) -> None:
    batch.header.sequence = 5


def _zero_inner_sequence(batch: Any) -> None:
    batch.events[2].header.sequence = 0


def _type_mismatch(msgs: Messages) -> Any:
    message = msgs.event("t-a", 1)
    message.event.header.type = 2
    return message


def _small_compressed(msgs: Messages) -> Any:
    return msgs.event("t-a", 1, attributes={"text": "a" * 300})


def _incompressible(msgs: Messages) -> Any:
    return msgs.event("t-a", 1, attributes={"blob": random.Random(7).randbytes(1200)})


FAULTS: dict[str, Callable[[Path], Path]] = {
    "ST200": _no_messages_table,
    "ST201": lambda folder: _truncate(_healthy_kcat(folder), 5),
    "ST202": lambda folder: _append(_healthy_kcat(folder), struct.pack(">i", -5) + b"xxxx"),
    "ST203": _kcat_fault([encode_frame(Messages().event("t-a", 1)), None]),
    "ST204": _line_too_long,
    "ST205": _jsonl_lines(b'{"offset":1,"timestamp_us":1,"data":"\xff\xfe"}\n'),
    "ST206": _jsonl_lines(b'{"offset":"one","timestamp_us":1,"data":"AAo="}\n'),
    "ST207": _jsonl_lines(b'{"offset":1,"timestamp_us":1,"data":"not*base64"}\n'),
    "ST210": _oversize_frame,
    "ST211": _after_healthy(b"\x07" + Messages().event("t-a", 2).SerializeToString()),
    "ST212": _after_healthy(b'{"event": "not a frame"}'),
    "ST213": _kcat_fault([Messages().event("t-a", 1).SerializeToString()]),
    "ST214": _kcat_fault([frame_zstd(Messages().state_diff("t-a", 1))[1:]]),
    "ST215": _after_healthy(b"\x01" + b"\x00\x11\x22\x33" + b"\x00" * 16),
    "ST216": _zstd_without_size,
    "ST217": _kcat_fault([zstd_bomb()]),
    "ST218": _zstd_edit(lambda data: data + data),
    "ST219": _zstd_edit(_wrong_declared_size),
    "ST220": _modified(_incompressible, compress=True),
    "ST221": _modified(_small_compressed, compress=True),
    "ST222": _kcat_fault([b"\x00\x0a\x40\x0a\x02"]),
    "ST223": _kcat_fault([deep_attribute_frame()]),
    "ST224": _kcat_fault([giant_varint_frame()]),
    "ST225": _kcat_fault([b"\x00"]),
    "ST226": _kcat_fault([b"\x00" + _field(1, b"\x10\x0a")]),
    "ST227": _modified(_type_mismatch),
    "ST228": _with_header(schema_version=7),
    "ST229": _with_header(compression=1),
    "ST230": _with_header(message_id=b"\x01" * 8),
    "ST231": _with_header(thread_id=""),
    "ST233": _batch(_set_batch_sequence),
    "ST234": _batch(_zero_inner_sequence),
    "ST235": _two_payloads,
    "ST240": _server_only_frame,
    "ST241": _near_cap,
    "ST250": _sequenced(lambda m: _events(m, (1, 2, 5))),
    "ST251": _sequenced(lambda m: _events(m, (1, 2, 2, 3))),
    "ST252": _exact_duplicate,
    "ST253": _sequenced(lambda m: _events(m, (1, 2, 4, 3))),
    "ST254": _timestamps(BASE_US, 0),
    "ST255": _timestamps(BASE_US, -5),
    "ST256": _timestamps(BASE_US, 4_102_444_800_000_000),  # 2100-01-01
    "ST257": _timestamps(BASE_US, BASE_US - 1_000_000),
    "ST258": _sequenced(_error_event_without_text),
    "ST259": _reused_id,
}
FAULT_ARGS: dict[str, tuple[str, ...]] = {"ST240": ("--limits", "server")}


def _truncate(path: Path, cut: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    return path


def _append(path: Path, extra: bytes) -> Path:
    with open(path, "ab") as out:
        out.write(extra)
    return path


def write_fault(code: str, folder: Path) -> FaultFixture:
    """Write a log in ``folder`` holding exactly the fault of ``code``."""
    folder.mkdir(parents=True, exist_ok=True)
    return FaultFixture(code, FAULTS[code](folder), FAULT_ARGS.get(code, ()))


# -- the benchmark capture ---------------------------------------------------------------

class _FastEncoder:
    """Hand-encodes headers so a million records build in seconds, not minutes."""

    def __init__(self, threads: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.threads = [f"thread-{n:05d}".encode() for n in range(threads)]
        self.sequences = [0] * threads
        self.count = 0
        self.tenant = _field(3, TENANT.encode())
        self.event_tail = (
            b"\x10\x0b" + _field(3, b"agent_node")
            + _field(4, _field(1, b"tokens") + _field(2, b"\x10" + encode_varint(42)))
            + _field(4, _field(1, b"model") + _field(2, _field(1, b"gpt-x")))
            + b"\x28" + encode_varint(1500)
        )

    def header(self, thread: int, sequence: int, message_type: int, compression: int) -> bytes:
        self.count += 1
        return (
            _field(1, struct.pack(">QQ", 1, self.count))
            + b"\x10" + encode_varint(BASE_US + self.count * 1000)
            + self.tenant + _field(4, self.threads[thread])
            + (b"\x28" + encode_varint(sequence) if sequence else b"")
            + b"\x30" + bytes([message_type])
            + (b"\x40\x01" if compression else b"")
            + b"\x48\x01"
        )

    def next_sequence(self, thread: int) -> int:
        self.sequences[thread] += 1
        return self.sequences[thread]

    def event(self, thread: int, compression: int = 0) -> bytes:
        header = self.header(thread, self.next_sequence(thread), 1, compression)
        return _field(1, header) + self.event_tail

    def record(self) -> bytes:
        roll = self.rng.random()
        thread = self.rng.randrange(len(self.threads))
        if roll < 0.80:
            return bytes([FLAG_UNCOMPRESSED]) + _field(1, self.event(thread))
        if roll < 0.95:
            header = self.header(thread, 0, 8, 0)
            events = b"".join(_field(2, self.event(thread)) for _ in range(10))
            return bytes([FLAG_UNCOMPRESSED]) + _field(8, _field(1, header) + events)
        header = self.header(thread, self.next_sequence(thread), 2, 1)
        state = _json_state(8192, self.count)
        body = _field(2, _field(1, header) + _field(4, b"\x00" * 32) + _field(5, state))
        return bytes([FLAG_ZSTD]) + _COMPRESSOR.compress(body)


def build_large_capture(path: Path, records: int = 1_000_000, *, threads: int = 1000,
                        seed: int = 0) -> Path:
    """80% small Events (~150 B), 15% EventBatches of 10, 5% zstd StateDiffs (~8 KiB)."""
    encoder = _FastEncoder(threads, seed)
    with open(path, "wb", buffering=1 << 20) as out:
        for _ in range(records):
            out.write(kcat.encode_record(encoder.record()))
    return path


def build_large_jsonl(path: Path, target_bytes: int, *, threads: int = 1000,
                      seed: int = 0) -> Path:
    """A file-backend log of about ``target_bytes`` with the same record mix (unframed)."""
    encoder = _FastEncoder(threads, seed)
    written = 0
    offset = 0
    with open(path, "wb", buffering=1 << 20) as out:
        while written < target_bytes:
            line = filelog.encode_line(offset, BASE_US + offset, unframe(encoder.record()))
            out.write(line)
            written += len(line)
            offset += 1
    return path
