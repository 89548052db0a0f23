from __future__ import annotations

import json
import types
from datetime import date
from pathlib import Path

import pytest

import dashfix.rules
from dashfix.baseline import (
    PLACEHOLDER_REASON,
    Baseline,
    BaselineEntry,
    apply_baseline,
    draft_baseline,
)
from dashfix.errors import ExitCode
from dashfix.findings import Finding, Rule, Severity
from dashfix.testing.gate import symlink_farm

DAMAGE = Rule(
    code="ZZ901", name="test-damage", severity=Severity.ERROR, family="test",
    summary="s", explanation="e", bug="-", fix="f", baselinable=False,
)
TODAY = date(2026, 6, 1)


@pytest.fixture
def damage_rule(monkeypatch: pytest.MonkeyPatch) -> Rule:
    """Registers an integrity-damage rule, as the checkpoint family's CRC rule will be."""
    family = types.SimpleNamespace(RULES=(DAMAGE,))
    monkeypatch.setattr(dashfix.rules, "_FAMILIES", (*dashfix.rules._FAMILIES, family))
    return DAMAGE


def entry_for(finding: Finding, **changes: object) -> BaselineEntry:
    fields: dict[str, object] = {
        "fingerprint": finding.fingerprint, "code": finding.code, "path": finding.path,
        "reason": "reviewed",
    }
    fields.update(changes)
    return BaselineEntry(**fields)  # type: ignore[arg-type]


def codes(findings: list[Finding]) -> list[tuple[str, bool]]:
    return [(f.code, f.suppressed) for f in findings]


WARN = Finding("DF002", Severity.WARNING, "s/link", "symlink")


def test_matching_entry_suppresses_with_reason() -> None:
    result = apply_baseline([WARN], Baseline("b.json", (entry_for(WARN),)), TODAY)
    assert codes(result) == [("DF002", True)]
    assert result[0].suppression_reason == "reviewed"


def test_expired_entry_no_longer_suppresses_and_is_a_finding() -> None:
    entry = entry_for(WARN, expires=date(2026, 5, 31))
    result = apply_baseline([WARN], Baseline("b.json", (entry,)), TODAY)
    assert codes(result) == [("DF002", False), ("GT401", False)]
    assert result[1].path == "b.json" and "2026-05-31" in result[1].message
    still_valid = entry_for(WARN, expires=TODAY)
    assert codes(apply_baseline([WARN], Baseline("b", (still_valid,)), TODAY)) == [
        ("DF002", True)
    ]


def test_integrity_damage_is_never_suppressed_nor_drafted(damage_rule: Rule) -> None:
    crc = damage_rule.at("s/a.bin", "crc mismatch", offset=12)
    result = apply_baseline([crc, WARN], Baseline("b", (entry_for(crc),)), TODAY)
    assert codes(result) == [("ZZ901", False), ("DF002", False), ("GT403", False)]
    draft = draft_baseline([crc, WARN])
    assert [e.code for e in draft.entries] == ["DF002"]
    assert draft.skipped == [crc]


def test_placeholder_stale_and_unknown_entries_are_findings() -> None:
    gone = Finding("DF002", Severity.WARNING, "gone", "x")
    entries = (
        entry_for(WARN, reason=PLACEHOLDER_REASON),
        entry_for(gone),
        BaselineEntry("feedface", "QQ123", "p", "r"),
    )
    result = apply_baseline([WARN], Baseline("b", entries), TODAY)
    assert codes(result) == [("DF002", True), ("GT402", False), ("GT404", False),
                             ("GT405", False)]


def test_draft_keeps_reviewed_reasons_and_skips_gate_findings() -> None:
    other = Finding("DF002", Severity.WARNING, "a/other", "symlink")
    previous = Baseline("b", (entry_for(WARN, reason="kept", expires=date(2030, 1, 1)),))
    gate_finding = Finding("GT404", Severity.INFO, "b", "stale")
    draft = draft_baseline([WARN, other, gate_finding], "fresh", None, previous)
    assert [(e.path, e.reason, e.expires) for e in draft.entries] == [
        ("a/other", "fresh", None), ("s/link", "kept", date(2030, 1, 1)),
    ]
    assert draft.skipped == []


def test_cli_round_trip(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    art = Path("art")
    symlink_farm(art, 3)
    baseline = Path("baseline.json")
    created = cli("baseline", "create", str(art), "-o", str(baseline),
                  "--reason", "links from the old layout", "--expires", "2099-12-31")
    assert created.exit_code == 0, created.stderr
    document = json.loads(baseline.read_text())
    assert document["version"] == 2 and document["roots"] == ["art"]
    assert [(e["code"], e["reason"], e["expires"]) for e in document["entries"]] == [
        ("DF002", "links from the old layout", "2099-12-31")
    ] * 3
    assert {e["path"] for e in document["entries"]} == {
        "art/part000/link000000", "art/part000/link000001", "art/part000/link000002"
    }

    result = cli("verify", str(art), "--baseline", str(baseline), "--format", "json",
                 "--fail-on", "warning")
    assert result.exit_code == ExitCode.CLEAN
    data = result.json()
    assert data["summary"]["suppressed"] == 3 and data["summary"]["findings"] == 0
    assert all(f["suppressed"] for f in data["findings"])

    text = cli("verify", str(art), "--baseline", str(baseline), "--fail-on", "warning")
    assert "(3 suppressed by baseline)" in text.stdout

    symlink_farm(art / "new", 1)
    result = cli("verify", str(art), "--baseline", str(baseline), "--format", "json",
                 "--fail-on", "warning")
    assert result.exit_code == ExitCode.FINDINGS
    live = [f["path"] for f in result.json()["findings"] if not f["suppressed"]]
    assert live == ["art/new/part000/link000000"]


def test_cli_placeholder_reason_is_flagged(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path / "art", 1)
    baseline = tmp_path / "b.json"
    created = cli("baseline", "create", str(tmp_path / "art"), "-o", str(baseline))
    assert "placeholder" in created.stderr
    result = cli("verify", str(tmp_path / "art"), "--baseline", str(baseline),
                 "--format", "json", "--fail-on", "warning")
    assert result.exit_code == ExitCode.FINDINGS
    assert sorted((f["code"], f["suppressed"]) for f in result.json()["findings"]) == [
        ("DF002", True), ("GT402", False)
    ]


def test_cli_unreadable_path_is_not_baselined(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path / "art", 1)
    baseline = tmp_path / "b.json"
    created = cli("baseline", "create", str(tmp_path / "art"), str(tmp_path / "absent"),
                  "-o", str(baseline))
    assert created.exit_code == ExitCode.FAILURE
    assert "not baselined" in created.stderr and "DF001" in created.stderr
    assert [e["code"] for e in json.loads(baseline.read_text())["entries"]] == ["DF002"]


def test_cli_hand_written_entry_cannot_hide_an_unreadable_path(cli, tmp_path: Path) -> None:
    absent = str(tmp_path / "absent")
    missing = cli("verify", absent, "--format", "json").json()["findings"][0]
    baseline = tmp_path / "b.json"
    entry = {"fingerprint": missing["fingerprint"], "code": "DF001", "path": missing["path"],
             "reason": "we know", "expires": None}
    baseline.write_text(json.dumps({"version": 2, "entries": [entry]}))
    result = cli("verify", absent, "--baseline", str(baseline), "--format", "json")
    assert result.exit_code == ExitCode.FAILURE
    assert sorted((f["code"], f["suppressed"]) for f in result.json()["findings"]) == [
        ("DF001", False), ("GT403", False)
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"version": 3, "entries": []}', "unsupported version 3"),
        ('{"entries": []}', "unsupported version None"),
        ('{"version": 2, "entries": {}}', "'entries' must be a list"),
        ('{"version": 2, "entries": [{"fingerprint": "f", "code": "DF002", "path": "p"}]}',
         "entry 1: 'reason' is missing"),
        ('{"version": 2, "entries": [{"fingerprint": "f", "code": "DF002", "path": "p", '
         '"reason": "r", "expires": "soon"}]}', "expires 'soon' is not a date"),
    ],
)
def test_bad_baseline_is_usage_error_naming_the_file(
    cli, tmp_path: Path, content: str, problem: str
) -> None:
    baseline = tmp_path / "bad-baseline.json"
    baseline.write_text(content)
    result = cli("verify", str(tmp_path), "--baseline", str(baseline), "--format", "json")
    assert result.exit_code == ExitCode.USAGE
    assert "bad-baseline.json" in result.stderr and problem in result.stderr
    assert result.json()["summary"]["exit_code"] == ExitCode.USAGE


def test_missing_baseline_is_usage_error(cli, tmp_path: Path) -> None:
    result = cli("verify", str(tmp_path), "--baseline", str(tmp_path / "nope.json"))
    assert result.exit_code == ExitCode.USAGE
    assert "nope.json" in result.stderr


def _entry_json(finding: dict[str, str], **changes: object) -> dict[str, object]:
    entry: dict[str, object] = {"fingerprint": finding["fingerprint"], "code": finding["code"],
                                "path": finding["path"], "reason": "reviewed", "expires": None}
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("GT401", {"expires": "2000-01-01"}),
        ("GT402", {"reason": ""}),
        ("GT404", {"path": "gone", "fingerprint": "0123456789abcdef"}),
        ("GT405", {"code": "QQ999", "fingerprint": "0123456789abcdef"}),
    ],
)
def test_cli_each_gate_code_from_a_baseline_with_that_one_fault(
    cli, tmp_path: Path, code: str, extra: dict[str, object]
) -> None:
    symlink_farm(tmp_path / "art", 1)
    link = cli("verify", str(tmp_path / "art"), "--format", "json").json()["findings"][0]
    entries = [_entry_json(link)]
    if code in ("GT401", "GT402"):
        entries = [_entry_json(link, **extra)]  # the fault is in the matching entry itself
    else:
        entries.append(_entry_json(link, **extra))
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps({"version": 2, "entries": entries}))
    result = cli("verify", str(tmp_path / "art"), "--baseline", str(baseline),
                 "--format", "json", "--fail-on", "info")
    assert result.exit_code == ExitCode.FINDINGS
    live = [f["code"] for f in result.json()["findings"] if not f["suppressed"]]
    expected = ["DF002", code] if code == "GT401" else [code]
    assert sorted(live) == expected
