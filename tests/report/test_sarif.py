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


@pytest.mark.parametrize(("root", "path", "fully_qualified", "name"), [
    ("postgresql://app@db.internal:5432/test?table=dashflow_checkpoints",
     "#dashflow_checkpoints/t1_ab_chkpt0",
     "postgresql://app@db.internal:5432/test?table=dashflow_checkpoints"
     "#dashflow_checkpoints/t1_ab_chkpt0", "dashflow_checkpoints/t1_ab_chkpt0"),
    ("redis://cache.internal:6379/0", "#dashflow:checkpoint:t1_ab_chkpt0",
     "redis://cache.internal:6379/0#dashflow:checkpoint:t1_ab_chkpt0",
     "dashflow:checkpoint:t1_ab_chkpt0"),
    ("s3://bucket/dashflow", "#dashflow/checkpoints/t1_ab_chkpt0",
     "s3://bucket/dashflow#dashflow/checkpoints/t1_ab_chkpt0",
     "dashflow/checkpoints/t1_ab_chkpt0"),
    ("dynamodb://table?region=us-east-1", "#table/t1/t1_ab_chkpt0",
     "dynamodb://table?region=us-east-1#table/t1/t1_ab_chkpt0", "table/t1/t1_ab_chkpt0"),
    ("sqlite:////srv/app/checkpoints.db", "#checkpoints/t1_ab_chkpt0",
     "sqlite:////srv/app/checkpoints.db#checkpoints/t1_ab_chkpt0", "checkpoints/t1_ab_chkpt0"),
])
def test_a_database_finding_has_a_logical_location_only(
        root: str, path: str, fully_qualified: str, name: str) -> None:
    finding = Finding("DB507", Severity.ERROR, path, "m", root=root, thread_id="t1",
                      checkpoint_id="t1_ab_chkpt0")
    document = to_sarif(Report(roots=[root], findings=[finding]))
    validate(document)
    (result,) = document["runs"][0]["results"]
    (location,) = result["locations"]
    assert "physicalLocation" not in location
    assert location["logicalLocations"] == [
        {"name": name, "fullyQualifiedName": fully_qualified, "kind": "resource"},
        {"name": "t1", "kind": "thread"}, {"name": "t1_ab_chkpt0", "kind": "checkpoint"}]


def test_a_database_fingerprint_has_no_host_and_the_location_no_password() -> None:
    path = "#dashflow_checkpoints/t1_ab_chkpt0"
    prints = set()
    for root in ("postgresql://app@db-a.internal:5432/test", "postgresql://db-b:6543/test"):
        document = to_sarif(Report(roots=[root], findings=[
            Finding("DB507", Severity.ERROR, path, "m", root=root)]))
        prints.add(document["runs"][0]["results"][0]["partialFingerprints"][FINGERPRINT_KEY])
    assert len(prints) == 1


def test_a_sqlite_file_row_is_the_file_and_the_row_in_it(tmp_path: Path) -> None:
    finding = Finding("DB530", Severity.WARNING, "found/checkpoints.db#checkpoints/t1_chkpt0",
                      "m", root=str(tmp_path))
    document = to_sarif(Report(roots=[str(tmp_path)], findings=[finding]))
    validate(document)
    (location,) = document["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "/found/checkpoints.db")
    assert location["logicalLocations"] == [{
        "name": "checkpoints/t1_chkpt0", "kind": "resource",
        "fullyQualifiedName": f"{tmp_path}/found/checkpoints.db#checkpoints/t1_chkpt0"}]


def test_an_endpoint_url_stays_out_of_the_fingerprint() -> None:
    path = "#table/t1/t1_ab_chkpt0"
    prints = {Finding("DB507", Severity.ERROR, path, "m", root=root).fingerprint for root in (
        "dynamodb://table?region=us-east-1&endpoint_url=http://10.0.0.5:8000",
        "dynamodb://table?endpoint_url=http://localhost:4566")}
    assert len(prints) == 1
