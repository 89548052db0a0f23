"""Start-up: building the CLI imports no module that only some command needs."""

from __future__ import annotations

import subprocess
import sys

# Each is imported only by the commands (or formats, or kinds) that use it.
WORK_MODULES = (
    "rich", "google.protobuf", "zstandard", "msgpack", "pydantic", "dashfix.checks",
    "dashfix.inputs.checkpoint_files", "dashfix.inputs.streams", "dashfix.cache",
    "dashfix.gate", "dashfix.verify", "dashfix.config", "dashfix.replay", "dashfix.inspect",
    "dashfix.repair.apply", "dashfix.report.text", "dashfix.report.sarif",
)


def test_importing_the_cli_imports_no_command_work() -> None:
    probe = (
        "import sys\n"
        "import dashfix.cli.main\n"
        f"print([m for m in {WORK_MODULES!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import sys\n"
        "from dashfix.cli.main import run\n"
        "run(['rules', 'CK104'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('dashfix.cli.') "
        "and m.endswith('_cmd')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "['dashfix.cli.rules_cmd']"


def test_the_command_table_names_every_registered_command() -> None:
    """COMMAND_MODULES lists every command the command modules register (so `--help` lists
    them and a run finds them), in the order `--help` shows."""
    import typer.main

    from dashfix.cli.app import app
    from dashfix.cli.commands import COMMAND_MODULES, register_all

    register_all()
    # typer's own build of the app: every command registered so far, converted at once.
    built = typer.main.get_group_from_info(
        typer.models.TyperInfo(app), pretty_exceptions_short=True, rich_markup_mode=None,
        suggest_commands=True)
    assert sorted(built.commands) == sorted(COMMAND_MODULES)
    assert next(iter(COMMAND_MODULES)) == "verify"
