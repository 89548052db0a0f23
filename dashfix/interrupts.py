"""Ctrl-C: one line ("dashfix: interrupted"), exit code 130, no traceback, no worker left.

A terminal sends SIGINT to the whole process group, so the forked workers get it too.

- While the CLI is still importing, nothing needs cleaning up: the handler writes the line
  and leaves at once (``exit_at_once_on_interrupt``, installed first thing by the entry
  point, ``dashfix.__main__``).
- Once a command runs, the first SIGINT raises ``Interrupted``, so that every ``with`` and
  ``finally`` runs: the reader pool is terminated and joined, a stream worker is killed and
  reaped. Later SIGINTs are ignored so that they cannot cut that cleanup short.
  ``Interrupted`` is not a ``KeyboardInterrupt`` because the argument parser (click) catches
  those and prints an empty line first.
- Except during an import (a command imports its modules lazily, when it is named and as it
  runs): there the handler leaves at once too, as an exception raised inside the import
  system is not safe. An extension module whose initialisation imports Python modules may
  not check those imports: orjson 3.13 passes a failed ``import json`` on as NULL and dies
  of SIGSEGV (so does plain ``python -c "import orjson"`` given a KeyboardInterrupt at that
  moment). And importlib's module-lock callback swallows it ("Exception ignored in"): the
  command then ran to the end with SIGINT ignored. Leaving there skips ``finally`` blocks,
  as a crash would: no worker runs while dashfix imports a module the first time, locks
  are ``flock`` locks that go with the process, and files are written through a temp file
  and a rename.
- Forked workers ignore SIGINT: the parent ends them. While they are forked (``forking``)
  a SIGINT is held, so a worker never runs a line with the parent's handler and the parent
  raises only once the workers exist and their cleanup is in place.
"""

from __future__ import annotations

# Imported by the entry point before anything else, so only what the interpreter has
# already loaded, and ``signal``.
import os
import signal
from types import FrameType, TracebackType

MESSAGE = "dashfix: interrupted"
EXIT_CODE = 130
"""128 + SIGINT, as a shell reports a command that a Ctrl-C ended (``ExitCode.INTERRUPTED``)."""
_INT = {signal.SIGINT}


class Interrupted(BaseException):
    """Raised in the main thread by the first SIGINT while a command runs."""


def _exit_at_once(signum: int, frame: FrameType | None) -> None:
    os.write(2, (MESSAGE + "\n").encode())
    os._exit(EXIT_CODE)


def _raise_once(signum: int, frame: FrameType | None) -> None:
    if _importing(frame):
        _exit_at_once(signum, frame)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Interrupted


_IMPORT_SYSTEM = frozenset({"importlib._bootstrap", "importlib._bootstrap_external"})


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` or a caller of it runs in the import system (an import is under
    way, or one of importlib's callbacks runs)."""
    while frame is not None:
        if frame.f_globals.get("__name__") in _IMPORT_SYSTEM:
            return True
        frame = frame.f_back
    return False


def exit_at_once_on_interrupt() -> None:
    """SIGINT writes the line and exits 130 at once (nothing to clean up yet, or any more)."""
    signal.signal(signal.SIGINT, _exit_at_once)


def raise_on_interrupt() -> None:
    """The first SIGINT raises ``Interrupted`` (a command runs: let it clean up)."""
    signal.signal(signal.SIGINT, _raise_once)


class forking:
    """Fork workers inside this block. A SIGINT that arrives meanwhile
    is held and handed to the handler in place before once the block is done, in this
    process only, so that no half-made worker pool escapes its cleanup; the children start
    with SIGINT blocked until ``in_worker`` ignores it."""

    def __enter__(self) -> None:
        import threading  # not at the top: this module loads before the CLI's imports

        self.held: list[int] = []
        self.parent = os.getpid()
        # Only the main thread may set a handler (and only it runs one); a library caller
        # forking from another thread gets the mask alone.
        self.main = threading.current_thread() is threading.main_thread()
        if self.main:
            self.previous_handler = signal.signal(signal.SIGINT, self._hold)
        self.previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _INT)

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        self.held.append(signum)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if os.getpid() != self.parent:  # a forked child keeps ignoring SIGINT (in_worker)
            return
        signal.pthread_sigmask(signal.SIG_SETMASK, self.previous_mask)
        if not self.main:
            return
        signal.signal(signal.SIGINT, self.previous_handler)
        if self.held and callable(self.previous_handler):
            self.previous_handler(signal.SIGINT, None)


def in_worker() -> None:
    """First thing in a forked worker: ignore SIGINT (the parent ends the worker), then let
    signals through again; a SIGINT held back since the fork is dropped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INT)


def fork_worker() -> int:
    """``os.fork()`` for a worker that ignores SIGINT (0 in the child, which must leave by
    ``os._exit``). If this process is interrupted as the worker starts, the worker is killed
    and reaped before the interrupt goes on."""
    pid = -1
    try:
        with forking():
            pid = os.fork()
            if pid == 0:
                in_worker()
    except BaseException:
        if pid > 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    return pid
