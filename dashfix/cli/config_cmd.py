"""``dashfix config show``: the effective settings and where each one came from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dashfix.cli.app import app, examples
from dashfix.errors import UsageError

config_app = typer.Typer(
    name="config", help="Inspect dashfix settings.",
    epilog=examples("dashfix config show"), no_args_is_help=True,
)
app.add_typer(config_app)


@config_app.command(
    "show",
    help=(
        "Print every setting's effective value and its source: flag, env, config file or "
        "default (precedence in that order)."
    ),
    epilog=examples("dashfix config show", "dashfix config show --format json"),
)
def config_show(
    output_format: Annotated[
        str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")
    ] = "text",
    config: Annotated[
        Path | None, typer.Option(metavar="FILE",
                                  help="Config file instead of the nearest dashfix.toml.")
    ] = None,
) -> int:
    import orjson

    from dashfix.config import SETTINGS, resolve_settings, shown

    if output_format not in ("text", "json"):
        raise UsageError(f"unknown --format {output_format!r}; choose text or json")
    settings = resolve_settings(config=config)
    config_file = str(settings.config_file.path) if settings.config_file else None
    if output_format == "json":
        document = {
            "config_file": config_file,
            "settings": {
                s.key: {"value": shown(s.key, settings[s.key]), "source": settings.source(s.key),
                        "env": s.env}
                for s in SETTINGS
            },
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    sys.stdout.write(f"config file: {config_file or '(none found)'}\n")
    width = max(len(s.key) for s in SETTINGS)
    for s in SETTINGS:
        value = orjson.dumps(shown(s.key, settings[s.key])).decode()
        sys.stdout.write(f"{s.key:<{width}} = {value}  # {settings.source(s.key)}\n")
    return 0
