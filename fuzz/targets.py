"""One fuzz target per decoder: what each may do with any bytes, and where fuzzing starts.

A target calls its decoder's public entry points on the input and lets through only the
documented outcomes: a value, a problem object, or the decoder's documented error type
(``DecodeError`` for the bincode family). Anything else escapes the target, and is a crash:
a traceback a user would see. Targets whose work is counted (the checkpoint tail searches,
``SearchWork``) also assert the documented linear bound on every input, so a super-linear
path fails on the input that shows it, whatever the machine's speed.

``seeds()`` gives valid encodings built with the project's own fixture builders, so the
fuzzer starts from inputs that get past the first checks.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from dashfix.checks.stream import scan
from dashfix.checks.stream.frame import validate_frame
from dashfix.context import CONSUMER_LIMIT
from dashfix.formats import dchk, dlq, filelog, frame, index, kcat, variants
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import (
    MAX_TAIL_SIZE,
    SearchWork,
    TailRules,
    empty_metadata_tails,
    encode_checkpoint,
    last_tail_end,
    parse_tail,
    read_head,
)
from dashfix.formats.index import IndexEntry
from dashfix.inputs.checkpoint_files.file_reader import summarise_file

GARBAGE_SEARCH = 64 * 1024
BYTES_PER_WINDOW_BYTE = 40
"""The documented bound of the tail searches (docs/formats.md), asserted per input."""
# Caps small enough that one input cannot allocate much, large enough to reach every branch.
VALUE_CAP = 4096
PAYLOAD_CAP = 4096


@dataclass(frozen=True)
class Target:
    name: str
    decoder: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]


def _checkpoint_payloads() -> list[bytes]:
    from dashfix.testing.checkpoints import agent_state

    return [
        encode_checkpoint("t1_0011223344556677_chkpt3", "t1", agent_state(step=3), "reason",
                          1_767_225_600, 5, "t1_0011223344556677_chkpt2"),
        encode_checkpoint("t1_chkpt0", "t1", agent_state(note="n"), "start", 1_767_225_600, 0,
                          None, {"k": "v", "source": ""}),
    ]


# -- DCHK header ------------------------------------------------------------------------


def _dchk_header(data: bytes) -> None:
    failure = dchk.verify(data)
    header = dchk.parse_header(data)
    assert (header is None) == (len(data) < dchk.HEADER_SIZE)
    dchk.has_damaged_magic(data)
    if failure is None:
        assert dchk.is_wrapped(data) and header is not None
        assert len(dchk.payload_of(data)) == header.length


def _dchk_seeds() -> list[bytes]:
    return [dchk.wrap(payload) for payload in _checkpoint_payloads()] + [b"DCHK" + bytes(16)]


# -- bincode payload and tail -------------------------------------------------------------


def _assert_linear(work: SearchWork, window: int) -> None:
    assert work.positions <= window + 1, work
    assert work.steps <= window + 1, work
    assert work.bytes <= BYTES_PER_WINDOW_BYTE * window + 64, work


def _checkpoint_payload(data: bytes) -> None:
    try:
        head = read_head(data)
    except DecodeError:
        return
    window = min(len(data) - head.state_start, MAX_TAIL_SIZE)
    for exhaustive in (False, True):
        work = SearchWork()
        found = parse_tail(data, head, exhaustive=exhaustive, work=work)
        _assert_linear(work, window)
        for tail in found.candidates:
            assert head.state_start <= tail.state_end <= len(data)
    work = SearchWork()
    end = last_tail_end(data, head, GARBAGE_SEARCH, work)
    _assert_linear(work, min(len(data) - head.state_start, GARBAGE_SEARCH))
    if end is not None:
        assert parse_tail(data[:end], head).candidates, end
    rules = TailRules(head.checkpoint_id, head.thread_id)
    for tail in empty_metadata_tails(data, 0, head.state_start, len(data), rules):
        assert tail[4] >= head.state_start


def _checkpoint_payload_seeds() -> list[bytes]:
    payloads = _checkpoint_payloads()
    return [*payloads, payloads[0] + b"trailing", payloads[0][:-5]]


# -- a whole store file: every variant the name and bytes select -------------------------

_NAMES = ("t1_chkpt0.bin", "t1_chkpt0.v.bin", "t1_chkpt0.v.bin.gz", "t1_chkpt0.bin.gz",
          "t1_chkpt0.json", ".t1_chkpt0.bin.0123456789abcdef0123456789abcdef.tmp")


def _checkpoint_file(data: bytes) -> None:
    if not data:
        return
    name = _NAMES[data[0] % len(_NAMES)]
    folder = _scratch_folder()
    path = os.path.join(folder, name)
    with open(path, "wb") as out:
        out.write(data[1:])
    try:
        record = summarise_file(folder, name, os.stat(path))
    finally:
        os.unlink(path)
    assert record.name == name


_SCRATCH: list[str] = []


def _scratch_folder() -> str:
    """One private folder per fuzzing process for the file target (summarise_file reads a
    real file: the same read path as verify)."""
    if not _SCRATCH:
        import tempfile

        _SCRATCH.append(tempfile.mkdtemp(prefix="dashfix-fuzz-"))
    return _SCRATCH[0]


def _checkpoint_file_seeds() -> list[bytes]:
    payload = _checkpoint_payloads()[0]
    versioned = variants.encode_versioned(variants.VersionedCheckpoint(
        1, '{"a": 1}', "t1_chkpt0", "t1", "n", 1_767_225_600, 0, None, {}))
    return [
        b"\x00" + dchk.wrap(payload), b"\x01" + versioned, b"\x02" + gzip.compress(versioned),
        b"\x03" + gzip.compress(payload), b"\x04" + orjson.dumps({"id": "t1_chkpt0"}),
        b"\x05" + dchk.wrap(payload), b"\x00" + payload, b"\x00" + bytes(64),
    ]


# -- index.bin ---------------------------------------------------------------------------


def _index(data: bytes) -> None:
    try:
        entries = index.decode_index_entries(data)
    except DecodeError as exc:
        assert 0 <= exc.offset <= len(data), exc
        return
    index.duplicate_threads(entries)
    assert index.decode_index(data) == dict(entries)


def _index_seeds() -> list[bytes]:
    return [index.encode_index({"t1": IndexEntry("t1_chkpt0", 1_767_225_600, 7),
                                "t2": IndexEntry("t2_chkpt9", 1_767_225_601, 0)}),
            bytes(8)]


# -- gzip and Versioned variants ---------------------------------------------------------


def _gzip(data: bytes) -> None:
    try:
        inflated = variants.gunzip_bounded(data, max_size=1 << 20)
    except DecodeError:
        return
    assert len(inflated) <= 1 << 20


def _gzip_seeds() -> list[bytes]:
    return [gzip.compress(b"x" * 100), gzip.compress(_checkpoint_payloads()[0])]


def _versioned(data: bytes) -> None:
    variants.classify("t1_chkpt0.v.bin", data[: dchk.HEADER_SIZE])
    variants.classify("t1_chkpt0.bin", data[: dchk.HEADER_SIZE])
    try:
        checkpoint = variants.decode_versioned(data)
    except DecodeError:
        pass
    else:
        assert isinstance(checkpoint.data_is_json, bool)
    with contextlib.suppress(DecodeError):
        variants.decode_legacy_json(data)


def _versioned_seeds() -> list[bytes]:
    return [
        variants.encode_versioned(variants.VersionedCheckpoint(
            2, '{"messages": ["hi"]}', "t1_chkpt0", "t1", "n", 1_767_225_600, 0, "t1_chkpt",
            {"k": "v"})),
        orjson.dumps({"id": "t1_chkpt0", "thread_id": "t1", "node": "n", "state": {},
                      "timestamp": {"secs_since_epoch": 1, "nanos_since_epoch": 0},
                      "parent_id": None, "metadata": {}}),
    ]


# -- codec frames (Python frame checks, zstd, protobuf walk) -----------------------------


def _frames(data: bytes) -> None:
    for unframed in (False, True):
        validate_frame(data, limit=CONSUMER_LIMIT, path="fuzz", record=0, offset=0,
                       unframed=unframed)
    frame.classify(data)
    frame.zstd_frame_info(data)
    frame.guarded_decompress(data, VALUE_CAP)
    frame.diagnose_protobuf(data)
    frame.single_field_message(data)
    list(frame.top_level_fields(data))


def _stream_values() -> list[bytes]:
    from dashfix.testing.streams import healthy_values

    return healthy_values(per_thread=2)


# -- the stream scanner: the C one (where built) and its Python twin --------------------


def _stream_scan(data: bytes) -> None:
    for unframed in (False, True):
        python = scan.scan_record(data, CONSUMER_LIMIT, unframed, scan=scan.scan_message_python)
        if scan.NATIVE:
            native = scan.scan_record(data, CONSUMER_LIMIT, unframed)
            # The C scanner may refuse what the Python one takes, never the reverse.
            assert native is None or python is not None, (native, python)
        scan.scan_block([(0, 0, data)], CONSUMER_LIMIT, unframed)


# -- kcat captures -----------------------------------------------------------------------


def _kcat(data: bytes) -> None:
    stream = io.BytesIO(data)
    count = 0
    for item in kcat.read_blocks(stream, len(data), max_value_bytes=VALUE_CAP):
        if isinstance(item, kcat.KcatProblem):
            continue
        count += len(item)
    assert count <= len(data) // 4

    def read_at(size: int, offset: int) -> bytes:
        return data[offset : offset + size]

    for hop in (1, 3):
        end = kcat.find_boundary(read_at, 0, hop, len(data))
        assert end is None or 0 < end < len(data)


def _kcat_seeds() -> list[bytes]:
    return [b"".join(kcat.encode_record(v) for v in [*_stream_values(), None, b""])]


# -- JSONL file-backend log --------------------------------------------------------------


def _jsonl(data: bytes) -> None:
    for line in data.split(b"\n"):
        filelog.decode_line(line, value_cap=VALUE_CAP)

    def read_at(size: int, offset: int) -> bytes:
        return data[offset : offset + size]

    end = filelog.find_line_boundary(read_at, 0, 2, len(data))
    assert end is None or 0 < end < len(data)


def _jsonl_seeds() -> list[bytes]:
    return [b"".join(filelog.encode_line(n, 1_767_225_600_000_000 + n, value[1:])
                     for n, value in enumerate(_stream_values()))]


# -- DLQ dump lines ----------------------------------------------------------------------


def _dlq(data: bytes) -> None:
    for line in data.split(b"\n"):
        parsed = dlq.parse_line(line, payload_cap=PAYLOAD_CAP)
        if isinstance(parsed, dlq.DlqRecord):
            dlq.inconsistencies(parsed)
            dlq.replayable(parsed)


def _dlq_seeds() -> list[bytes]:
    from dashfix.testing.dlq import library_record, valid_payload, websocket_record

    records = [library_record(valid_payload()), websocket_record(valid_payload(2)),
               library_record(b"x" * 5000)]
    lines = [orjson.dumps(record) for record in records]
    envelope = orjson.dumps({"topic": "t", "partition": 0, "offset": 1, "key": "k",
                             "payload": lines[0].decode()})
    return [b"\n".join(lines), envelope, b"key\t" + lines[1]]


# Fastest first, so that a campaign cut short by time has completed the most targets.
TARGETS = {target.name: target for target in (
    Target("dchk_header", "DCHK header (formats/dchk.py)", _dchk_header, _dchk_seeds),
    Target("index", "index.bin (formats/index.py)", _index, _index_seeds),
    Target("gzip", "gzip variant (formats/variants.py gunzip_bounded)", _gzip, _gzip_seeds),
    Target("versioned", "Versioned and legacy JSON variants (formats/variants.py)", _versioned,
           _versioned_seeds),
    Target("dlq", "DLQ dump lines (formats/dlq.py)", _dlq, _dlq_seeds),
    Target("jsonl", "JSONL file-backend log lines (formats/filelog.py)", _jsonl, _jsonl_seeds),
    Target("kcat", "kcat captures (formats/kcat.py)", _kcat, _kcat_seeds),
    Target("stream_scan", "stream scanner, C and Python (checks/stream/scan.py, _native.c)",
           _stream_scan, _stream_values),
    Target("checkpoint_payload", "bincode payload ids and tail searches (formats/checkpoint.py,"
           " formats/bincode.py)", _checkpoint_payload, _checkpoint_payload_seeds),
    Target("checkpoint_file", "a whole store file, every variant (inputs/checkpoint_files/)",
           _checkpoint_file, _checkpoint_file_seeds),
    Target("frames", "codec frames: flag, zstd, protobuf (formats/frame.py, checks/stream/"
           "frame.py)", _frames, _stream_values),
)}


def _all_targets() -> Target:
    """Every target in one: the first byte picks the target, the rest is its input. The
    short run in ``make test`` uses it, so the instrumented import (seconds) is paid once."""
    names = list(TARGETS)

    def run(data: bytes) -> None:
        if data:
            TARGETS[names[data[0] % len(names)]].run(data[1:])

    def seeds() -> list[bytes]:
        return [bytes([number]) + seed for number, name in enumerate(names)
                for seed in TARGETS[name].seeds()]

    return Target(ALL, "every target above, picked by the first byte", run, seeds)


ALL = "all"
RUNNABLE = {**TARGETS, ALL: _all_targets()}
"""What ``fuzz.run_target`` takes: each target, and all of them in one process."""
