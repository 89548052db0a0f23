"""Human output: concise lines, the table, --statistics and COLUMNS."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from dashfix.errors import ExitCode
from dashfix.findings import Finding, Severity
from dashfix.report.text import render, render_concise, render_table, statistics
from dashfix.results import Report

DEMO = Path(__file__).parents[2] / "fixtures" / "demo"
LONG_FIX = "dashfix repair " + "very-long-folder-name/" * 6 + "checkpoints --apply"
ANSI = re.compile("\x1b\\[")


def _report() -> Report:
    findings = [
        Finding("CK104", Severity.ERROR, "s/a.bin", "a.bin: checksum mismatch: expected 0x1, "
                "computed 0x2", offset=8, expected="0x1", actual="0x2", fix_command=LONG_FIX,
                root="art"),
        Finding("CK140", Severity.ERROR, "s/b.bin", "parent is later", thread_id="thread-1",
                checkpoint_id="thread-1_checkpoint_0000000000000042", expected="<= 5",
                actual="7", root="art"),
        Finding("DF002", Severity.WARNING, "s/link", "symlink not followed", root="art"),
        Finding("DF002", Severity.WARNING, "s/link2", "hidden", root="art", suppressed=True),
    ]
    return Report(roots=["art"], findings=findings, stats={"stores": 1})  # type: ignore[arg-type]


def test_concise_is_one_line_per_finding_with_the_fix_below(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()
    render_concise(_report(), out)
    lines = out.getvalue().splitlines()
    # Neither the file name nor expected/found is said a second time.
    assert lines[0] == "art/s/a.bin:8: CK104 error checksum mismatch: expected 0x1, computed 0x2"
    assert lines[1] == f"    fix: {LONG_FIX}"  # never wrapped, whatever COLUMNS says
    assert lines[2] == "art/s/b.bin: CK140 error parent is later (expected <= 5, found 7)"
    assert lines[3] == "art/s/link: DF002 warning symlink not followed"
    assert lines[4].endswith("2 errors, 1 warning (1 suppressed by baseline)")
    assert len(lines) == 5 and not ANSI.search(out.getvalue())


def test_text_is_concise_when_not_a_terminal() -> None:
    one, two = io.StringIO(), io.StringIO()
    render(_report(), one)
    render_concise(_report(), two)
    assert one.getvalue() == two.getvalue()


@pytest.mark.parametrize("columns", [80, 120])
def test_table_folds_the_message_but_never_ids_or_commands(monkeypatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    render_table(_report(), out)
    text = out.getvalue()
    lines = text.splitlines()
    assert f"  {LONG_FIX}" in lines  # one line, copyable
    assert "thread-1_checkpoint_0000000000000042" in text  # the id is not broken
    narrow = io.StringIO()
    monkeypatch.setenv("COLUMNS", "30")
    render_table(_report(), narrow)
    assert "checkpoint thread-1_checkpoint_0000000000000042" not in narrow.getvalue()
    assert "thread-1_checkpoint_0000000000000042" in narrow.getvalue()
    assert all(len(line) <= columns for line in lines if LONG_FIX not in line)
    assert "art/s/a.bin" in lines and "art/s/link" in lines  # one heading per path
    assert "hidden" not in text


def test_statistics_count_per_code(cli) -> None:
    result = cli("verify", str(DEMO), "--statistics")
    assert result.exit_code == ExitCode.FINDINGS
    rows = result.stdout.splitlines()
    assert re.fullmatch(r"\d+  [A-Z]{2}\d{3}  (error|warning|info) +\S+", rows[0])
    assert "checked:" in rows[-1]
    document = cli("verify", str(DEMO), "--statistics", "--format", "json").json()
    counted = {row["code"]: row["count"] for row in document["statistics"]}
    findings = cli("verify", str(DEMO), "--format", "json").json()["findings"]
    assert sum(counted.values()) == len(findings) == document["summary"]["findings"]
    assert cli("verify", str(DEMO), "--statistics", "--format", "sarif").exit_code == 2


def test_statistics_order() -> None:
    rows = statistics(_report())
    assert [(row["code"], row["count"]) for row in rows] == [("CK104", 1), ("CK140", 1),
                                                             ("DF002", 1)]


def test_demo_concise_and_table_formats(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    concise = cli("verify", str(DEMO))
    assert concise.stdout == cli("verify", str(DEMO), "--format", "concise").stdout
    findings = cli("verify", str(DEMO), "--format", "json").json()["findings"]
    finding_lines = [line for line in concise.stdout.splitlines()
                     if not line.startswith(" ") and ": " in line and "checked" not in line]
    assert len(finding_lines) == len(findings)
    table = cli("verify", str(DEMO), "--format", "table").stdout
    assert "to fix:" in table
    assert json.dumps(findings)  # sanity: the same findings in every format


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_is_the_table_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    terminal, table = _Terminal(), _Terminal()
    render(_report(), terminal)
    render_table(_report(), table)
    assert terminal.getvalue() == table.getvalue()
    assert "to fix:" in terminal.getvalue()
