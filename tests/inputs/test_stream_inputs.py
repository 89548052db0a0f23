"""Stream log containers: detection, record iteration, caps, read-only SQLite."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from dashfix.formats import filelog
from dashfix.inputs.dlq import iter_dump
from dashfix.inputs.streams import (
    InputFormat,
    ProblemKind,
    ReadOptions,
    RecordProblem,
    StreamRecord,
    default_max_line_bytes,
    iter_records,
    iter_values,
    resolve_format,
    sniff_stream_file,
)
from dashfix.testing.streams import (
    healthy_values,
    unframe,
    write_frames_dir,
    write_jsonl,
    write_kcat,
    write_sqlite,
)


def _records(path: Path) -> list[StreamRecord]:
    out = []
    for item in iter_records(path):
        assert isinstance(item, StreamRecord), item
        out.append(item)
    return out


@pytest.mark.parametrize(
    ("writer", "name", "fmt", "unframed"),
    [
        (write_kcat, "log.kcat", InputFormat.KCAT, False),
        (write_jsonl, "log.jsonl", InputFormat.JSONL, True),
        (write_sqlite, "log.sqlite", InputFormat.SQLITE, True),
        (write_frames_dir, "frames", InputFormat.FRAME_DIR, False),
    ],
)
def test_each_container_yields_every_record(
    tmp_path: Path, writer: Callable[[Path, list[bytes]], Path], name: str, fmt: InputFormat,
    unframed: bool,
) -> None:
    values = healthy_values()
    path = writer(tmp_path / name, values)
    assert resolve_format(path) is fmt
    records = _records(path)
    expected = [unframe(v) for v in values] if unframed else values
    assert [r.value for r in records] == expected
    assert [r.index for r in records] == list(range(len(values)))
    assert all(r.source_format == fmt.value and r.unframed is unframed for r in records)


def test_single_frame_file(tmp_path: Path) -> None:
    value = healthy_values()[-1]
    path = tmp_path / "one.frame"
    path.write_bytes(value)
    assert resolve_format(path) is InputFormat.FRAME
    assert [r.value for r in _records(path)] == [value]


def test_sqlite_is_read_without_writing(tmp_path: Path) -> None:
    path = write_sqlite(tmp_path / "db.sqlite", healthy_values())
    before = sorted(os.listdir(tmp_path)), path.stat().st_mtime_ns, path.read_bytes()
    os.chmod(path, 0o444)
    os.chmod(tmp_path, 0o555)
    try:
        assert len(_records(path)) == len(healthy_values())
    finally:
        os.chmod(tmp_path, 0o755)
    assert (sorted(os.listdir(tmp_path)), path.stat().st_mtime_ns, path.read_bytes()) == before


def test_jsonl_line_cap_follows_the_frame_cap(tmp_path: Path) -> None:
    assert default_max_line_bytes(1 << 20) > filelog.base64_cap(1 << 20)
    path = tmp_path / "log.jsonl"
    good = filelog.encode_line(0, 1, unframe(healthy_values()[0]))
    path.write_bytes(good + b'{"data":"' + b"A" * 5000 + b'"}\n' + good)
    items = list(iter_records(path, options=ReadOptions(max_line_bytes=1000)))
    assert isinstance(items[0], StreamRecord)
    problem = items[1]
    assert isinstance(problem, RecordProblem)
    assert (problem.kind, problem.index, problem.offset, problem.size) == (
        ProblemKind.LINE_TOO_LONG, 1, len(good), 5012)
    assert isinstance(items[2], StreamRecord) and items[2].offset == len(good) + 5012


def test_forced_format_and_unknown_content(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    (problem,) = iter_records(path)
    assert isinstance(problem, RecordProblem) and problem.kind is ProblemKind.UNREADABLE
    (problem,) = iter_records(path, input_format="jsonl")
    assert isinstance(problem, RecordProblem) and problem.kind is ProblemKind.BAD_LINE
    assert problem.index == 0 and problem.offset == 0


@pytest.mark.parametrize(
    "line",
    [
        b'{"original_payload_base64":"AAo=","error":"x","source_topic":"t","source_partition":0,'
        b'"source_offset":1,"timestamp":"t","consumer_id":"c","error_type":"decode_error",'
        b'"trace_id":"x"}\n',
        b'{"trace_id":"x","payload_sha256":"00","original_payload_base64":null,'
        b'"kafka_partition":0,"kafka_offset":5,"first_bytes_hex":"[0a]"}\n',
    ],
)
def test_dlq_lines_are_not_claimed(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(line)
    assert sniff_stream_file(path, line) is None


def test_discovery_sniffer_is_strict(tmp_path: Path) -> None:
    frame = tmp_path / "blob.bin"
    frame.write_bytes(healthy_values()[0])
    assert sniff_stream_file(frame, frame.read_bytes()) is None
    renamed = tmp_path / "blob.frame"
    frame.rename(renamed)
    assert sniff_stream_file(renamed, renamed.read_bytes()) == "frame"
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert sniff_stream_file(other, other.read_bytes()[:4096]) is None


@pytest.mark.parametrize(
    ("writer", "name"),
    [(write_kcat, "log.kcat"), (write_jsonl, "log.jsonl"), (write_frames_dir, "frames")],
)
def test_iter_values_matches_iter_records(
    tmp_path: Path, writer: Callable[[Path, list[bytes]], Path], name: str
) -> None:
    values = healthy_values()
    path = writer(tmp_path / name, [*values, b"\x00" * 40])
    if path.is_file():  # a cut-off last record: the reader's problem comes through too
        with open(path, "ab") as handle:
            handle.write(b"\x00\x00\x01\x00\x00" if name.endswith(".kcat") else b"{\n")
    records = list(iter_records(path, options=ReadOptions(limit=64)))
    fast = [record for item in iter_values(path, options=ReadOptions(limit=64))
            for record in (item if type(item) is list else [item])]
    assert any(isinstance(item, RecordProblem) for item in records)
    assert len(fast) == len(records)
    for item, expected in zip(fast, records, strict=True):
        if type(item) is tuple:
            assert isinstance(expected, StreamRecord)
            assert expected.source_format in ("kcat", "jsonl")
            assert item == (expected.index, expected.offset, expected.value)
        else:
            assert item == expected


GROWN = 3000
"""Copies of the healthy log: past one 1 MiB read buffer, so the reader reads again."""


@pytest.mark.parametrize(("write", "name"), [(write_jsonl, "log.jsonl"),
                                             (write_kcat, "events.kcat")])
def test_a_log_still_being_written_is_read_as_it_was_when_opened(
    tmp_path: Path, write: Callable[[Path, list[bytes]], Path], name: str,
) -> None:
    """A live log (DashStream's file backend appends while dashfix reads) is read up to
    its size at the open: a writer faster than the reader is never chased for ever."""
    path = tmp_path / name
    write(path, healthy_values() * GROWN)
    appended = path.read_bytes()
    records = iter_records(path)
    first = next(records)
    with open(path, "ab") as log:
        log.write(appended)
    count = 1 + sum(isinstance(record, StreamRecord) for record in records)
    assert isinstance(first, StreamRecord) and count == len(healthy_values()) * GROWN


def test_a_dump_still_being_written_is_read_as_it_was_when_opened(tmp_path: Path) -> None:
    dump = (Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "streams"
            / "dlq.jsonl").read_bytes()
    path = tmp_path / "dlq.jsonl"
    path.write_bytes(dump * GROWN)
    lines = iter_dump(path)
    next(lines)
    with open(path, "ab") as out:
        out.write(dump * GROWN)
    assert 1 + sum(1 for _ in lines) == dump.count(b"\n") * GROWN
