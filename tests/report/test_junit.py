from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dashfix.errors import ExitCode
from dashfix.findings import Finding, Severity
from dashfix.report.junit import to_element
from dashfix.results import Report
from dashfix.testing.gate import symlink_farm


def _report(fail_on: Severity | None = Severity.INFO) -> Report:
    return Report(
        roots=["art"],
        fail_on=fail_on,
        targets=[("checkpoint-store", "stores/a"), ("checkpoint-store", "stores/b"),
                 ("stream-log", "logs/x.jsonl")],
        findings=[
            Finding("DF002", Severity.WARNING, "stores/a/link", "symlink"),
            Finding("GT404", Severity.INFO, "stores/a/f.bin", "stale\x00entry", offset=7),
            Finding("DF002", Severity.WARNING, "logs/x.jsonl", "accepted", suppressed=True,
                    suppression_reason="known"),
            Finding("DF001", Severity.ERROR, "missing", "cannot read"),
        ],
    )


def _parse(report: Report) -> ET.Element:
    # Round-trip through text so the test checks what GitLab and Jenkins would read.
    tree = ET.ElementTree(to_element(report))
    return ET.fromstring(ET.tostring(tree.getroot(), encoding="unicode"))


def test_one_testcase_per_target_and_family() -> None:
    root = _parse(_report())
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {
        "stores/a [scan]", "stores/a [gate]", "stores/b [checks]", "logs/x.jsonl [scan]",
        "missing [scan]",
    }
    failure = cases["stores/a [gate]"].find("failure")
    assert failure is not None
    assert failure.get("type") == "GT404"
    assert failure.text is not None
    assert "GT404 info stores/a/f.bin @7: stale\\x00entry" in failure.text
    assert cases["stores/b [checks]"].find("failure") is None
    suppressed = cases["logs/x.jsonl [scan]"]
    assert suppressed.find("failure") is None
    out = suppressed.find("system-out")
    assert out is not None and out.text is not None and "reason: known" in out.text
    assert cases["missing [scan]"].get("classname") == "dashfix.scan"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "5" and suite.get("failures") == "3"


def test_findings_below_fail_on_are_skipped_not_failures() -> None:
    root = _parse(_report(fail_on=Severity.ERROR))
    cases = {case.get("name"): case for case in root.iter("testcase")}
    for name in ("stores/a [scan]", "stores/a [gate]"):
        assert cases[name].find("failure") is None
        skipped = cases[name].find("skipped")
        assert skipped is not None and "below --fail-on error" in (skipped.get("message") or "")
        out = cases[name].find("system-out")
        assert out is not None and out.text is not None and "below --fail-on" in out.text
    # Unreadable input fails the run (exit code 3) whatever --fail-on says.
    assert cases["missing [scan]"].find("failure") is not None
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "2")
    never = _parse(_report(fail_on=None))
    assert [case.get("name") for case in never.iter("testcase") if case.find("failure")
            is not None] == ["missing [scan]"]


def test_run_error_is_an_error_testcase() -> None:
    root = _parse(Report(roots=["x"], error="config broken", error_exit=ExitCode.USAGE))
    error = root.find("./testsuite/testcase/error")
    assert error is not None and error.get("message") == "config broken"
    assert root.get("errors") == "1"


def test_cli_junit_parses(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path, 2)
    result = cli("verify", str(tmp_path), "--format", "junit", "--fail-on", "warning")
    assert result.exit_code == ExitCode.FINDINGS
    root = ET.fromstring(result.stdout)
    failures = [f.get("type") for f in root.iter("failure")]
    assert failures == ["DF002", "DF002"]
