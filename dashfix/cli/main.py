"""Entry point. The one place where exceptions become exit codes."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import typer

from dashfix import interrupts
from dashfix.cli.app import app
from dashfix.errors import DashfixError, ExitCode
from dashfix.interrupts import Interrupted


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
    except (KeyboardInterrupt, Interrupted, typer.Abort):
        return _interrupted()
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


def _interrupted() -> int:
    print(interrupts.MESSAGE, file=sys.stderr)
    return ExitCode.INTERRUPTED


def main() -> NoReturn:
    """The console entry (reached through ``dashfix.__main__``, which handles a Ctrl-C
    during the imports): a Ctrl-C now unwinds the running command, so that its workers are
    ended, and exits 130."""
    try:
        interrupts.raise_on_interrupt()
        code = run()
    except Interrupted:  # arrived outside run's own handling
        code = _interrupted()
    interrupts.exit_at_once_on_interrupt()  # nothing is left to clean up
    _leave(code)


def _leave(code: int) -> NoReturn:
    """Flush the output and exit at once. Every file, lock and worker is closed by now; the
    interpreter's teardown would only free memory (slow after a big store), and it resets
    the SIGINT handler first, so that a Ctrl-C during it ended dashfix without a word."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the reader left, or it is closed
            stream.flush()
    os._exit(code)
