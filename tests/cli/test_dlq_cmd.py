"""Acceptance tests of ``dashfix dlq validate`` and ``dashfix dlq replay`` (real CLI)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dashfix.findings import Rule
from dashfix.rules.dlq import RULES
from dashfix.testing.dlq import (
    DLQ_FAULTS,
    healthy_dump,
    invalid_payload,
    large_payload,
    legacy_payload,
    library_record,
    valid_payload,
    websocket_record,
    write_dlq_fault,
    write_dump,
)
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
INTEROP = Path(__file__).parents[2] / "fixtures" / "interop" / "streams" / "dlq.jsonl"
EXIT = {"error": 1, "warning": 0, "info": 0}


def digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_dq_code_has_a_fault_fixture() -> None:
    assert sorted(DLQ_FAULTS) == sorted(rule.code for rule in RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_fault_fixture_holds_exactly_its_code(cli: Cli, tmp_path: Path, rule: Rule) -> None:
    fixture = write_dlq_fault(rule.code, tmp_path / rule.code)
    result = cli("dlq", "validate", str(fixture.path), "--format", "json", *fixture.args)
    document = result.json()
    assert {f["code"] for f in document["findings"]} == {rule.code}, document["findings"]
    expected_exit = 3 if rule.unreadable else EXIT[rule.severity.value]
    assert result.exit_code == expected_exit
    for finding in document["findings"]:
        if not rule.unreadable:
            assert finding["record"] is not None and finding["offset"] is not None
            assert finding["message"].startswith(
                f"record {finding['record']} (byte {finding['offset']}): ")


def test_healthy_dump_passes(cli: Cli, tmp_path: Path) -> None:
    result = cli("dlq", "validate", str(healthy_dump(tmp_path / "dlq.jsonl")), "--format", "json")
    assert result.exit_code == 0
    document = result.json()
    assert document["findings"] == []
    assert document["dlq"]["replayable"] == 3
    assert document["summary"]["checked"] == {"dumps": 1, "records": 3}


def test_interop_dump_via_cli(cli: Cli) -> None:
    result = cli("dlq", "validate", str(INTEROP), "--format", "json")
    assert result.exit_code == 1
    found = [(f["code"], f["record"], f["offset"]) for f in result.json()["findings"]]
    assert found == [("DQ309", 1, 392), ("DQ311", 2, 1098), ("DQ304", 3, 1511),
                     ("DQ303", 4, 1543)]
    assert "DQ308" not in result.stdout  # the placeholder sha256 is never compared


def test_text_output_and_fail_on(cli: Cli) -> None:
    result = cli("dlq", "validate", str(INTEROP))
    assert result.exit_code == 1
    assert "DQ303" in result.stdout and "1 DLQ dump" in result.stdout
    assert "DLQ records: 3 unique of 5 lines, 1 replayable, 0 producer-side" in result.stdout
    assert cli("dlq", "validate", str(INTEROP), "--fail-on", "never").exit_code == 0


def test_usage_errors(cli: Cli) -> None:
    assert cli("dlq", "validate", str(INTEROP), "--format", "xml").exit_code == 2
    assert cli("dlq", "validate", str(INTEROP), "--limits", "huge").exit_code == 2


def test_replay_writes_only_replayable_payloads(cli: Cli, tmp_path: Path) -> None:
    dump = shutil.copy(INTEROP, tmp_path / "dlq.jsonl")
    before = digest(Path(dump))
    out = tmp_path / "replayed.kcat"
    result = cli("dlq", "replay", str(dump), "--to", str(out), "--format", "json")
    assert result.exit_code == 1  # records were skipped
    report = result.json()
    assert (report["read"], report["written"]) == (5, 1)
    assert [(s["record"], s["offset"], s["codes"]) for s in report["skipped"]] == [
        (1, 392, ["DQ309"]), (2, 1098, ["DQ311"]), (3, 1511, ["DQ304"]), (4, 1543, ["DQ303"])]
    assert "truncated" in report["skipped"][0]["reason"]
    assert digest(Path(dump)) == before
    validated = cli("stream", "validate", str(out), "--format", "json")
    assert validated.exit_code == 0 and validated.json()["findings"] == []


def _mixed_dump(path: Path) -> Path:
    return write_dump(path, [
        library_record(valid_payload(1), offset=3, number=0),
        library_record(large_payload(), offset=4, number=1),
        websocket_record(valid_payload(2), offset=5, number=2),
        library_record(valid_payload(1), offset=3, number=0),  # retried send
        library_record(large_payload(), truncate_at=500, offset=6, number=3),
        websocket_record(invalid_payload(), offset=7, number=4, include_payload=False),
        library_record(invalid_payload(), offset=8, number=5),
        library_record(legacy_payload(3), offset=9, number=6),
    ])


@pytest.mark.parametrize(("to_format", "reframe"), [
    ("kcat", False), ("kcat", True), ("frames", False), ("frames", True), ("jsonl", False),
])
def test_replay_round_trip(cli: Cli, tmp_path: Path, to_format: str, reframe: bool) -> None:
    dump = _mixed_dump(tmp_path / "dlq.jsonl")
    before = digest(dump)
    out = tmp_path / f"out.{to_format}"
    args = ["dlq", "replay", str(dump), "--to", str(out), "--to-format", to_format,
            "--format", "json"]
    result = cli(*args, *(["--reframe"] if reframe else []))
    report = result.json()
    assert result.exit_code == 1
    assert [s["codes"] for s in report["skipped"]] == [["DQ312"], ["DQ309"], ["DQ310"],
                                                       ["DQ311"]]
    assert report["written"] == 4
    assert digest(dump) == before
    validated = cli("stream", "validate", str(out), "--format", "json").json()
    codes = [f["code"] for f in validated["findings"]]
    legacy_kept = to_format != "jsonl" and not reframe
    assert codes == (["ST213"] if legacy_kept else [])
    assert report["reframed"] == (1 if reframe else 0)


def test_replay_missing_dump_exits_3(cli: Cli, tmp_path: Path) -> None:
    result = cli("dlq", "replay", str(tmp_path / "absent.jsonl"), "--to", str(tmp_path / "o"))
    assert result.exit_code == 3
    assert not (tmp_path / "o").exists()


def test_verify_gates_a_folder_with_dumps_and_logs(cli: Cli, tmp_path: Path) -> None:
    shutil.copy(INTEROP, tmp_path / "dlq.jsonl")
    healthy_dump(tmp_path / "clean-dlq.jsonl")
    result = cli("verify", str(tmp_path), "--format", "json")
    assert result.exit_code == 1
    document = result.json()
    assert [(f["code"], f["path_in_root"], f["record"]) for f in document["findings"]] == [
        ("DQ309", "dlq.jsonl", 1), ("DQ311", "dlq.jsonl", 2), ("DQ304", "dlq.jsonl", 3),
        ("DQ303", "dlq.jsonl", 4)]
    assert document["summary"]["checked"]["dumps"] == 2
    (tmp_path / "dlq.jsonl").unlink()
    assert cli("verify", str(tmp_path), "--format", "json").exit_code == 0
