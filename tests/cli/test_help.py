"""What `--help` shows: the version, examples, placeholders, and nothing cut at 80 columns."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer.main

from dashfix import __version__
from dashfix.cli.app import app
from dashfix.cli.commands import register_all

register_all()  # a run registers only the command it runs; the walk below needs them all

TYPE_PLACEHOLDER = re.compile(r"<\w+>")


def command_paths() -> Iterator[tuple[str, ...]]:
    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def help_text(cli, monkeypatch: pytest.MonkeyPatch, *path: str) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "xterm")
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"dashfix {__version__}\n"


def test_top_level_help_lists_verify_first_and_the_exit_codes(cli, monkeypatch) -> None:
    text = help_text(cli, monkeypatch)
    commands = re.findall(r"^│ ([a-z-]+) ", text.split("Commands")[1], re.MULTILINE)
    assert commands[0] == "verify"
    assert "Exit codes" in text
    for code in ("0", "1", "2", "3", "4", "130"):
        assert re.search(rf"^ *{code}  \w", text, re.MULTILINE), code


@pytest.mark.parametrize("path", [p for p in command_paths() if p], ids=" ".join)
def test_command_help(cli, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...]) -> None:
    text = help_text(cli, monkeypatch, *path)
    assert "Examples:" in text, "every command's help shows an example"
    examples = text.split("Examples:")[1]
    assert f"dashfix {' '.join(path)}" in examples
    assert "Exit codes" not in text, "the exit-code table is shown once, by `dashfix --help`"
    options = text.split("─ Options ")[1].split("╰")[0]
    assert not TYPE_PLACEHOLDER.search(options), "an option's placeholder names its values"
    usage = text.split("Usage: ")[1].split("\n")[0]
    arguments = usage.split("[OPTIONS]")[1].split()
    for argument in arguments:  # DUMP required, [PATH]... optional: upper case, not types
        assert re.fullmatch(r"[A-Z|]+|\[[A-Z|]+\](\.\.\.)?|COMMAND|\[ARGS\]\.\.\.",
                            argument), usage
    assert "…" not in text, "nothing may be cut at 80 columns"


def test_readme_and_help_list_the_same_exit_codes() -> None:
    from pathlib import Path

    from dashfix.errors import EXIT_CODE_TABLE, ExitCode

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    in_readme = [int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)]
    in_help = [int(code) for code in re.findall(r"^ *(\d+)  ", EXIT_CODE_TABLE, re.MULTILINE)]
    assert in_readme == in_help == sorted(int(code) for code in ExitCode)
