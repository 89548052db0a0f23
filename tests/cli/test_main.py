from __future__ import annotations

from pathlib import Path

from dashfix.errors import ExitCode


def test_missing_path_is_exit_3_with_json_summary(cli, tmp_path: Path) -> None:
    result = cli("verify", str(tmp_path / "absent"), "--format", "json")
    assert result.exit_code == ExitCode.FAILURE
    document = result.json()
    assert document["schema_version"] == 2
    assert [f["code"] for f in document["findings"]] == ["DF001"]
    assert document["summary"]["unreadable"] == 1


def test_unknown_option_is_usage_error(cli) -> None:
    assert cli("verify", "--no-such-option").exit_code == ExitCode.USAGE


def test_unknown_format_is_usage_error(cli, tmp_path: Path) -> None:
    result = cli("verify", str(tmp_path), "--format", "yaml")
    assert result.exit_code == ExitCode.USAGE
    assert "yaml" in result.stderr


def test_empty_folder_is_exit_3_unless_allowed(cli, tmp_path: Path) -> None:
    result = cli("verify", str(tmp_path), "--format", "json", "--fail-on", "never")
    assert result.exit_code == ExitCode.FAILURE
    assert [f["code"] for f in result.json()["findings"]] == ["DF003"]
    allowed = cli("verify", str(tmp_path), "--format", "json", "--allow-empty")
    assert allowed.exit_code == ExitCode.CLEAN
    document = allowed.json()
    assert document["findings"] == []
    assert document["summary"]["notes"] == [
        f"nothing to check under {tmp_path} (allowed by --allow-empty)"]


def test_a_folder_of_only_skipped_files_has_nothing_to_check(cli, tmp_path: Path,
                                                              monkeypatch) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "link").symlink_to("notes.txt")
    monkeypatch.setenv("DASHFIX_ALLOW_EMPTY", "0")
    result = cli("verify", str(tmp_path), "--format", "json", "--ignore", "DF003")
    assert result.exit_code == ExitCode.FAILURE  # --ignore cannot make it pass
    assert sorted(f["code"] for f in result.json()["findings"]) == ["DF002", "DF003"]
    monkeypatch.setenv("DASHFIX_ALLOW_EMPTY", "1")
    assert cli("verify", str(tmp_path)).exit_code == ExitCode.CLEAN


def test_rules_lists_codes(cli) -> None:
    result = cli("rules", "--format", "json")
    assert result.exit_code == 0
    assert "DF001" in {rule["code"] for rule in result.json()}


def test_rules_unknown_code_is_usage_error(cli) -> None:
    assert cli("rules", "ZZ999").exit_code == ExitCode.USAGE
