from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashfix.config import resolve_settings
from dashfix.errors import ExitCode, UsageError
from dashfix.testing.gate import symlink_farm


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DASHFIX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_precedence_flag_env_config_default(tmp_path: Path) -> None:
    (tmp_path / "dashfix.toml").write_text('fail_on = "info"\nformat = "json"\n')
    env = {"DASHFIX_FAIL_ON": "warning"}
    config = str(tmp_path / "dashfix.toml")

    settings = resolve_settings(cwd=tmp_path, environ={})
    assert (settings["fail_on"], settings.source("fail_on")) == ("info", f"config {config}")
    assert (settings["progress"], settings.source("progress")) == ("auto", "default")

    settings = resolve_settings(cwd=tmp_path, environ=env)
    assert (settings["fail_on"], settings.source("fail_on")) == ("warning", "env DASHFIX_FAIL_ON")
    assert settings["format"] == "json"

    settings = resolve_settings({"fail_on": ("never", "--fail-on")}, cwd=tmp_path, environ=env)
    assert (settings["fail_on"], settings.source("fail_on")) == ("never", "flag --fail-on")


def test_pyproject_found_from_a_subfolder_and_paths_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.dashfix]\npaths = ["artifacts"]\n'
        'baseline = ".dashfix-baseline.json"\ncache = "/var/cache/dashfix"\n'
        'severity = { DF002 = "error" }\nselect = ["DF"]\n'
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    settings = resolve_settings(cwd=deep, environ={})
    assert settings.config_file is not None
    assert settings.source("paths") == f"config {tmp_path / 'pyproject.toml'} [tool.dashfix]"
    assert settings["paths"] == (tmp_path / "artifacts",)
    assert settings["baseline"] == tmp_path / ".dashfix-baseline.json"
    assert settings["cache"] == Path("/var/cache/dashfix")
    assert settings["severity"] == {"DF002": "error"}
    assert settings["select"] == ("DF",)


def test_dashfix_toml_wins_and_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "dashfix.toml").write_text('progress = "never"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "unrelated"\n')
    settings = resolve_settings(cwd=inner, environ={})
    assert settings["progress"] == "never"
    (tmp_path / "pyproject.toml").write_text('[tool.dashfix]\nprogress = "always"\n')
    assert resolve_settings(cwd=tmp_path, environ={})["progress"] == "never"


def test_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "dashfix.toml").write_text('progress = "never"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    settings = resolve_settings(cwd=repo, environ={})
    assert settings.config_file is None and settings["progress"] == "auto"


def test_env_lists_and_maps(tmp_path: Path) -> None:
    env = {
        "DASHFIX_SELECT": "df002, GT4",
        "DASHFIX_SEVERITY": "DF002=error,GT404=warning",
        "DASHFIX_PATHS": "one:two",
        "DASHFIX_QUIET": "yes",
        "DASHFIX_LIMITS": "2097152",
    }
    settings = resolve_settings(cwd=tmp_path, environ=env)
    assert settings["select"] == ("DF002", "GT4")
    assert settings["severity"] == {"DF002": "error", "GT404": "warning"}
    assert settings["paths"] == (tmp_path / "one", tmp_path / "two")
    assert settings["quiet"] is True
    assert settings["limits"] == "2097152"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("fail_on = [", "malformed TOML"),
        ("colour = true", "unknown key(s) colour"),
        ("fail_on = 3", "fail_on must be one of"),
        ('limits = "huge"', "limits must be consumer, server"),
        ('severity = { DF002 = "fatal" }', "DF002: severity must be"),
    ],
)
def test_malformed_config_names_file_and_problem(tmp_path: Path, content: str,
                                                 problem: str) -> None:
    (tmp_path / "dashfix.toml").write_text(content)
    with pytest.raises(UsageError) as caught:
        resolve_settings(cwd=tmp_path, environ={})
    assert str(tmp_path / "dashfix.toml") in str(caught.value)
    assert problem in str(caught.value)


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="DASHFIX_PROGRESS"):
        resolve_settings(cwd=tmp_path, environ={"DASHFIX_PROGRESS": "sometimes"})


def test_cli_malformed_config_is_exit_2_with_json_summary(cli, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dashfix]\nfail_on = 'loud'\n")
    result = cli("verify", ".", "--format", "json")
    assert result.exit_code == ExitCode.USAGE
    assert "pyproject.toml" in result.stderr and "fail_on" in result.stderr
    assert result.json()["summary"]["error"].startswith("config ")


@pytest.mark.parametrize(
    ("args", "env", "config", "origin"),
    [
        (["--select", "DF002,XX1"], {}, "", "flag --select"),
        ([], {"DASHFIX_IGNORE": "NOPE"}, "", "env DASHFIX_IGNORE"),
        ([], {}, 'ignore = ["Q"]', "dashfix.toml"),
        ([], {}, 'severity = { ZZ999 = "info" }', "dashfix.toml"),
    ],
)
def test_cli_unknown_code_is_exit_2_naming_where(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str], env: dict[str, str], config: str, origin: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if config:
        (tmp_path / "dashfix.toml").write_text(config)
    result = cli("verify", ".", *args)
    assert result.exit_code == ExitCode.USAGE
    assert "unknown code" in result.stderr and origin in result.stderr


def test_cli_config_drives_verify(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path / "artifacts", 2)
    (tmp_path / "dashfix.toml").write_text(
        'paths = ["artifacts"]\nformat = "json"\nseverity = { DF002 = "error" }\n'
    )
    result = cli("verify")
    assert result.exit_code == ExitCode.FINDINGS
    assert [f["severity"] for f in result.json()["findings"]] == ["error", "error"]
    assert cli("verify", "--ignore", "DF002", "--format", "text").exit_code == ExitCode.CLEAN
    assert cli("verify", "--select", "GT").json()["summary"]["findings"] == 0


def test_cli_ignore_never_hides_an_unreadable_path(cli, tmp_path: Path) -> None:
    result = cli("verify", "absent", "--ignore", "DF", "--format", "json")
    assert result.exit_code == ExitCode.FAILURE
    assert [f["code"] for f in result.json()["findings"]] == ["DF001"]


def test_cli_config_show(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dashfix.toml").write_text('fail_on = "warning"\ncache = ".cache/dashfix"\n')
    monkeypatch.setenv("DASHFIX_FORMAT", "sarif")
    result = cli("config", "show", "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["config_file"] == str(tmp_path / "dashfix.toml")
    settings = document["settings"]
    assert settings["fail_on"]["source"] == f"config {tmp_path / 'dashfix.toml'}"
    assert settings["format"] == {"value": "sarif", "source": "env DASHFIX_FORMAT",
                                  "env": "DASHFIX_FORMAT"}
    assert settings["cache"]["value"] == str(tmp_path / ".cache" / "dashfix")
    assert settings["select"]["source"] == "default"
    text = cli("config", "show").stdout
    assert 'fail_on     = "warning"  # config ' in text


def test_config_named_by_environment(tmp_path: Path) -> None:
    elsewhere = tmp_path / "ci" / "gate.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text('baseline = "accepted.json"\n')
    settings = resolve_settings(cwd=tmp_path, environ={"DASHFIX_CONFIG": "ci/gate.toml"})
    assert settings["baseline"] == elsewhere.parent / "accepted.json"
    assert settings.source("baseline") == f"config {elsewhere}"


def test_kafka_urls_survive_the_paths_variable(tmp_path: Path) -> None:
    environ = {"DASHFIX_PATHS": "kafka://h:9092,h2:9093/events:stores:kafka://x:1/dlq"}
    settings = resolve_settings(environ=environ, cwd=tmp_path)
    assert settings["paths"] == ("kafka://h:9092,h2:9093/events", tmp_path / "stores",
                                 "kafka://x:1/dlq")
