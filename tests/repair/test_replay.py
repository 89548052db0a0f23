"""Replay building blocks: DashFlow's encoder rules, atomic writers, output checks, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashfix.errors import UsageError
from dashfix.formats.frame import ZSTD_MAGIC, guarded_decompress, parse_message
from dashfix.formats.reframe import bare_protobuf, encode_frame, headers
from dashfix.repair.replay import OutputFormat, check_output, open_writer
from dashfix.replay import ReplayFilters, parse_time, parse_types
from dashfix.testing.streams import Messages


def _decoded(frame: bytes) -> object:
    body = frame[1:]
    if frame[0] == 1:
        out = guarded_decompress(body, 1 << 24)
        assert isinstance(out, bytes)
        body = out
    return parse_message(body)


def test_small_message_stays_uncompressed_and_byte_identical() -> None:
    message = Messages().event("t-a", 1)
    raw = message.SerializeToString()
    assert encode_frame(message, raw) == b"\x00" + raw


def test_large_message_is_compressed_with_every_header_marked() -> None:
    message = Messages().batch("t-a", range(1, 40))
    raw = message.SerializeToString()
    assert len(raw) > 512
    frame = encode_frame(message, raw)
    assert frame[:5] == b"\x01" + ZSTD_MAGIC
    decoded = _decoded(frame)
    assert [h.compression for h in headers(decoded)] == [1] * 40
    assert len(frame) - 1 < len(raw)


def test_incompressible_message_stays_uncompressed_and_unmarked() -> None:
    import random

    message = Messages().event("t-a", 1, attributes={"blob": random.Random(1).randbytes(4000)},
                               compression=1)
    raw = message.SerializeToString()
    frame = encode_frame(message, raw)
    assert frame[0] == 0
    assert [h.compression for h in headers(_decoded(frame))] == [0]


def test_bare_protobuf_clears_zstd_marks_only_when_needed() -> None:
    plain = Messages().event("t-a", 1)
    raw = plain.SerializeToString()
    assert bare_protobuf(plain, raw) is raw
    marked = Messages().event("t-a", 1, compression=1)
    cleared = parse_message(bare_protobuf(marked, marked.SerializeToString()))
    assert [h.compression for h in headers(cleared)] == [0]


@pytest.mark.parametrize("to_format", [f for f in OutputFormat if f is not OutputFormat.KAFKA])
def test_writer_failure_leaves_nothing(tmp_path: Path, to_format: OutputFormat) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), open_writer(out, to_format) as writer:
        writer.write(b"\x00\x0a\x00", 1, b"t")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_writer_replaces_a_file_atomically(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"old\n")
    with open_writer(out, OutputFormat.JSONL) as writer:
        writer.write(b"\x0a\x00", 7, b"t")
        writer.write(b"\x0a\x00", 8, b"t")
    assert out.read_bytes() == (b'{"offset":0,"timestamp_us":7,"data":"CgA="}\n'
                                b'{"offset":1,"timestamp_us":8,"data":"CgA="}\n')


def test_frames_writer_names_sort_in_record_order(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    with open_writer(out, OutputFormat.FRAMES) as writer:
        for n in range(12):
            writer.write(bytes([0, n]), 0, b"t")
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == "0000000000.frame" and names[-1] == "0000000011.frame"
    assert [(out / name).read_bytes()[1] for name in names] == list(range(12))


def test_check_output_refusals(tmp_path: Path) -> None:
    source = tmp_path / "in.kcat"
    source.write_bytes(b"")
    folder = tmp_path / "frames"
    folder.mkdir()
    with pytest.raises(UsageError, match="input"):
        check_output(source, source, OutputFormat.KCAT)
    with pytest.raises(UsageError, match="input"):
        check_output(folder, folder / "x.kcat", OutputFormat.KCAT)
    with pytest.raises(UsageError, match="exists"):
        check_output(source, folder, OutputFormat.FRAMES)
    with pytest.raises(UsageError, match="is a folder"):
        check_output(source, folder, OutputFormat.KCAT)
    with pytest.raises(UsageError, match="does not exist"):
        check_output(source, tmp_path / "no" / "out.kcat", OutputFormat.KCAT)
    link = tmp_path / "link.kcat"
    link.symlink_to(source)
    with pytest.raises(UsageError, match="input"):
        check_output(source, link, OutputFormat.KCAT)


@pytest.mark.parametrize(("text", "micros"), [
    ("1760000000000000", 1_760_000_000_000_000),
    ("2025-10-09T08:53:20Z", 1_760_000_000_000_000),
    ("2025-10-09T08:53:20.5", 1_760_000_000_500_000),
    ("2025-10-09T10:53:20+02:00", 1_760_000_000_000_000),
    ("-5", -5),
])
def test_parse_time(text: str, micros: int) -> None:
    assert parse_time(text) == micros


def test_parse_time_and_types_reject_garbage() -> None:
    with pytest.raises(UsageError):
        parse_time("last tuesday")
    with pytest.raises(UsageError, match="bogus"):
        parse_types(["event", "bogus"])
    assert parse_types(["Event, NODE_START", "state_diff"]) == {"event", "node_start",
                                                                "state_diff"}


def test_filter_on_batch_inner_event_types() -> None:
    batch = Messages().batch("t-a", (1, 2))  # inner events are node_start
    assert ReplayFilters(types=frozenset({"node_start"})).accepts(batch)
    assert not ReplayFilters(types=frozenset({"graph_end"})).accepts(batch)
    assert not ReplayFilters(threads=frozenset({"t-b"})).accepts(batch)
