"""The typer application that every command module registers itself on."""

from __future__ import annotations

import typer

from dashfix.errors import EXIT_CODE_HELP

app = typer.Typer(
    name="dashfix",
    help=(
        "Audit and repair DashFlow checkpoint stores, DashStream logs and DLQ dumps.\n\n"
        + EXIT_CODE_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
