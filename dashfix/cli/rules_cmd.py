"""``dashfix rules``: the catalogue of finding codes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dashfix.cli.app import app, examples
from dashfix.errors import UsageError

_RENDERERS = {"text": "render_table", "json": "render_json", "markdown": "render_markdown"}
"""--format -> the function of dashfix.report.rules_doc (imported only when rendering)."""


@app.command("rules", epilog=examples("dashfix rules", "dashfix rules CK104",
                                      "dashfix rules --format markdown > rules.md"))
def rules_command(
    code: Annotated[
        str | None, typer.Argument(metavar="[CODE]", help="Show one code in full.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", metavar="text|json|markdown", help="Output format.")
    ] = "text",
) -> int:
    """List every finding code: what it means, the DashFlow bug behind it, and the fix."""
    from dashfix.report import rules_doc
    from dashfix.rules import all_rules, get_rule

    if output_format not in _RENDERERS:
        raise UsageError(f"unknown --format {output_format!r}; choose text, json or markdown")
    if code is None:
        rules = list(all_rules())
    else:
        rule = get_rule(code)
        if rule is None:
            raise UsageError(f"unknown code {code!r}; `dashfix rules` lists them all")
        rules = [rule]
    getattr(rules_doc, _RENDERERS[output_format])(rules, sys.stdout)
    return 0
