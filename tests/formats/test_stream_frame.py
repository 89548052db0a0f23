"""Frame triage, the zstd guard and the bounded protobuf parse; fuzzed with hypothesis."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix.checks.stream.frame import validate_frame
from dashfix.checks.stream.scan import (
    NATIVE,
    scan_block,
    scan_message,
    scan_message_python,
    scan_record,
)
from dashfix.checks.stream.sequences import (
    ERROR_EVENT_TYPES,
    Run,
    Scanned,
    SequenceTracker,
    Single,
)
from dashfix.formats.frame import (
    FrameKind,
    WireFault,
    WireProblem,
    ZstdFault,
    ZstdFrameInfo,
    ZstdProblem,
    classify,
    diagnose_protobuf,
    guarded_decompress,
    parse_message,
    single_field_message,
    zstd_frame_info,
)
from dashfix.formats.proto import dashstream_pb2 as pb
from dashfix.inputs.streams import StreamRecord, iter_records
from dashfix.native import PURE_PYTHON_VARIABLE
from dashfix.testing.streams import (
    Messages,
    build_large_capture,
    deep_attribute_frame,
    encode_frame,
    encode_varint,
    frame_uncompressed,
    frame_zstd,
    giant_varint_frame,
    healthy_values,
    unframe,
    zstd_bomb,
)

MIB = 1 << 20


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"", FrameKind.EMPTY),
        (b"\x00\x0a\x00", FrameKind.UNCOMPRESSED),
        (b"\x01\x28\xb5\x2f\xfd", FrameKind.ZSTD),
        (b"\x0a\x00", FrameKind.LEGACY_PROTOBUF),
        (b"\x4a\x00", FrameKind.LEGACY_PROTOBUF),
        (b"\x28\xb5\x2f\xfd\x00", FrameKind.LEGACY_ZSTD),
        (b'{"a":1}', FrameKind.JSON),
        (b"[1]", FrameKind.JSON),
        (b"\x07abc", FrameKind.INVALID),
        (b"\x52\x00", FrameKind.INVALID),  # field 10: not a DashStreamMessage payload
    ],
)
def test_classify(value: bytes, kind: FrameKind) -> None:
    assert classify(value) is kind


@given(st.binary(min_size=0, max_size=20_000), st.integers(1, 19))
def test_zstd_frame_info_finds_the_frame_end(data: bytes, level: int) -> None:
    frame = zstandard.ZstdCompressor(level=level).compress(data)
    info = zstd_frame_info(frame + b"trailing")
    assert info == ZstdFrameInfo(len(data), len(frame))
    assert guarded_decompress(frame, len(data)) == data


def test_bomb_is_refused_before_decompressing() -> None:
    out = guarded_decompress(zstd_bomb()[1:], MIB)
    assert isinstance(out, ZstdProblem)
    assert out.fault is ZstdFault.DECLARED_OVERSIZE
    assert out.actual == str(512 * MIB)


_LAUNCHER = textwrap.dedent(
    """
    import os, subprocess, sys
    child = subprocess.Popen(sys.argv[1:])
    _, status, usage = os.wait4(child.pid, 0)
    print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
    """
)


def test_bomb_validation_keeps_peak_rss_low() -> None:
    """A tiny frame declaring 512 MiB: the child's peak RSS stays far below 100 MiB.

    Linux carries the pre-exec RSS of a forked child into ru_maxrss, so the child is
    started by a small launcher process rather than by the (large) test process.
    """
    script = textwrap.dedent(
        """
        from dashfix.checks.stream.frame import validate_frame
        from dashfix.testing.streams import zstd_bomb
        for limit in (1 << 20, 1 << 30):
            verdict = validate_frame(zstd_bomb(), limit=limit, path="x", record=0, offset=0)
            assert not verdict.ok, verdict
        """
    )
    result = subprocess.run([sys.executable, "-c", _LAUNCHER, sys.executable, "-c", script],
                            capture_output=True, text=True, check=True)
    exit_code, maxrss_kib = map(int, result.stdout.split())
    assert exit_code == 0, result.stderr
    assert maxrss_kib / 1024 < 100


def test_frame_without_content_size_and_trailing_frames() -> None:
    data = zstandard.ZstdCompressor(write_content_size=False).compress(b"x" * 5000)
    missing = guarded_decompress(data, MIB)
    assert isinstance(missing, ZstdProblem) and missing.fault is ZstdFault.NO_CONTENT_SIZE
    frame = zstandard.ZstdCompressor().compress(b"y" * 5000)
    trailing = guarded_decompress(frame + frame, MIB)
    assert isinstance(trailing, ZstdProblem) and trailing.fault is ZstdFault.TRAILING_DATA
    assert trailing.offset == len(frame)


def test_depth_and_giant_varints_are_located() -> None:
    deep = parse_message(deep_attribute_frame(60)[1:])
    assert isinstance(deep, WireProblem) and deep.fault is WireFault.TOO_DEEP
    shallow = parse_message(deep_attribute_frame(40)[1:])
    assert not isinstance(shallow, WireProblem)
    giant = diagnose_protobuf(giant_varint_frame()[1:])
    assert giant is not None
    assert (giant.fault, giant.offset) == (WireFault.VARINT_TOO_LONG, 1)


def test_single_field_message() -> None:
    event = Messages().event("t", 1).SerializeToString()
    assert single_field_message(event)
    assert single_field_message(b"\x0a\x00")
    assert not single_field_message(event + event)
    assert not single_field_message(event[:-1])


def test_healthy_values_validate_clean() -> None:
    for number, value in enumerate(healthy_values()):
        verdict = validate_frame(value, limit=MIB, path="x", record=number, offset=0)
        assert verdict.ok and verdict.findings == [], verdict.findings


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    values = healthy_values(per_thread=2)
    value = bytearray(draw(st.sampled_from(values)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(("flip", "cut", "insert")))
        position = draw(st.integers(0, max(len(value) - 1, 0)))
        if action == "flip" and value:
            value[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del value[position:position + draw(st.integers(1, 16))]
        else:
            value[position:position] = draw(st.binary(min_size=1, max_size=12))
    return bytes(value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=2000), mutated_frames(),
                 st.binary(max_size=64).map(lambda b: b"\x01\x28\xb5\x2f\xfd" + b)))
def test_validate_frame_never_raises(value: bytes) -> None:
    verdict = validate_frame(value, limit=64 * 1024, path="x", record=3, offset=7)
    assert verdict.ok == (verdict.message is not None and not any(
        f.severity.value == "error" for f in verdict.findings))
    for finding in verdict.findings:
        assert finding.record == 3
        assert finding.offset is not None and finding.offset >= 7


def _feed(tracker: SequenceTracker, scanned: Scanned | Single | Run, record: int) -> None:
    tracker.observe_block([scanned], [(record, record * 100, None)])


def _tracked(feed: Callable[[SequenceTracker], None]) -> tuple[object, object]:
    tracker = SequenceTracker("x", now_us=2_000_000_000_000_000)
    feed(tracker)
    findings = [(f.code, f.message) for f in tracker.finish()]
    return [summary.to_dict() for summary in tracker.summaries()], findings


def _assert_fast_path_agrees(value: bytes, *, limit: int, unframed: bool) -> None:
    """The hot path (``scan_record``) accepts a record only when ``validate_frame`` finds
    nothing in it, and hands the tracker what it reads from the decoded message; the C
    scanner answers as the Python one does, or None."""
    verdict = validate_frame(value, limit=limit, path="x", record=0, offset=0,
                             unframed=unframed)
    python = scan_record(value, limit, unframed, scan=scan_message_python)
    scanned = scan_record(value, limit, unframed)
    assert scanned is None or scanned == python
    if python is None:
        assert verdict.findings or verdict.message is None or _slow_path_only(verdict.message)
        return
    assert verdict.findings == [] and verdict.message is not None
    assert _tracked(lambda tracker: _feed(tracker, python, 0)) == _tracked(
        lambda tracker: tracker.observe(verdict.message, 0, 0))


def _slow_path_only(message: object) -> bool:
    """Error payloads and error events are healthy records the scan leaves to the slow
    path, which checks their text."""
    which = message.WhichOneof("message")  # type: ignore[attr-defined]
    payload = getattr(message, which)
    events = payload.events if which == "event_batch" else [payload] if which == "event" else []
    return which == "error" or any(event.event_type in ERROR_EVENT_TYPES for event in events)


def test_fast_path_accepts_healthy_values() -> None:
    values = healthy_values()
    for unframed in (False, True):
        stored = [unframe(value) if unframed else value for value in values]
        for value in stored:
            _assert_fast_path_agrees(value, limit=MIB, unframed=unframed)
        scans = [scan_record(value, MIB, unframed) for value in stored]
        assert None not in scans
        # The whole log through the hot path, runs included, as through the slow one.
        messages = [validate_frame(value, limit=MIB, path="x", record=0, offset=0,
                                   unframed=unframed).message for value in stored]

        def hot(tracker: SequenceTracker, scans: list[Any] = scans) -> None:
            for record, scanned in enumerate(scans):
                _feed(tracker, scanned, record)

        def slow(tracker: SequenceTracker, messages: list[Any] = messages) -> None:
            for record, message in enumerate(messages):
                tracker.observe(message, record, record * 100)

        assert _tracked(hot) == _tracked(slow)


def test_batches_come_back_as_runs() -> None:
    msgs = Messages()
    consecutive = scan_record(encode_frame(msgs.batch("t", (4, 5, 6))), MIB, False)
    assert consecutive is not None and len(consecutive) == 9
    assert consecutive[3:5] == (4, 6)
    for sequences in ((4, 6, 7), (4,)):
        items = scan_record(encode_frame(msgs.batch("t", sequences)), MIB, False)
        assert items is not None and len(items) == 4
        assert [item[0] for item in items[3]] == list(sequences)


@pytest.mark.skipif(os.environ.get(PURE_PYTHON_VARIABLE) == "1",
                    reason="the Python twins are under test")
def test_c_scanner_is_built() -> None:
    """``make test`` runs where a C compiler is, so the C helpers must have been built: an
    install that silently fell back to Python would leave them untested."""
    assert NATIVE


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=2000), mutated_frames().map(lambda value: value[1:])),
       st.integers(0, 3), st.booleans())
def test_scan_never_crashes_and_agrees(data: bytes, start: int, compressed: bool) -> None:
    start = min(start, len(data))
    native = scan_message(data, start, compressed)
    assert native is None or native == scan_message_python(data, start, compressed)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=2000), mutated_frames()), st.booleans())
def test_fast_path_never_accepts_what_validate_frame_reports(value: bytes,
                                                             unframed: bool) -> None:
    _assert_fast_path_agrees(value, limit=64 * 1024, unframed=unframed)
    _assert_fast_path_agrees(value, limit=MIB, unframed=unframed)


def test_encode_frame_compresses_like_dashflow() -> None:
    small = encode_frame(Messages().event("t", 1))
    big = encode_frame(Messages().state_diff("t", 1))
    assert small[0] == 0x00
    assert big[0] == 0x01
    verdict = validate_frame(big, limit=MIB, path="x", record=0, offset=0)
    assert verdict.ok and verdict.compressed_size is not None
    assert verdict.profiles() == {"consumer": True, "server": True}


def test_schema_reproduces_the_spec_worked_example() -> None:
    """Spec section 1.8: the codec unit-test event, byte for byte."""
    header = pb.Header(message_id=bytes(range(1, 17)), timestamp_us=1234567890,
                       tenant_id="test-tenant", thread_id="test-thread", sequence=1, type=1,
                       schema_version=1)
    message = pb.DashStreamMessage(event=pb.Event(header=header, event_type=1, node_id="start"))
    expected = bytes.fromhex(
        "00" "0a43" "0a38" "0a10" "0102030405060708090a0b0c0d0e0f10" "10d285d8cc04"
        "1a0b" + b"test-tenant".hex() + "220b" + b"test-thread".hex() + "2801" "3001" "4801"
        "1001" "1a05" + b"start".hex()
    )
    assert b"\x00" + message.SerializeToString() == expected
    verdict = validate_frame(expected, limit=MIB, path="x", record=0, offset=0)
    assert verdict.ok and verdict.findings == []


@pytest.mark.parametrize(("field", "value"), [
    ("thread_id", ""), ("message_id", b"short"), ("schema_version", 2), ("compression", 1),
    ("sequence", 0)])
def test_fast_path_checks_every_inner_header(field: str, value: object) -> None:
    """A batch whose second inner event has one bad header field, as the only fault."""
    message = Messages().batch("t-a", (1, 2, 3))
    setattr(message.event_batch.events[1].header, field, value)
    framed = frame_uncompressed(message)
    assert validate_frame(framed, limit=MIB, path="x", record=0, offset=0).findings
    _assert_fast_path_agrees(framed, limit=MIB, unframed=False)


def test_the_scanners_agree_on_the_benchmark_mix_and_the_rust_capture(tmp_path: Path) -> None:
    """Events, batches of 10 and zstd StateDiffs over many threads (the benchmark's
    generator), and the capture an independent Rust program wrote with prost and zstd:
    every record is healthy, and both scanners read it the same."""
    generated = build_large_capture(tmp_path / "mix.kcat", records=600, threads=20)
    rust = Path(__file__).parents[2] / "fixtures" / "interop" / "streams" / "healthy.kcat"
    for capture in (generated, rust):
        for record in iter_records(capture):
            assert isinstance(record, StreamRecord)
            scanned = scan_record(record.value, MIB, False)
            assert scanned is not None
            assert scanned == scan_record(record.value, MIB, False, scan=scan_message_python)


def _header_strategy(message_type: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.builds(
        pb.Header,
        # Mostly healthy values, so that most messages reach the values' comparison.
        message_id=st.one_of(st.binary(min_size=16, max_size=16),
                             st.binary(min_size=16, max_size=16), st.binary(max_size=20)),
        timestamp_us=st.integers(-(2**63), 2**63 - 1), tenant_id=st.text(max_size=8),
        thread_id=st.one_of(st.text(min_size=1, max_size=12), st.just("")),
        sequence=st.integers(0, 2**64 - 1),
        type=message_type, compression=st.sampled_from([0, 0, 0, 0, 1, 3, -1]),
        schema_version=st.sampled_from([0, 1, 1, 1, 1, 2, 2**32 - 1]),
    )


_event_types = st.sampled_from([0, 1, 11, 12, 42, 80, 83, 2**31 - 1, -5])
_attribute = st.builds(pb.AttributeValue, string_value=st.text(max_size=6))
_events = st.builds(pb.Event, header=_header_strategy(st.just(1)), event_type=_event_types,
                    node_id=st.text(max_size=6),
                    attributes=st.dictionaries(st.text(max_size=4), _attribute, max_size=2))
_messages = st.one_of(
    st.builds(lambda e: pb.DashStreamMessage(event=e), _events),
    st.builds(lambda h, es: pb.DashStreamMessage(event_batch=pb.EventBatch(header=h, events=es)),
              _header_strategy(st.sampled_from([8, 8, 0])), st.lists(_events, max_size=5)),
    st.builds(lambda h, t: pb.DashStreamMessage(token_chunk=pb.TokenChunk(
        header=h, text=t, token_ids=[1, 300, 70000], logprobs=[0.5])),
        _header_strategy(st.just(3)), st.text(max_size=10)),
    st.builds(lambda h: pb.DashStreamMessage(state_diff=pb.StateDiff(header=h)),
              _header_strategy(st.sampled_from([2, 1]))),
    st.builds(lambda h, m: pb.DashStreamMessage(error=pb.Error(header=h, message=m)),
              _header_strategy(st.just(7)), st.text(max_size=4)),
)


@settings(max_examples=400, deadline=None)
@given(_messages, st.sampled_from([False, False, False, True]),
       st.sampled_from([b"", b"\x0a\x00", b"\x98\x06\x05"]))
def test_scanners_agree_on_protobuf_encodings(message: Any, compressed: bool,
                                              extra_header: bytes) -> None:
    """On canonical encodings (what protobuf writes), with a header field repeated (merged)
    and an unknown field, the C scanner answers exactly as the Python one; both read the
    values the protobuf runtime reads (uint64 sequences, negative timestamps, truncated
    uint32 and enum fields, any UTF-8)."""
    data = message.SerializeToString()
    which = message.WhichOneof("message")
    if extra_header and which == "event":  # a second header occurrence, or an unknown field
        event = message.event
        event_bytes = event.SerializeToString() + extra_header
        data = b"\x0a" + encode_varint(len(event_bytes)) + event_bytes
    assert scan_message(data, 0, compressed) == scan_message_python(data, 0, compressed)



def test_scanners_truncate_wide_varints_as_protobuf_does() -> None:
    """A uint32 or enum field sent as a wider varint keeps its low 32 bits in protobuf:
    schema_version 2**32 + 1 reads as 1, type 2**32 + 1 as 1 (an Event)."""
    header = Messages().header("t-w", 1, 1).SerializeToString()
    wide = encode_varint(2**32 + 1)
    header += b"\x48" + wide + b"\x30" + wide  # schema_version, then type, sent again
    event = b"\x0a" + encode_varint(len(header)) + header
    data = b"\x0a" + encode_varint(len(event)) + event
    python = scan_message_python(data, 0, False)
    assert python is not None and python[0] == 1
    assert scan_message(data, 0, False) == python


_ZSTD_FAULTS = ["none", "none", "flip", "cut", "append", "no_size", "checksum", "unmarked",
                "header_flip"]


def _zstd_value(sequence: int, state_bytes: int, fault: str, where: int) -> bytes:
    """A zstd frame of a StateDiff, with one fault (or none)."""
    message = Messages().state_diff("t-z", sequence, state_bytes=state_bytes)
    if fault == "unmarked":
        return frame_zstd(message, mark_headers=False)
    message.state_diff.header.compression = 1
    compressor = zstandard.ZstdCompressor(write_content_size=fault != "no_size",
                                          write_checksum=fault == "checksum")
    value = bytearray(b"\x01" + compressor.compress(message.SerializeToString()))
    if fault in ("flip", "header_flip"):
        at = 1 + where % (min(len(value) - 1, 12) if fault == "header_flip" else len(value) - 1)
        value[at] ^= 1 << where % 8
    elif fault == "cut":
        del value[1 + where % (len(value) - 1):]
    elif fault == "append":
        value += b"\x00" * (1 + where % 5)
    return bytes(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.sampled_from([100, 700, 3000, 9000]),
                          st.sampled_from(_ZSTD_FAULTS), st.integers(0, 10**6)),
                min_size=1, max_size=6),
       st.sampled_from([MIB, 4096, 600]), st.booleans())
def test_zstd_frames_read_in_c_as_scan_record_reads_them(
        frames: list[tuple[int, int, str, int]], limit: int, unframed: bool) -> None:
    """``scan_block`` (in C: ``scan_zstd`` after the scanner) gives for each zstd frame,
    damaged or not, exactly what ``scan_record`` gives; an uncompressed record between
    them keeps its place."""
    values = [_zstd_value(*frame) for frame in frames]
    values.insert(len(values) // 2, frame_uncompressed(Messages().event("t-u", 1)))
    records = [(number, 0, value) for number, value in enumerate(values)]
    assert scan_block(records, limit, unframed) == [
        scan_record(value, limit, unframed) for value in values]
    for value in values:
        _assert_fast_path_agrees(value, limit=limit, unframed=unframed)
