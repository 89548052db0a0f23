"""The Rust-written capture (prost + zstd) decodes exactly as the corpus README describes."""

from __future__ import annotations

from pathlib import Path

from dashfix.checks.stream.frame import FrameVerdict, validate_frame
from dashfix.formats.frame import FrameKind
from dashfix.inputs.streams import InputFormat, StreamRecord, iter_records, resolve_format

CAPTURE = Path(__file__).parents[2] / "fixtures" / "interop" / "streams" / "healthy.kcat"


def _decoded() -> list[tuple[StreamRecord, FrameVerdict]]:
    out = []
    for record in iter_records(CAPTURE):
        assert isinstance(record, StreamRecord)
        verdict = validate_frame(record.value, limit=1 << 20, path="healthy.kcat",
                                 record=record.index, offset=record.offset)
        assert verdict.findings == []
        assert verdict.ok
        out.append((record, verdict))
    return out


def test_capture_is_detected_as_kcat() -> None:
    assert resolve_format(CAPTURE) is InputFormat.KCAT


def test_threads_sequences_and_types() -> None:
    sequences: dict[str, list[int]] = {"t-a": [], "t-b": []}
    batches = []
    diffs = []
    for record, verdict in _decoded():
        message = verdict.message
        which = message.WhichOneof("message")
        payload = getattr(message, which)
        thread = payload.header.thread_id
        if which == "event":
            assert verdict.kind is FrameKind.UNCOMPRESSED
            sequences[thread].append(payload.header.sequence)
        elif which == "event_batch":
            batches.append((thread, payload.header.sequence, payload.header.type,
                            [e.header.sequence for e in payload.events]))
        else:
            assert which == "state_diff"
            diffs.append((record, verdict, thread, payload.header.sequence))
    assert sequences == {"t-a": list(range(1, 21)), "t-b": list(range(1, 21))}
    assert batches == [("t-a", 0, 8, [21, 22, 23, 24, 25])]
    assert len(diffs) == 1
    record, verdict, thread, sequence = diffs[0]
    assert (thread, sequence) == ("t-b", 21)
    assert record.value[0] == 0x01
    assert verdict.kind is FrameKind.ZSTD
    assert verdict.compressed_size < verdict.decompressed_size
    assert verdict.message.state_diff.header.compression == 1


def test_record_offsets_chain_through_the_file() -> None:
    decoded = _decoded()
    assert len(decoded) == 42
    end = 0
    for record, _ in decoded:
        assert record.offset == end
        assert record.value is not None
        end = record.offset + 4 + len(record.value)
    assert end == CAPTURE.stat().st_size
