"""``dashfix verify``: read-only audit of stores, logs and dumps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dashfix.cli.app import app
from dashfix.cli.options import FAIL_ON_CHOICES, parse_fail_on
from dashfix.context import VerifyOptions
from dashfix.errors import EXIT_CODE_HELP, UsageError
from dashfix.report import RENDERERS, render
from dashfix.verify import verify


@app.command(
    help=(
        "Check checkpoint stores, stream logs and DLQ dumps under each PATH (default "
        "./checkpoints). Strictly read-only: takes no lock, writes nothing, follows no "
        "symlink.\n\n" + EXIT_CODE_HELP
    )
)
def verify_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Stores, logs, dumps or folders holding them.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help=f"Output format: {', '.join(RENDERERS)}.")
    ] = "text",
    fail_on: Annotated[
        str,
        typer.Option(help=f"Lowest severity that fails the run: {', '.join(FAIL_ON_CHOICES)}."),
    ] = "error",
) -> int:
    if output_format not in RENDERERS:
        raise UsageError(f"unknown --format {output_format!r}; choose from {', '.join(RENDERERS)}")
    options = VerifyOptions(fail_on=parse_fail_on(fail_on))
    report = verify(paths or [Path("checkpoints")], options)
    render(output_format, report, sys.stdout)
    return int(report.exit_code())


verify_command.__name__ = "verify"
