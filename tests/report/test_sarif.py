from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dashfix.errors import ExitCode
from dashfix.findings import Finding, Rule, Severity
from dashfix.report.sarif import FINGERPRINT_KEY, to_sarif
from dashfix.results import Report
from dashfix.rules import all_rules
from dashfix.testing.gate import symlink_farm

SCHEMA_FILE = Path(__file__).parents[2] / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"

DAMAGE = Rule(
    code="ZZ901", name="test-damage", severity=Severity.ERROR, family="test",
    summary="s", explanation="e", bug="-", fix="f", baselinable=False,
)


def validate(document: Any) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator(schema).validate(document)


def constructed_report(root: Path) -> Report:
    findings = [
        Finding("DF002", Severity.WARNING, "store/link", "symlink not followed", actual="../x"),
        Finding("ZZ901", Severity.ERROR, "store/a b%.bin", "crc mismatch\nsecond line",
                thread_id="t1", checkpoint_id="c1", offset=40, record=3,
                expected="0x1", actual="0x2", fix_command="dashfix repair store"),
        Finding("DF002", Severity.WARNING, "other", "accepted", suppressed=True,
                suppression_reason="known"),
    ]
    return Report(roots=[str(root)], findings=findings, baseline=".dashfix-baseline.json")


def test_constructed_report_validates_and_keeps_every_field(tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    document = to_sarif(constructed_report(tmp_path))
    validate(document)
    run = document["runs"][0]
    ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert ids[: len(all_rules())] == [rule.code for rule in all_rules()]
    assert "ZZ901" in ids  # an unregistered code still gets a descriptor
    damage = next(r for r in run["results"] if r["ruleId"] == "ZZ901")
    assert ids[damage["ruleIndex"]] == "ZZ901"
    location = damage["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "store/a%20b%25.bin", "uriBaseId": "SRCROOT"}
    assert location["region"] == {"byteOffset": 40}
    assert damage["level"] == "error"
    assert "expected 0x1, found 0x2" in damage["message"]["text"]
    assert damage["properties"]["fix"] == "dashfix repair store"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == tmp_path.as_uri() + "/"


def test_baseline_states_and_suppressions(tmp_path: Path) -> None:
    results = to_sarif(constructed_report(tmp_path))["runs"][0]["results"]
    by_path = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in results}
    assert by_path["other"]["baselineState"] == "unchanged"
    assert by_path["other"]["suppressions"] == [
        {"kind": "external", "state": "accepted", "justification": "known"}
    ]
    assert by_path["store/link"]["baselineState"] == "new"
    assert "suppressions" not in by_path["store/link"]


def test_no_baseline_means_no_baseline_state(tmp_path: Path) -> None:
    report = constructed_report(tmp_path)
    report.baseline = None
    assert all("baselineState" not in r for r in to_sarif(report)["runs"][0]["results"])


def test_fingerprint_ignores_wording_but_not_the_root(tmp_path: Path) -> None:
    one = Finding("DF002", Severity.WARNING, "s/x", "one wording", thread_id="t", root="a")
    two = Finding("DF002", Severity.ERROR, "s/x", "another wording", thread_id="t", offset=9,
                  root="a")
    first = to_sarif(Report(roots=["a"], findings=[one]))
    second = to_sarif(Report(roots=["a", "b"], findings=[two]))
    fingerprints = [d["runs"][0]["results"][0]["partialFingerprints"] for d in (first, second)]
    assert fingerprints[0] == fingerprints[1] == {FINGERPRINT_KEY: one.fingerprint}
    moved = Finding("DF002", Severity.WARNING, "s/y", "one wording", thread_id="t", root="a")
    other_root = Finding("DF002", Severity.WARNING, "s/x", "one wording", thread_id="t",
                         root="b")
    assert len({one.fingerprint, moved.fingerprint, other_root.fingerprint}) == 3


def test_cli_sarif_validates_with_relative_locations(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rels = symlink_farm(tmp_path / "art", 3)
    result = cli("verify", str(tmp_path / "art"), "--format", "sarif")
    assert result.exit_code == ExitCode.CLEAN  # DF002 is a warning; fail-on is error
    document = result.json()
    validate(document)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in document["runs"][0]["results"]
    ]
    assert uris == [f"art/{rel}" for rel in rels]
    assert document["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == tmp_path.as_uri() + "/"
    assert str(tmp_path) not in json.dumps(document["runs"][0]["results"])


def test_cli_sarif_error_document_validates(cli, tmp_path: Path) -> None:
    (tmp_path / "dashfix.toml").write_text("fail_on = [")
    result = cli("verify", str(tmp_path), "--format", "sarif",
                 "--config", str(tmp_path / "dashfix.toml"))
    assert result.exit_code == ExitCode.USAGE
    document = result.json()
    validate(document)
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert document["runs"][0]["properties"]["summary"]["exit_code"] == ExitCode.USAGE


@pytest.mark.parametrize("severity", list(Severity))
def test_every_severity_maps_to_a_sarif_level(tmp_path: Path, severity: Severity) -> None:
    finding = Finding("DF003", severity, ".", "m")
    validate(to_sarif(Report(roots=[str(tmp_path)], findings=[finding])))


def test_cli_baselined_run_validates(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path / "art", 2)
    baseline = tmp_path / "baseline.json"
    cli("baseline", "create", str(tmp_path / "art"), "-o", str(baseline), "--reason", "ok")
    symlink_farm(tmp_path / "art" / "new", 1)
    result = cli("verify", str(tmp_path / "art"), "--baseline", str(baseline), "-f", "sarif")
    document = result.json()
    validate(document)
    states = sorted(r["baselineState"] for r in document["runs"][0]["results"])
    assert states == ["new", "unchanged", "unchanged"]


def test_locations_outside_the_current_folder_and_urls_validate(tmp_path: Path) -> None:
    findings = [
        Finding("DF002", Severity.WARNING, "s/l", "m", root="/mnt/ci store"),
        Finding("DF002", Severity.WARNING, "s/l", "m", root="../elsewhere"),
        Finding("DF002", Severity.WARNING, "#p3@12345", "m", root="kafka://host:9092/topic"),
    ]
    document = to_sarif(Report(roots=["/mnt/ci store", "../elsewhere"], findings=findings))
    validate(document)
    artifacts = sorted(
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["artifactLocation"].get("uriBaseId"))
        for r in document["runs"][0]["results"])
    assert artifacts == [("../elsewhere/s/l", "SRCROOT"),
                         ("file:///mnt/ci%20store/s/l", None),
                         ("kafka://host:9092/topic#p3@12345", None)]
