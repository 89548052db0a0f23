from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dashfix.findings import Finding, Severity
from dashfix.report.github import escape_data, escape_property, render, step_summary
from dashfix.results import Report
from dashfix.testing.gate import symlink_farm


def test_escaping_matches_the_runner() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    # Data keeps ':' and ',' as they are: only properties need them escaped.
    assert escape_data("a:b,c") == "a:b,c"


def test_annotation_lines_per_severity_and_no_suppressed(tmp_path: Path) -> None:
    findings = [
        Finding("DF001", Severity.ERROR, "x,y:z", "bad\nthing 50%"),
        Finding("DF002", Severity.WARNING, "w", "warn"),
        Finding("DF003", Severity.INFO, "i", "note"),
        Finding("DF002", Severity.WARNING, "s", "hidden", suppressed=True),
    ]
    out = io.StringIO()
    render(Report(roots=["art", "other"], findings=findings), out, environ={})
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "::notice file=i,title=DF003 nothing-to-check::i: note",
        "::warning file=w,title=DF002 symlink-not-followed::w: warn",
        "::error file=x%2Cy%3Az,title=DF001 unreadable-path::x,y:z: bad%0Athing 50%25",
    ]
    assert len(lines) == 4 and "1 suppressed by baseline" in lines[3]


def test_paths_are_relative_to_the_workspace(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "art").mkdir()
    out = io.StringIO()
    report = Report(roots=["art"],
                    findings=[Finding("DF002", Severity.WARNING, "s/l", "m", root="art")])
    render(report, out, environ={})
    assert out.getvalue().startswith("::warning file=art/s/l,")


def test_step_summary_is_appended_when_set(cli, tmp_path: Path, monkeypatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    symlink_farm(tmp_path / "art", 2)
    result = cli("verify", str(tmp_path / "art"), "--format", "github")
    assert result.stdout.count("::warning ") == 2
    text = summary.read_text()
    assert text.startswith("earlier step\n## dashfix verify")
    assert text.count("| warning | DF002 |") == 2


def test_step_summary_escapes_table_cells() -> None:
    report = Report(roots=["a"], findings=[Finding("DF002", Severity.WARNING, "p|q", "x\ny")])
    assert "| warning | DF002 | p\\|q | x y |" in step_summary(report)


def _runner_unescape(text: str) -> str:
    # What the Actions runner does with a command's data and property values.
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


@given(st.text())
def test_escaping_round_trips_through_the_runner(text: str) -> None:
    data, prop = escape_data(text), escape_property(text)
    assert not any(ch in data for ch in "\r\n")
    assert not any(ch in prop for ch in "\r\n:,")
    assert _runner_unescape(data) == text
    assert _runner_unescape(prop) == text
