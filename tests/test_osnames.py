"""File names that are not valid UTF-8: every format writes them losslessly or visibly,
and never fails (issue 13 item 4)."""

from __future__ import annotations

import base64
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dashfix.errors import ExitCode
from dashfix.osnames import is_text, json_text, name_bytes, visible
from dashfix.testing.checkpoints import StoreBuilder, flip_byte

RAW_NAME = b"a\xff.bin"
NAME = os.fsdecode(RAW_NAME)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``d/`` holding a corrupt checkpoint whose file name is not UTF-8."""
    monkeypatch.chdir(tmp_path)
    builder = StoreBuilder(tmp_path / "d")
    written = builder.checkpoint("t")
    flip_byte(written.path, 30)
    written.path.rename(tmp_path / "d" / NAME)
    return tmp_path / "d"


def _run(cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code in (ExitCode.CLEAN, ExitCode.FINDINGS), (args, result.stderr)
    assert "internal error" not in result.stderr
    return result.stdout


def test_every_verify_format_writes_the_name(cli, store: Path) -> None:
    outputs = {fmt: _run(cli, "verify", "d", "--format", fmt)
               for fmt in ("text", "concise", "table", "json", "jsonl", "sarif", "junit",
                           "github")}
    for fmt in ("text", "concise", "table", "junit", "github"):
        assert "d/a\\xff.bin" in outputs[fmt], fmt
    document = json.loads(outputs["json"])
    [finding] = [f for f in document["findings"] if f["path_in_root"] != "."]
    assert finding["path"] == "d/a\\xff.bin"
    assert base64.b64decode(finding["path_bytes"]) == b"d/" + RAW_NAME
    lines = [json.loads(line) for line in outputs["jsonl"].splitlines()]
    assert base64.b64decode(lines[0]["path_bytes"]) == b"d/" + RAW_NAME
    sarif = json.loads(outputs["sarif"])
    [result] = sarif["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "d/a%FF.bin"
    ET.fromstring(outputs["junit"])  # well-formed XML
    # The same file gives the same fingerprint on every run.
    again = json.loads(_run(cli, "verify", "d", "--format", "json"))["findings"]
    assert again[0]["fingerprint"] == finding["fingerprint"]


def test_output_files_baseline_and_list_inputs_write_the_name(cli, store: Path) -> None:
    _run(cli, "verify", "d", "--output", "json:r.json", "--output", "sarif:r.sarif",
         "--output", "concise:r.txt")
    assert json.loads(Path("r.json").read_text())["findings"][0]["path"] == "d/a\\xff.bin"
    assert "a%FF.bin" in Path("r.sarif").read_text()
    assert "d/a\\xff.bin" in Path("r.txt").read_text()
    listed = json.loads(_run(cli, "verify", "d", "--list-inputs", "--format", "json"))
    assert listed["roots"][0]["root"] == "d"
    assert "checkpoint-store" in _run(cli, "verify", "d", "--list-inputs")
    # Not baselinable (CRC damage), so the file only proves the writer copes.
    _run(cli, "baseline", "create", "d", "-o", "b.json", "--reason", "r")
    json.loads(Path("b.json").read_text())


def test_repair_and_inspect_json_write_the_name(cli, store: Path) -> None:
    # In JSON text the escape's backslash is itself escaped.
    plan = _run(cli, "repair", "d", "--format", "json")
    assert r"a\\xff.bin" in plan and json.loads(plan)
    inspected = cli("inspect", str(store / NAME), "--format", "json")
    assert "internal error" not in inspected.stderr, inspected.stderr
    assert r"a\\xff.bin" in inspected.stdout and json.loads(inspected.stdout)
    assert "a\\xff.bin" in _run(cli, "repair", "d")


def test_helpers() -> None:
    assert is_text("plain") and is_text("é") and not is_text(NAME)
    assert visible(NAME) == "a\\xff.bin" and visible("é") == "é"
    assert base64.b64decode(name_bytes(NAME)) == RAW_NAME
    assert json.loads(json_text({"k": [NAME, {"n": NAME}]})) == {
        "k": ["a\\xff.bin", {"n": "a\\xff.bin"}]}
