"""The gate options of ``dashfix verify`` through the real CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dashfix.cli.gate_cli import GateFlags, apply_settings
from dashfix.config import resolve_settings
from dashfix.context import CONSUMER_LIMIT, SERVER_LIMIT, VerifyOptions
from dashfix.errors import ExitCode
from dashfix.report import MACHINE_FORMATS
from dashfix.testing.gate import symlink_farm


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("DASHFIX_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_several_outputs_in_one_run(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path / "art", 2)
    result = cli("verify", "art", "--fail-on", "warning",
                 "--output", "sarif:out/dashfix.sarif", "--output", "junit:out/junit.xml",
                 "-o", "jsonl:out/all.jsonl")
    assert result.exit_code == ExitCode.FINDINGS
    assert "2 warnings" in result.stdout  # text still goes to the terminal
    sarif = json.loads((tmp_path / "out" / "dashfix.sarif").read_text())
    assert len(sarif["runs"][0]["results"]) == 2
    assert len(list(ET.parse(tmp_path / "out" / "junit.xml").getroot().iter("failure"))) == 2
    assert len((tmp_path / "out" / "all.jsonl").read_text().splitlines()) == 3


def test_output_file_is_never_partial(cli, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "dashfix.sarif"
    target.write_text("previous complete file")
    (tmp_path / "out" / "not-a-dir").write_text("")
    result = cli("verify", ".", "-o", "sarif:out/dashfix.sarif",
                 "-o", "json:out/not-a-dir/x.json")
    assert result.exit_code == ExitCode.FAILURE
    assert "out/not-a-dir/x.json" in result.stderr
    # The SARIF file was written completely (error document or report), never half.
    json.loads(target.read_text())
    assert [p.name for p in (tmp_path / "out").iterdir() if ".tmp" in p.name] == []


@pytest.mark.parametrize("spec", ["sarif", "yaml:x.out", "sarif:"])
def test_bad_output_spec_is_usage_error(cli, spec: str) -> None:
    result = cli("verify", ".", "--output", spec)
    assert result.exit_code == ExitCode.USAGE
    assert "FORMAT:FILE" in result.stderr


@pytest.mark.parametrize("fmt", sorted(MACHINE_FORMATS))
def test_machine_formats_still_carry_a_document_on_error(cli, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "baseline.json").write_text("[]")
    result = cli("verify", ".", "--format", fmt, "--baseline", "baseline.json")
    assert result.exit_code == ExitCode.USAGE
    assert "baseline.json" in result.stderr
    if fmt == "json":
        assert result.json()["summary"]["error"].startswith("baseline baseline.json")
    elif fmt == "jsonl":
        summary = json.loads(result.stdout.splitlines()[-1])
        assert summary["type"] == "summary" and summary["exit_code"] == ExitCode.USAGE
    elif fmt == "sarif":
        assert result.json()["runs"][0]["invocations"][0]["executionSuccessful"] is False
    elif fmt == "junit":
        assert ET.fromstring(result.stdout).find("./testsuite/testcase/error") is not None
    else:
        assert result.stdout.startswith("::error title=dashfix failed::baseline")


def test_text_format_error_goes_to_stderr_only(cli) -> None:
    result = cli("verify", ".", "--baseline", "missing.json")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == "" and "missing.json" in result.stderr


def test_list_inputs_checks_nothing(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path / "art", 1)
    (tmp_path / "art" / "notes.txt").write_text("hello")
    result = cli("verify", "art", "--list-inputs")
    assert result.exit_code == ExitCode.CLEAN
    assert "notes.txt: not a recognised store, log or dump" in result.stdout
    assert "DF002" in result.stdout and "nothing was checked" in result.stdout
    document = cli("verify", "art", "--list-inputs", "--format", "json").json()
    root = document["roots"][0]
    assert root["root"] == "art"
    assert root["skipped"] == [{"path": "art/notes.txt",
                                "reason": "not a recognised store, log or dump"}]
    assert [p["code"] for p in root["problems"]] == ["DF002"]


def test_list_inputs_of_a_missing_path_is_exit_3(cli) -> None:
    result = cli("verify", "absent", "--list-inputs", "--format", "json")
    assert result.exit_code == ExitCode.FAILURE
    assert result.json()["roots"][0]["problems"][0]["code"] == "DF001"


def test_list_inputs_rejects_report_formats(cli) -> None:
    assert cli("verify", ".", "--list-inputs", "--format", "sarif").exit_code == ExitCode.USAGE


def test_severity_flag_regrades(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path / "art", 1)
    assert cli("verify", "art").exit_code == ExitCode.CLEAN
    assert cli("verify", "art", "--severity", "DF002=error").exit_code == ExitCode.FINDINGS
    assert cli("verify", "art", "--severity", "DF002").exit_code == ExitCode.USAGE


def test_unwritable_output_still_leaves_a_json_document(cli, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    result = cli("verify", ".", "--format", "json", "-o", "sarif:blocker/x.sarif")
    assert result.exit_code == ExitCode.FAILURE
    assert result.json()["summary"]["error"].startswith("cannot write --output file")


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        (GateFlags(), {}, 12345),
        (GateFlags(), {"DASHFIX_LIMITS": "server"}, SERVER_LIMIT),
        (GateFlags(limits="consumer"), {"DASHFIX_LIMITS": "server"}, CONSUMER_LIMIT),
        (GateFlags(limits="2048"), {}, 2048),
    ],
)
def test_limits_follow_flag_env_config_precedence(
    flags: GateFlags, env: dict[str, str], expected: int
) -> None:
    options = VerifyOptions(limit_bytes=12345)
    apply_settings(options, resolve_settings(flags.given(), environ=env))
    assert options.limit_bytes == expected
