"""The typer application that every command module registers itself on."""

from __future__ import annotations

from typing import Annotated

import typer
import typer.main
from typer import _click as click
from typer.core import TyperCommand, TyperGroup

from dashfix import __version__
from dashfix.cli.commands import COMMAND_MODULES, register, register_all
from dashfix.errors import EXIT_CODE_TABLE


class _Commands(TyperGroup):
    """The top-level group: it lists every command of ``COMMAND_MODULES`` (``verify``
    first) and imports a command's module when the command is named, so a run pays for
    the one command it runs."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return list(COMMAND_MODULES)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> click.Command | None:  # type: ignore[override]
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            register(cmd_name)
            self._add_registered()
        return self.commands.get(cmd_name)

    def resolve_command(  # type: ignore[override]
        self, ctx: typer.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in COMMAND_MODULES:
            # Not a command: "did you mean" compares it with every command's name.
            register_all()
            self._add_registered()
        return super().resolve_command(ctx, args)

    def _add_registered(self) -> None:
        """The commands registered on ``app`` since this group was built, as typer builds
        them when it builds the group."""
        for info in app.registered_commands:
            assert info.callback is not None
            name = info.name or typer.main.get_command_name(info.callback.__name__)
            if name not in self.commands:
                self.commands[name] = typer.main.get_command_from_info(
                    info, pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=app.rich_markup_mode)
        for group in app.registered_groups:
            group_name = typer.main.solve_typer_info_defaults(group).name
            if group_name is not None and group_name not in self.commands:
                self.commands[group_name] = typer.main.get_group_from_info(
                    group, pretty_exceptions_short=app.pretty_exceptions_short,
                    rich_markup_mode=app.rich_markup_mode,
                    suggest_commands=app.suggest_commands)


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
