"""``dashfix cache clear [DIR]``: forget what the verify cache remembers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dashfix.cli.app import app, examples
from dashfix.errors import InputError, UsageError

cache_app = typer.Typer(name="cache", help="Manage the verify cache (--cache DIR).",
                        epilog=examples("dashfix cache clear .dashfix-cache"),
                        no_args_is_help=True)
app.add_typer(cache_app)


@cache_app.command(
    "clear",
    help=(
        "Delete dashfix's cache files in DIR (default: the `cache` setting from the config "
        "file or DASHFIX_CACHE). Other files in DIR are left alone; the next verify with "
        "--cache reads every file again."
    ),
    epilog=examples("dashfix cache clear .dashfix-cache"),
)
def cache_clear(
    folder: Annotated[
        Path | None, typer.Argument(metavar="[DIR]", help="The cache folder.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(metavar="FILE",
                                  help="Config file instead of the nearest dashfix.toml.")
    ] = None,
) -> int:
    from dashfix.cache import clear_cache
    from dashfix.config import resolve_settings

    if folder is None:
        folder = resolve_settings(config=config)["cache"]
        if folder is None:
            raise UsageError("no cache folder: give DIR, or set `cache` in the config file "
                             "or DASHFIX_CACHE")
    try:
        removed = clear_cache(folder)
    except OSError as exc:
        raise InputError(f"cannot clear cache {folder}: {exc.strerror or exc}") from None
    print(f"{folder}: {removed} cache file(s) removed")
    return 0
