"""Entry point. The one place where exceptions become exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import typer

from dashfix.cli import commands  # noqa: F401  (registers every command on the app)
from dashfix.cli.app import app
from dashfix.errors import DashfixError, ExitCode


def _is_parser_error(exc: Exception) -> bool:
    # typer may bundle its own copy of click, so match the parser's exceptions by shape.
    return hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting."""
    try:
        result = app(args=list(argv) if argv is not None else None, prog_name="dashfix",
                     standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("dashfix: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except DashfixError as exc:
        print(f"dashfix: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (``dashfix ... | head``); nothing more to say.
        sys.stderr.close()
        return ExitCode.FAILURE
    except Exception as exc:  # the last line of defence: never a bare traceback
        if _is_parser_error(exc):
            exc.show()  # type: ignore[attr-defined]
            return ExitCode.USAGE if exc.exit_code == 2 else ExitCode.FAILURE  # type: ignore[attr-defined]
        print(f"dashfix: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("DASHFIX_DEBUG"):
            import traceback

            traceback.print_exc()
        else:
            print("(set DASHFIX_DEBUG=1 for the traceback)", file=sys.stderr)
        return ExitCode.FAILURE
    return int(result or 0)


def main() -> NoReturn:
    sys.exit(run())
