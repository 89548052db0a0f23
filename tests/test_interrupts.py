"""The SIGINT rules of ``dashfix.interrupts``, in this process and forked children."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time

import pytest

from dashfix.errors import ExitCode
from dashfix.interrupts import EXIT_CODE, _importing, fork_worker, forking


def test_the_exit_code_is_the_one_the_cli_documents() -> None:
    assert EXIT_CODE == ExitCode.INTERRUPTED == 128 + signal.SIGINT


def test_a_sigint_while_forking_is_raised_after_the_block() -> None:
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt), forking():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler would have run by now
        reached_the_end = True
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_forked_worker_ignores_sigint() -> None:
    pid = fork_worker()
    if pid == 0:  # pragma: no cover (the child)
        time.sleep(0.5)
        os._exit(7)
    os.kill(pid, signal.SIGINT)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7  # not ended by the signal


def test_forking_from_another_thread_only_holds_the_signal_back() -> None:
    import threading

    errors: list[BaseException] = []

    def fork_here() -> None:
        try:
            pid = fork_worker()
            if pid == 0:  # pragma: no cover (the child)
                os._exit(0)
            os.waitpid(pid, 0)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=fork_here)
    thread.start()
    thread.join()
    assert errors == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_handler_knows_when_it_runs_inside_an_import() -> None:
    """Where an exception is not safe: an extension's initialisation may not check the
    import it made, and importlib's own callbacks swallow what they raise."""
    seen: list[bool] = []

    class Finder:
        def find_spec(self, name: str, path: object = None, target: object = None) -> None:
            if name == "a_module_that_is_nowhere":
                seen.append(_importing(sys._getframe()))

    sys.meta_path.insert(0, Finder())
    try:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("a_module_that_is_nowhere")
    finally:
        sys.meta_path.remove(sys.meta_path[0])
    assert seen == [True]
    assert not _importing(sys._getframe())
