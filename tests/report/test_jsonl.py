from __future__ import annotations

import json
from pathlib import Path

from dashfix.errors import ExitCode
from dashfix.testing.gate import symlink_farm


def test_one_line_per_finding_then_summary(cli, tmp_path: Path) -> None:
    rels = symlink_farm(tmp_path, 3)
    result = cli("verify", str(tmp_path), "--format", "jsonl", "--fail-on", "warning")
    assert result.exit_code == ExitCode.FINDINGS
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["finding"] * 3 + ["summary"]
    assert [line["path_in_root"] for line in lines[:3]] == rels
    assert [line["path"] for line in lines[:3]] == [f"{tmp_path}/{rel}" for rel in rels]
    assert lines[-1]["findings"] == 3 and lines[-1]["exit_code"] == ExitCode.FINDINGS
