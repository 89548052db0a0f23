"""The typer application that every command module registers itself on."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from dashfix import __version__
from dashfix.errors import EXIT_CODE_TABLE

# `verify` is the command most people come for: it heads the list; the rest keep the order
# their modules register them in.
FIRST_COMMAND = "verify"


class _Commands(TyperGroup):
    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: name != FIRST_COMMAND)


class RequiredArgumentCommand(TyperCommand):
    """A command with a required argument, shown as click shows it: `DUMP`, where typer
    writes `{DUMP}` (an optional one stays `[STORE]`)."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]


app = typer.Typer(
    name="dashfix",
    cls=_Commands,
    help=(
        "Audit and repair DashFlow checkpoint stores, DashStream logs and DLQ dumps. "
        "`dashfix COMMAND --help` shows a command's options and examples; in its usage "
        "line [NAME] is optional, and a|b|c lists the values allowed."
    ),
    # An epilog keeps its line breaks, so the table stays a table.
    epilog=EXIT_CODE_TABLE,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"dashfix {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version,
                     help="Print the installed version and exit."),
    ] = False,
) -> None:
    pass


def examples(*lines: str) -> str:
    """A command's epilog: example command lines, shown one per line under its options.
    tests/test_docs.py runs every one of them."""
    # rich reads "[...]" as markup; a backslash keeps a bracket literal.
    return "Examples:\n" + "\n".join(line.replace("[", "\\[") for line in lines)
