"""``dashfix rules``: the catalogue of finding codes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dashfix.cli.app import app
from dashfix.errors import UsageError
from dashfix.report.rules_doc import render_json, render_markdown, render_table
from dashfix.rules import all_rules, get_rule

_RENDERERS = {"text": render_table, "json": render_json, "markdown": render_markdown}


@app.command("rules")
def rules_command(
    code: Annotated[str | None, typer.Argument(help="Show one code in full.")] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = "text",
) -> int:
    """List every finding code: what it means, the DashFlow bug behind it, and the fix."""
    if output_format not in _RENDERERS:
        raise UsageError(f"unknown --format {output_format!r}; choose text, json or markdown")
    if code is None:
        rules = list(all_rules())
    else:
        rule = get_rule(code)
        if rule is None:
            raise UsageError(f"unknown code {code!r}; `dashfix rules` lists them all")
        rules = [rule]
    _RENDERERS[output_format](rules, sys.stdout)
    return 0
