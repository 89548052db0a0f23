"""Acceptance tests of ``dashfix stream replay``: round trips, reframing, skips, filters."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashfix.replay import _Replayer
from dashfix.testing.streams import (
    BASE_US,
    Messages,
    encode_frame,
    frame_zstd,
    healthy_values,
    unframe,
    write_frames_dir,
    write_jsonl,
    write_kcat,
    write_sqlite,
)
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
WRITERS: dict[str, Callable[[Path, list[bytes]], Path]] = {
    "kcat": lambda p, v: write_kcat(p, v),
    "jsonl": lambda p, v: write_jsonl(p, v),
    "frames": lambda p, v: write_frames_dir(p, v),
    "sqlite": lambda p, v: write_sqlite(p, v),
}


def digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes()
                                       for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def validate(cli: Cli, path: Path) -> list[str]:
    result = cli("stream", "validate", str(path), "--format", "json")
    return [f["code"] for f in result.json()["findings"]]


def replay(cli: Cli, source: Path, out: Path, *args: str) -> CliResult:
    return cli("stream", "replay", str(source), "--to", str(out), "--format", "json", *args)


@pytest.mark.parametrize("source_format", sorted(WRITERS))
@pytest.mark.parametrize("to_format", ["kcat", "jsonl", "frames"])
def test_round_trip_validates_clean(cli: Cli, tmp_path: Path, source_format: str,
                                    to_format: str) -> None:
    values = healthy_values()
    source = WRITERS[source_format](tmp_path / f"in.{source_format}", values)
    assert validate(cli, source) == []
    before = digest(source)
    out = tmp_path / f"out.{to_format}"
    result = replay(cli, source, out, "--to-format", to_format)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = result.json()
    assert (report["read"], report["written"], report["skipped"]) == (12, 12, [])
    assert validate(cli, out) == []
    assert digest(source) == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".dashfix.tmp")]


def _legacy_values() -> list[bytes]:
    msgs = Messages()
    small = [msgs.event("t-a", n).SerializeToString() for n in (1, 2)]
    big = frame_zstd(msgs.state_diff("t-a", 3, state_bytes=20000))[1:]  # raw zstd, no flag
    return [*small, big, unframe(encode_frame(msgs.event("t-a", 4)))]


@pytest.mark.parametrize("to_format", ["kcat", "frames"])
def test_reframe_rewrites_legacy_records(cli: Cli, tmp_path: Path, to_format: str) -> None:
    source = write_kcat(tmp_path / "legacy.kcat", _legacy_values())
    assert sorted(set(validate(cli, source))) == ["ST213", "ST214"]
    plain = tmp_path / f"plain.{to_format}"
    assert replay(cli, source, plain, "--to-format", to_format).exit_code == 0
    assert sorted(set(validate(cli, plain))) == ["ST213", "ST214"]
    out = tmp_path / f"out.{to_format}"
    result = replay(cli, source, out, "--to-format", to_format, "--reframe")
    assert result.exit_code == 0
    assert result.json()["reframed"] == 4
    assert validate(cli, out) == []


def test_reframed_large_record_is_compressed_with_marked_header(cli: Cli, tmp_path: Path) -> None:
    source = write_kcat(tmp_path / "legacy.kcat", _legacy_values())
    out = tmp_path / "frames"
    assert replay(cli, source, out, "--to-format", "frames", "--reframe").exit_code == 0
    firsts = [p.read_bytes()[:5] for p in sorted(out.iterdir())]
    assert firsts[2] == b"\x01\x28\xb5\x2f\xfd" and firsts[0][:1] == b"\x00"


def test_invalid_records_are_skipped_and_listed(cli: Cli, tmp_path: Path) -> None:
    good = [encode_frame(Messages(seed=n).event("t-a", n)) for n in (1, 2, 3)]
    values: list[bytes | None] = [good[0], b"\x07garbage", good[1], None, good[2]]
    source = write_kcat(tmp_path / "in.kcat", values)
    out = tmp_path / "out.kcat"
    result = replay(cli, source, out)
    assert result.exit_code == 1
    report = result.json()
    offsets = [sum(4 + len(v or b"") for v in values[:i]) for i in range(len(values))]
    assert [(s["record"], s["offset"], s["codes"]) for s in report["skipped"]] == [
        (1, offsets[1], ["ST211"]), (3, offsets[3], ["ST203"])]
    assert report["written"] == 3
    assert validate(cli, out) == []
    text = cli("stream", "replay", str(source), "--to", str(tmp_path / "t.kcat"))
    assert f"skipped record 1 (byte {offsets[1]}): first byte 0x07" in text.stdout


def test_filters(cli: Cli, tmp_path: Path) -> None:
    source = write_kcat(tmp_path / "in.kcat", healthy_values())
    by_thread = replay(cli, source, tmp_path / "a.kcat", "--thread", "t-a").json()
    assert (by_thread["written"], by_thread["filtered"]) == (6, 6)
    by_type = replay(cli, source, tmp_path / "b.kcat", "--types", "state_diff,event_batch")
    assert by_type.json()["written"] == 2
    by_event = replay(cli, source, tmp_path / "c.kcat", "--types", "node_start").json()
    assert by_event["written"] == 11  # every event and the batch of node_start events
    # healthy_values stamps headers BASE_US + n*1000 for n = 1..; keep n in 3..5
    window = replay(cli, source, tmp_path / "d.kcat", "--since", str(BASE_US + 3000),
                    "--until", str(BASE_US + 6000)).json()
    assert window["written"] == 3
    iso = replay(cli, source, tmp_path / "e.kcat", "--since", "2100-01-01T00:00:00Z").json()
    assert iso["written"] == 0 and iso["filtered"] == 12


@pytest.mark.parametrize("args", [
    ("--to-format", "jsonl", "--reframe"),
    ("--to-format", "parquet"),
    ("--types", "nonsense"),
    ("--since", "yesterday"),
    ("--since", "200", "--until", "100"),
])
def test_usage_errors(cli: Cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    source = write_kcat(tmp_path / "in.kcat", healthy_values())
    result = cli("stream", "replay", str(source), "--to", str(tmp_path / "o"), *args)
    assert result.exit_code == 2
    assert not (tmp_path / "o").exists()


def test_output_never_touches_the_input(cli: Cli, tmp_path: Path) -> None:
    source = write_kcat(tmp_path / "in.kcat", healthy_values())
    frames = write_frames_dir(tmp_path / "frames", healthy_values())
    before = (digest(source), digest(frames))
    assert replay(cli, source, source).exit_code == 2
    assert replay(cli, frames, frames / "inside.kcat").exit_code == 2
    assert replay(cli, source, frames, "--to-format", "frames").exit_code == 2  # exists
    assert (digest(source), digest(frames)) == before


def test_unreadable_input_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("not a log")
    out = tmp_path / "out.kcat"
    result = replay(cli, source, out)
    assert result.exit_code == 3
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("source_format", sorted(WRITERS))
@pytest.mark.parametrize("to_format", ["kcat", "jsonl", "frames"])
@pytest.mark.parametrize("args", [(), ("--thread", "t-a"),
                                  ("--since", str(BASE_US + 3000), "--until",
                                   str(BASE_US + 9000))])
def test_healthy_records_copied_undecoded_give_what_decoding_gives(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source_format: str,
        to_format: str, args: tuple[str, ...]) -> None:
    """Replay copies the records ``stream validate``'s hot path finds healthy without
    decoding them: output and report are those of the decoding path, record for record."""
    values = [*healthy_values(), *_legacy_values(), b"\x07garbage",
              encode_frame(Messages().error("t-b", 9, text=""))]
    source = WRITERS[source_format](tmp_path / f"in.{source_format}", values)
    copy_healthy = _Replayer._copy_healthy
    copied = []

    def counting(self: _Replayer, item: Any) -> Any:
        answer = copy_healthy(self, item)
        copied.append(answer is not False)
        return answer

    monkeypatch.setattr(_Replayer, "_copy_healthy", counting)
    outputs = []
    for copying in (True, False):
        if not copying:
            monkeypatch.setattr(_Replayer, "_copy_healthy", lambda self, item: False)
        out = tmp_path / f"out-{copying}.{to_format}"
        result = replay(cli, source, out, "--to-format", to_format, *args)
        report = {k: v for k, v in result.json().items() if k != "output"}
        outputs.append((result.exit_code, report, digest(out)))
    assert outputs[0] == outputs[1]
    # Bare protobuf (file and SQLite backends) needs a frame for kcat and frames output.
    framed_source = source_format in ("kcat", "frames")
    assert any(copied) == (framed_source or to_format == "jsonl")
