from __future__ import annotations

from pathlib import Path

from dashfix.errors import ExitCode


def test_missing_path_is_exit_3_with_json_summary(cli, tmp_path: Path) -> None:
    result = cli("verify", str(tmp_path / "absent"), "--format", "json")
    assert result.exit_code == ExitCode.FAILURE
    document = result.json()
    assert document["schema_version"] == 1
    assert [f["code"] for f in document["findings"]] == ["DF001"]
    assert document["summary"]["unreadable"] == 1


def test_unknown_option_is_usage_error(cli) -> None:
    assert cli("verify", "--no-such-option").exit_code == ExitCode.USAGE


def test_unknown_format_is_usage_error(cli, tmp_path: Path) -> None:
    result = cli("verify", str(tmp_path), "--format", "yaml")
    assert result.exit_code == ExitCode.USAGE
    assert "yaml" in result.stderr


def test_empty_folder_warns_that_nothing_was_checked(cli, tmp_path: Path) -> None:
    result = cli("verify", str(tmp_path), "--format", "json", "--fail-on", "warning")
    assert result.exit_code == ExitCode.FINDINGS
    assert [f["code"] for f in result.json()["findings"]] == ["DF003"]


def test_rules_lists_codes(cli) -> None:
    result = cli("rules", "--format", "json")
    assert result.exit_code == 0
    assert "DF001" in {rule["code"] for rule in result.json()}


def test_rules_unknown_code_is_usage_error(cli) -> None:
    assert cli("rules", "ZZ999").exit_code == ExitCode.USAGE
