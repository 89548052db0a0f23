"""The SIGINT rules of ``dashfix.interrupts``, in this process and forked children."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


_IMPORTS_WHILE_READERS_RUN = """
import os, sys
from dashfix.inputs.checkpoint_files import reader_pool

reader_pool.usable_cpus = lambda: 2
forked, imported = [], []
fork_worker = reader_pool.fork_worker

def noting_fork_worker():
    pid = fork_worker()
    if pid:
        forked.append(pid)
    return pid

class Watch:
    def find_spec(self, name, path=None, target=None):
        if forked and os.getpid() == PARENT:
            imported.append(name)

PARENT = os.getpid()
reader_pool.fork_worker = noting_fork_worker
sys.meta_path.insert(0, Watch())
names = sorted(n for n in os.listdir(sys.argv[1]) if "chkpt" in n)
reader_pool.read_store_rows(sys.argv[1], names)
print(len(forked), imported)
"""


def test_no_module_is_imported_while_the_readers_run(tmp_path: Path) -> None:
    """A SIGINT during an import ends dashfix at once (see ``dashfix.interrupts``): that is
    only clean while no reader runs, so the reader pool imports what it needs before it
    forks. Checked in a fresh interpreter, where nothing is imported yet."""
    from dashfix.inputs.checkpoint_files.reader_pool import PARALLEL_MIN_FILES_PER_WORKER
    from dashfix.native import PURE_PYTHON_VARIABLE
    from dashfix.testing.checkpoints import build_large_store

    store = tmp_path / "store"
    build_large_store(store, files=2 * PARALLEL_MIN_FILES_PER_WORKER, threads=10,
                      state_size=64)
    process = subprocess.run(
        [sys.executable, "-c", _IMPORTS_WHILE_READERS_RUN, str(store)],
        env={**os.environ, PURE_PYTHON_VARIABLE: "1"}, capture_output=True, text=True,
        timeout=120, check=True)
    assert process.stdout.split(maxsplit=1) == ["2", "[]\n"]
