"""Several PATHs: every finding names its root, in every format, and a baseline made for
one root never silences another."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dashfix.baseline import legacy_fingerprint
from dashfix.errors import ExitCode
from dashfix.findings import Finding, Severity, rooted
from dashfix.roots import join, root_label
from dashfix.testing.checkpoints import StoreBuilder, flip_byte
from dashfix.testing.gate import symlink_farm

STORES = ("storeC", "storeD")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith(("DASHFIX_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _store_with_new_thread_file(folder: Path) -> Path:
    """A store whose one thread is missing from its index (CK134, a warning that a
    baseline may accept), at the same relative path in every store built by it."""
    builder = StoreBuilder(folder)
    builder.checkpoint("alpha")
    builder.index({})
    return folder


def _codes_at(document: dict[str, object], live: bool) -> list[tuple[str, str]]:
    findings = document["findings"]
    assert isinstance(findings, list)
    return sorted((f["code"], f["path"]) for f in findings if f["suppressed"] is not live)


def test_a_baseline_for_one_root_does_not_silence_the_same_finding_in_another(
    cli, workdir: Path
) -> None:
    for name in STORES:
        _store_with_new_thread_file(workdir / name)
    created = cli("baseline", "create", "storeC", "-o", "c.json", "--reason", "known")
    assert created.exit_code == ExitCode.CLEAN, created.stderr
    alone = cli("verify", "storeC", "--baseline", "c.json", "--fail-on", "warning",
                "--format", "json")
    assert alone.exit_code == ExitCode.CLEAN
    both = cli("verify", "storeC", "storeD", "--baseline", "c.json", "--fail-on", "warning",
               "--format", "json")
    assert both.exit_code == ExitCode.FINDINGS  # the gate fails on storeD's finding
    document = both.json()
    suppressed = _codes_at(document, live=False)
    live = _codes_at(document, live=True)
    assert suppressed and all(path.startswith("storeC/") for _, path in suppressed)
    assert live and all(path.startswith("storeD/") for _, path in live)
    # The same code at the same path inside its root: only the root tells them apart.
    assert {code for code, _ in live} == {code for code, _ in suppressed}
    assert ({f["path_in_root"] for f in document["findings"] if f["root"] == "storeC"}
            == {f["path_in_root"] for f in document["findings"] if f["root"] == "storeD"})


@pytest.mark.parametrize("spelling", ["storeC", "./storeC/", "{cwd}/storeC"])
def test_the_same_root_keeps_its_baseline_however_it_is_spelled_and_beside_others(
    cli, workdir: Path, spelling: str
) -> None:
    for name in STORES:
        _store_with_new_thread_file(workdir / name)
    cli("baseline", "create", "storeC", "-o", "c.json", "--reason", "known")
    given = spelling.format(cwd=workdir)
    result = cli("verify", "storeD", given, "--baseline", "c.json", "--fail-on", "warning",
                 "--format", "json")
    document = result.json()
    assert all(path.startswith("storeD/") for _, path in _codes_at(document, live=True))
    assert _codes_at(document, live=False)
    assert not [f for f in document["findings"] if f["code"].startswith("GT")]


def test_a_root_outside_the_current_folder_carries_its_spelling(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_with_new_thread_file(tmp_path / "outside")
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    relative = cli("verify", "../outside", "--format", "json").json()
    assert {f["path"].split("/")[0] for f in relative["findings"]} == {".."}
    assert relative["roots"] == ["../outside"]
    absolute = cli("verify", str(tmp_path / "outside"), "--format", "json").json()
    assert all(f["path"].startswith(f"{tmp_path}/outside/") for f in absolute["findings"])
    assert all(f["root"] == f"{tmp_path}/outside" for f in absolute["findings"])


def _outputs(cli, *args: str) -> dict[str, str]:
    texts = {}
    for fmt in ("concise", "table", "json", "jsonl", "sarif", "junit", "github"):
        result = cli("verify", *args, "--format", fmt, "--fail-on", "never")
        assert result.exit_code == ExitCode.CLEAN, (fmt, result.stderr)
        texts[fmt] = result.stdout
    return texts


def test_every_format_names_distinct_paths_for_two_stores_with_the_same_layout(
    cli, workdir: Path
) -> None:
    for name in STORES:
        _store_with_new_thread_file(workdir / name)
    out = _outputs(cli, *STORES)
    for fmt, text in out.items():
        for name in STORES:
            assert f"{name}/" in text, fmt
    json_paths = {f["path"] for f in json.loads(out["json"])["findings"]}
    assert {path.split("/")[0] for path in json_paths} == set(STORES)
    jsonl_paths = {json.loads(line).get("path") for line in out["jsonl"].splitlines()}
    assert json_paths <= jsonl_paths
    sarif = json.loads(out["sarif"])["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["results"]}
    assert uris == json_paths
    assert sarif["originalUriBaseIds"]["SRCROOT"]["uri"] == workdir.as_uri() + "/"
    cases = {case.get("name") for case in ET.fromstring(out["junit"]).iter("testcase")}
    assert {name.split(" ")[0] for name in cases} == set(STORES)
    files = {line.split("file=")[1].split(",")[0] for line in out["github"].splitlines()
             if line.startswith("::")}
    assert files == json_paths
    concise = {line.split(":")[0] for line in out["concise"].splitlines()
               if line.startswith(STORES)}
    assert concise == json_paths


def test_version_1_baseline_is_refused_with_the_command_that_recreates_it(
    cli, workdir: Path
) -> None:
    _store_with_new_thread_file(workdir / "storeC")
    finding = cli("verify", "storeC", "--format", "json").json()["findings"][0]
    old = Finding(finding["code"], Severity(finding["severity"]), finding["path_in_root"], "",
                  thread_id=finding["thread_id"], checkpoint_id=finding["checkpoint_id"])
    entry = {"fingerprint": legacy_fingerprint(old), "code": finding["code"],
             "path": finding["path_in_root"], "reason": "reviewed in OPS-42",
             "expires": "2099-01-01"}
    Path("old.json").write_text(json.dumps({"version": 1, "entries": [entry]}))
    refused = cli("verify", "storeC", "--baseline", "old.json", "--format", "json")
    assert refused.exit_code == ExitCode.USAGE
    assert "dashfix baseline create storeC -o old.json" in refused.stderr
    assert refused.json()["summary"]["exit_code"] == ExitCode.USAGE
    # The command it names migrates the file and keeps the reviewed reason and expiry.
    migrated = cli("baseline", "create", "storeC", "-o", "old.json")
    assert migrated.exit_code == ExitCode.CLEAN and "version 1" in migrated.stderr
    document = json.loads(Path("old.json").read_text())
    assert document["version"] == 2
    assert [(e["path"], e["reason"], e["expires"]) for e in document["entries"]] == [
        (finding["path"], "reviewed in OPS-42", "2099-01-01")]
    again = cli("verify", "storeC", "--baseline", "old.json", "--fail-on", "warning")
    assert again.exit_code == ExitCode.CLEAN, again.stdout


def test_config_paths_and_env_paths_name_their_roots(cli, workdir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STORES:
        _store_with_new_thread_file(workdir / name)
    monkeypatch.setenv("DASHFIX_PATHS", "storeC:storeD")  # the action's `path: a:b`
    from_env = cli("verify", "--format", "json").json()
    assert {f["root"] for f in from_env["findings"]} == set(STORES)
    monkeypatch.delenv("DASHFIX_PATHS")
    (workdir / "dashfix.toml").write_text('paths = ["storeC", "storeD"]\n')
    from_config = cli("verify", "--format", "json").json()
    assert ({f["fingerprint"] for f in from_config["findings"]}
            == {f["fingerprint"] for f in from_env["findings"]})


def test_root_labels_and_joins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "log.kcat").write_bytes(b"")
    assert root_label("a") == ("a", ".")
    assert root_label("./a/") == ("a", ".")
    assert root_label(tmp_path / "a") == ("a", ".")
    assert root_label("a/log.kcat") == ("a", "log.kcat")
    assert root_label(".") == (".", ".")
    assert root_label("missing/x") == ("missing/x", ".")
    assert root_label("kafka://host:9092/topic") == ("kafka://host:9092/topic", ".")
    assert join("a", "b/c") == "a/b/c" and join(".", "b") == "b" and join("a", ".") == "a"
    assert join("/", "x") == "/x" and join("", "x") == "x"
    assert join("kafka://h/t", "#p3@12345") == "kafka://h/t#p3@12345"
    [stamped] = rooted([Finding("DF002", Severity.WARNING, "x", "m")], "a")
    assert (stamped.location, stamped.to_dict()["root"]) == ("a/x", "a")


def test_symlink_farm_has_something_to_check(cli, workdir: Path) -> None:
    symlink_farm(workdir / "art", 1)
    damaged = StoreBuilder(workdir / "art" / "bad")
    flip_byte(damaged.checkpoint("t").path, 30)
    result = cli("verify", "art", "--format", "json")
    assert result.exit_code == ExitCode.FINDINGS
    assert {f["root"] for f in result.json()["findings"]} == {"art"}
