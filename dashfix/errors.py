"""Exceptions that carry their process exit code.

The CLI turns these into exit codes in exactly one place (``dashfix.cli.main``);
the core raises them and never calls ``sys.exit``.
"""

from __future__ import annotations

import errno
from enum import IntEnum

from dashfix.interrupts import EXIT_CODE as _INTERRUPTED


class ExitCode(IntEnum):
    CLEAN = 0
    FINDINGS = 1
    USAGE = 2
    FAILURE = 3
    LOCKED = 4
    INTERRUPTED = _INTERRUPTED


EXIT_CODE_TABLE = (
    "Exit codes (every command):\n"
    "  0  clean: no finding at or above --fail-on\n"
    "  1  findings at or above --fail-on; for replay: a record was skipped\n"
    "  2  usage error: bad option, malformed config, unknown code, invalid baseline\n"
    "  3  something asked for could not be read, or dashfix failed\n"
    "  4  store locked by another process (repair commands), or an S3/Redis index\n"
    "     changed underneath rebuild-index URL (run it again)\n"
    "130  interrupted"
)
"""The top-level help shows it, once; README.md's "Exit codes" table says the same."""


class DashfixError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code: ExitCode = ExitCode.FAILURE


class UsageError(DashfixError):
    """Bad arguments, configuration, baseline or other user-supplied settings."""

    exit_code = ExitCode.USAGE


class InputError(DashfixError):
    """Something the user asked for could not be read."""

    exit_code = ExitCode.FAILURE


class OutputError(DashfixError):
    """An output could not be written (a Kafka broker refused or could not be reached)."""

    exit_code = ExitCode.FAILURE


class StoreLockedError(DashfixError):
    """Another process holds the store's ``.checkpoint.lock``."""

    exit_code = ExitCode.LOCKED


class WriteError(DashfixError):
    """Something a repair had to write could not be written: a read-only filesystem, a
    permission or immutable flag, a full disk. The message names the path and the cause."""

    exit_code = ExitCode.FAILURE


def describe_os_error(exc: OSError) -> str:
    """``PATH: cause (ENAME)``: what a user needs from an ``OSError``."""
    name = errno.errorcode.get(exc.errno or 0, "")
    cause = f"{exc.strerror or exc}" + (f" ({name})" if name else "")
    return f"{exc.filename}: {cause}" if exc.filename else cause
