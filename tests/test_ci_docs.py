"""Runs the command lines of docs/ci.md's YAML recipes and shell blocks on a small artifact
folder. The action's own steps run in tests/test_install.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dashfix.errors import ExitCode
from dashfix.testing.gate import symlink_farm

REPO = Path(__file__).parents[1]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PREFIX = re.compile(r"^\s*(?:-\s+)?(?:run:\s+)?(dashfix\s.*)$")


def dashfix_lines(text: str) -> list[str]:
    return [
        match.group(1)
        for line in text.splitlines()
        if (match := PREFIX.match(line)) is not None
    ]


def doc_commands() -> list[str]:
    text = (REPO / "docs" / "ci.md").read_text()
    return [
        command
        for language, body in FENCE.findall(text)
        if language in ("sh", "yaml")
        for command in dashfix_lines(body)
    ]


@pytest.fixture
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("DASHFIX_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    symlink_farm(tmp_path / "artifacts", 3)
    return tmp_path


def test_the_doc_shows_every_ci_format() -> None:
    commands = " ".join(doc_commands())
    for needed in ("--format github", "sarif:", "--format junit", "junit:", "--list-inputs",
                   "baseline create", "--baseline", "config show", "--format jsonl"):
        assert needed in commands


def test_doc_recipes_run(cli, artifacts: Path) -> None:
    for command in doc_commands():
        argv = shlex.split(command)
        assert argv[0] == "dashfix"
        result = cli(*argv[1:])
        assert result.exit_code in (ExitCode.CLEAN, ExitCode.FINDINGS), (command, result.stderr)
    assert len(json.loads((artifacts / "dashfix.sarif").read_text())["runs"][0]["results"]) == 3
    assert ET.parse(artifacts / "dashfix-junit.xml").getroot().tag == "testsuites"
    assert (artifacts / "reports" / "dashfix.sarif").exists()
    assert len((artifacts / "dashfix.jsonl").read_text().splitlines()) == 4
    baseline = json.loads((artifacts / ".dashfix-baseline.json").read_text())
    assert {e["reason"] for e in baseline["entries"]} == {"legacy stores, ticket OPS-42"}
