"""Ctrl-C at any moment: exit 130, the line "dashfix: interrupted", no traceback, and no
worker left behind.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group, so each test starts
a real ``dashfix verify`` in a process group of its own and signals the group. The store has
enough files for the forked readers to start (two or more CPUs)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dashfix.cpus import usable_cpus
from dashfix.errors import ExitCode
from dashfix.inputs.checkpoint_files.reader_pool import PARALLEL_MIN_FILES_PER_WORKER
from dashfix.interrupts import MESSAGE
from dashfix.native import PURE_PYTHON_VARIABLE
from dashfix.testing.checkpoints import build_large_store

FILES = 4 * PARALLEL_MIN_FILES_PER_WORKER
IMPORT_TIME = "import time:"
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("interrupts") / "checkpoints"
    build_large_store(root, files=FILES, threads=100, state_size=256)
    return root


def _group(pgid: int) -> list[str]:
    """The live (not zombie) processes of process group ``pgid``, as "pid state"."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{pid} {fields[0]}")
    return found


def _start(store: Path, *python_flags: str, pure_python: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, PURE_PYTHON_VARIABLE: "1"} if pure_python else None
    return subprocess.Popen(
        [sys.executable, *python_flags, "-m", "dashfix", "verify", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env)


def _interrupt(process: subprocess.Popen[bytes]) -> tuple[int, list[str]]:
    """SIGINT to the group, as a terminal sends it; the exit code and stderr's lines (less
    the import timings); then no process of the group may be left."""
    with contextlib.suppress(ProcessLookupError):  # already done
        os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # leave nothing behind, then fail
        process.communicate()
        pytest.fail(f"dashfix did not end within {TIMEOUT} s of the SIGINT")
    assert _group(process.pid) == [], "a worker outlived dashfix"
    lines = err.decode(errors="replace").splitlines()
    return process.returncode, [line for line in lines if not line.startswith(IMPORT_TIME)]


def _interrupt_when(store: Path, ready: Callable[[str], bool]) -> tuple[int, list[str]]:
    """Start dashfix with import timings on stderr and interrupt it at the first stderr line
    for which ``ready`` holds (the import of a given module has just finished)."""
    # On the Python path the run lasts long enough after any import for the SIGINT to find
    # it running even when this process reads the child's stderr late (a loaded machine):
    # the C reader checks this store in a few milliseconds.
    process = _start(store, "-X", "importtime", pure_python=True)
    assert process.stderr is not None
    for raw in process.stderr:
        if ready(raw.decode(errors="replace")):
            break
    else:
        pytest.fail("dashfix ended before the moment to interrupt it")
    return _interrupt(process)


def _imported(module: str) -> Callable[[str], bool]:
    """Whether an import-time line says ``module`` has just been imported."""
    return lambda line: line.startswith(IMPORT_TIME) and line.rsplit("|", 1)[-1].strip() == module


# Modules imported before the scan starts: rich.console is imported only to render, at
# the very end, where an interrupt races the normal exit.
@pytest.mark.parametrize("module", ["dashfix.errors", "typer", "dashfix.findings",
                                    "dashfix.cli.commands", "dashfix.verify"])
def test_interrupted_while_importing(store: Path, module: str) -> None:
    assert _interrupt_when(store, _imported(module)) == (ExitCode.INTERRUPTED, [MESSAGE])


# A SIGINT sent by dashfix to itself as the import system looks for ``module``, so the
# handler runs inside that import at a known moment (the tests above hit such moments by
# chance, and under load).
_SIGINT_AT_IMPORT = """
import os, signal, sys

MODULE = sys.argv[1]

class SigintAt:
    def find_spec(self, name, path=None, target=None):
        if name == MODULE:
            sys.meta_path.remove(self)
            os.write(2, f"SIGINT at the import of {name}\\n".encode())
            os.kill(os.getpid(), signal.SIGINT)

sys.meta_path.insert(0, SigintAt())
sys.argv[:2] = ["dashfix"]
from dashfix.__main__ import main
main()
"""


# json: imported by orjson's initialisation, which dereferences the result unchecked, so an
# exception raised there was a SIGSEGV (exit -11); dashfix.verify: imported as verify runs;
# typer: before the command runs.
@pytest.mark.parametrize("module", ["json", "dashfix.verify", "typer"])
def test_a_sigint_inside_an_import_ends_dashfix_at_once(store: Path, module: str) -> None:
    process = subprocess.run(
        [sys.executable, "-c", _SIGINT_AT_IMPORT, module, "verify", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT, check=False)
    lines = process.stderr.decode(errors="replace").splitlines()
    assert (process.returncode, lines) == (
        ExitCode.INTERRUPTED, [f"SIGINT at the import of {module}", MESSAGE])


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_interrupted_while_running(store: Path, delay: float) -> None:
    def after_the_imports(line: str) -> bool:
        if _imported("dashfix.cli.commands")(line):
            time.sleep(delay)
            return True
        return False

    code, lines = _interrupt_when(store, after_the_imports)
    if code != ExitCode.CLEAN:  # a late signal may find verify done
        assert (code, lines) == (ExitCode.INTERRUPTED, [MESSAGE])


def test_interrupted_while_the_readers_work(store: Path) -> None:
    if usable_cpus() < 2:
        pytest.skip("one CPU: verify reads in one process, so no reader to end")
    # Reader processes are the Python path's; the C reader reads in threads of dashfix's
    # own process, which the tests above interrupt.
    process = _start(store, pure_python=True)
    deadline = time.monotonic() + TIMEOUT
    while len(_group(process.pid)) < 3 and process.poll() is None:  # dashfix and 2 readers
        assert time.monotonic() < deadline
        time.sleep(0.002)
    if process.poll() is not None:
        pytest.skip("verify finished before its readers could be seen (a very fast machine)")
    assert _interrupt(process) == (ExitCode.INTERRUPTED, [MESSAGE])


def test_interrupted_right_after_the_spawn(store: Path) -> None:
    """Before the interpreter runs a line, SIGINT's default action ends the process: no
    output and nothing to clean up (a shell reports 130 for it). From dashfix's first line
    on, the tests above apply. The time in between is the interpreter's own start-up, where
    dashfix cannot act yet: there Python's own handler raises KeyboardInterrupt, which during
    the import of ``site`` (tens of ms on a loaded machine: the editable install's finder
    imports pathlib) is a fatal error, exit 1 (seen 2 times in 3 runs of this file
    alongside 3 busy processes)."""
    code, lines = _interrupt(_start(store))
    if code == 1:
        assert lines[0] == _SITE_FAILED and lines[-1] == "KeyboardInterrupt"
    else:
        assert (code, lines) in ((-signal.SIGINT, []), (ExitCode.INTERRUPTED, [MESSAGE]))


_SITE_FAILED = "Fatal Python error: init_import_site: Failed to import the site module"


def test_an_interrupt_while_python_imports_site_is_python_s_fatal_error(
        tmp_path: Path) -> None:
    """The third outcome above, made certain: a sitecustomize module that interrupts its
    own process."""
    (tmp_path / "sitecustomize.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    process = subprocess.run([sys.executable, "-m", "dashfix", "--version"], env=env,
                             capture_output=True, timeout=TIMEOUT, check=False)
    lines = process.stderr.decode(errors="replace").splitlines()
    assert (process.returncode, lines[0], lines[-1]) == (1, _SITE_FAILED, "KeyboardInterrupt")
