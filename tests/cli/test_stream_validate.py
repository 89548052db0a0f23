"""Acceptance: the real CLI on one log per finding code, on clean logs, and via verify."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dashfix.rules import all_rules, rules_by_code
from dashfix.rules.stream import KAFKA_RULES
from dashfix.testing.streams import (
    FAULTS,
    healthy_values,
    write_fault,
    write_frames_dir,
    write_jsonl,
    write_kcat,
    write_sqlite,
)
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
INTEROP = Path(__file__).parents[2] / "fixtures" / "interop" / "streams" / "healthy.kcat"
KAFKA_CODES = {r.code for r in KAFKA_RULES}
STREAM_CODES = sorted(r.code for r in all_rules() if r.family == "stream")


def test_every_stream_code_has_a_fault_fixture() -> None:
    """The Kafka-only codes have theirs on a broker (tests/checks/test_stream_kafka.py)."""
    assert sorted(FAULTS) == [code for code in STREAM_CODES if code not in KAFKA_CODES]


def _expected_exit(code: str) -> int:
    rule = rules_by_code()[code]
    if rule.unreadable:
        return 3
    return 1 if rule.severity.value == "error" else 0


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_fault_fixture_gives_exactly_its_code(cli: Cli, tmp_path: Path, code: str) -> None:
    fixture = write_fault(code, tmp_path)
    result = cli("stream", "validate", str(fixture.path), "--format", "json", *fixture.args)
    assert result.exit_code == _expected_exit(code), result.stderr
    document = result.json()
    assert {f["code"] for f in document["findings"]} == {code}
    finding = document["findings"][0]
    if not rules_by_code()[code].unreadable:
        assert finding["record"] is not None and finding["offset"] is not None
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("code", ["ST250", "ST213", "ST252"])
def test_fail_on_reaches_warnings_and_infos(cli: Cli, tmp_path: Path, code: str) -> None:
    fixture = write_fault(code, tmp_path)
    assert cli("stream", "validate", str(fixture.path), "--fail-on", "info").exit_code == 1
    assert cli("stream", "validate", str(fixture.path), "--fail-on", "never").exit_code == 0


@pytest.mark.parametrize(
    ("writer", "name"),
    [(write_kcat, "log.kcat"), (write_jsonl, "log.jsonl"), (write_sqlite, "log.sqlite"),
     (write_frames_dir, "frames")],
)
def test_clean_logs_pass(cli: Cli, tmp_path: Path, writer: Callable[[Path, list[bytes]], Path],
                         name: str) -> None:
    path = writer(tmp_path / name, healthy_values())
    result = cli("stream", "validate", str(path), "--format", "json", "--fail-on", "info")
    assert result.exit_code == 0, result.stdout
    document = result.json()
    assert document["findings"] == []
    assert [t["thread_id"] for t in document["threads"]] == ["t-a", "t-b"]
    assert document["summary"]["checked"] == {"logs": 1, "records": 12, "threads": 2}


def test_interop_capture_is_clean(cli: Cli) -> None:
    result = cli("stream", "validate", str(INTEROP), "--format", "json", "--fail-on", "info")
    assert result.exit_code == 0
    document = result.json()
    assert document["findings"] == []
    assert document["input_format"] == "kcat"
    threads = {t["thread_id"]: t for t in document["threads"]}
    assert (threads["t-a"]["first_sequence"], threads["t-a"]["last_sequence"]) == (1, 25)
    assert (threads["t-b"]["first_sequence"], threads["t-b"]["last_sequence"]) == (1, 21)


def test_text_output_has_the_thread_table(cli: Cli) -> None:
    result = cli("stream", "validate", str(INTEROP))
    assert result.exit_code == 0
    assert "t-a" in result.stdout and "1..25" in result.stdout
    assert "42 records" in result.stdout


def test_limits_profiles_and_bad_options(cli: Cli, tmp_path: Path) -> None:
    fixture = write_fault("ST240", tmp_path)
    consumer = cli("stream", "validate", str(fixture.path), "--format", "json")
    assert {f["code"] for f in consumer.json()["findings"]} == {"ST210"}
    finding = consumer.json()["findings"][0]
    assert finding["details"]["fits"] == {"consumer": False, "server": True}
    by_bytes = cli("stream", "validate", str(fixture.path), "--limits", "3000000")
    assert by_bytes.exit_code == 0
    assert cli("stream", "validate", str(fixture.path), "--limits", "huge").exit_code == 2
    assert cli("stream", "validate", str(fixture.path), "--input-format", "xml").exit_code == 2
    assert cli("stream", "validate", str(fixture.path), "--max-line-bytes", "0").exit_code == 2


def test_forced_input_format(cli: Cli, tmp_path: Path) -> None:
    path = write_kcat(tmp_path / "log.bin", healthy_values())
    result = cli("stream", "validate", str(path), "--input-format", "jsonl", "--format", "json")
    assert result.exit_code == 1
    assert {f["code"] for f in result.json()["findings"]} <= {"ST205", "ST206"}


def test_missing_input_exits_3(cli: Cli, tmp_path: Path) -> None:
    result = cli("stream", "validate", str(tmp_path / "nope.kcat"), "--format", "json")
    assert result.exit_code == 3
    assert [f["code"] for f in result.json()["findings"]] == ["ST200"]


def test_verify_picks_up_stream_logs(cli: Cli, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    write_kcat(artifacts / "events.kcat", healthy_values())
    write_jsonl(artifacts / "dashstream-events.jsonl", healthy_values())
    shutil.copy(INTEROP, artifacts / "interop.kcat")
    clean = cli("verify", str(artifacts), "--format", "json")
    assert clean.exit_code == 0, clean.stdout
    checked = clean.json()["summary"]["checked"]
    assert (checked["logs"], checked["records"], checked["threads"]) == (3, 66, 6)
    fault = write_fault("ST217", tmp_path / "bomb")
    shutil.copy(fault.path, artifacts / "bomb.kcat")
    failing = cli("verify", str(artifacts), "--format", "json")
    assert failing.exit_code == 1
    assert [(f["code"], f["path_in_root"], f["record"]) for f in failing.json()["findings"]] == [
        ("ST217", "bomb.kcat", 0)]


def test_verify_takes_a_folder_of_frames_as_one_log(cli: Cli, tmp_path: Path) -> None:
    write_frames_dir(tmp_path / "frames", healthy_values())
    (tmp_path / "single.frame").write_bytes(healthy_values()[0])
    listed = cli("verify", str(tmp_path), "--list-inputs", "--format", "json").json()
    targets = [(t["path"], t["format"]) for t in listed["roots"][0]["targets"]]
    assert targets == [(f"{tmp_path}/frames", None), (f"{tmp_path}/single.frame", "frame")]
    result = cli("verify", str(tmp_path), "--format", "json")
    assert result.exit_code == 0
    assert result.json()["summary"]["checked"]["logs"] == 2


def test_verify_limits_option(cli: Cli, tmp_path: Path) -> None:
    fixture = write_fault("ST240", tmp_path / "logs")
    assert cli("verify", str(tmp_path / "logs"), "--limits", "consumer").exit_code == 1
    result = cli("verify", str(tmp_path / "logs"), "--limits", "server", "--format", "json")
    assert result.exit_code == 0
    assert [f["code"] for f in result.json()["findings"]] == ["ST240"]
    assert fixture.path.name == "log.kcat"


def test_findings_in_a_folder_of_frames_name_the_member(cli: Cli, tmp_path: Path) -> None:
    folder = write_frames_dir(tmp_path / "frames", healthy_values())
    (folder / "000003.frame").write_bytes(b"\x07junk")
    result = cli("stream", "validate", str(folder), "--format", "json")
    assert result.exit_code == 1
    assert [(f["code"], f["path_in_root"], f["record"]) for f in result.json()["findings"]] == [
        ("ST211", "frames/000003.frame", 3), ("ST250", "frames/000005.frame", 5)]


def test_findings_are_ordered_by_record_within_the_log(cli: Cli) -> None:
    demo = Path(__file__).parents[2] / "fixtures" / "demo" / "telemetry" / "events.kcat"
    result = cli("stream", "validate", str(demo), "--format", "json")
    records = [f["record"] for f in result.json()["findings"]]
    assert len(records) >= 2 and records == sorted(records)
    text = cli("stream", "validate", str(demo)).stdout
    assert text.index("ST250") < text.index("ST258")  # record 2 before record 6
