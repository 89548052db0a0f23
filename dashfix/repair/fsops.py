"""The system calls through which repairs change the filesystem, each one a numbered step.

Every call that creates, writes, syncs, renames, links or removes something on behalf of a
repair (and of dashfix's other atomic files: baselines, replay outputs) goes through this
module. That makes each of them a point where a test can stop the
process, as a crash or ``kill -9`` would:

- ``DASHFIX_KILL_AT=N`` sends SIGKILL to the process just before its Nth write step;
- ``DASHFIX_FAIL_AT=N:ERRNO`` (for example ``3:ENOSPC``) makes the Nth step raise that
  ``OSError`` instead, for failures root cannot otherwise meet (a full disk, a read-only
  filesystem).

Unset (the normal case), a step costs one counter increment. The kill harness in the test
suite counts the steps of every writer and kills each one in turn.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dashfix.errors import UsageError

KILL_AT_ENV = "DASHFIX_KILL_AT"
FAIL_AT_ENV = "DASHFIX_FAIL_AT"

PathLike = str | Path


@dataclass
class Faults:
    steps: int = 0
    """Write steps taken so far by this process."""
    kill_at: int | None = None
    fail_at: int | None = None
    fail_errno: int = errno.EIO


def _positive(variable: str, text: str) -> int:
    if not text.isdecimal() or int(text) < 1:
        raise UsageError(f"{variable} must be a step number (1 or more), not {text!r}")
    return int(text)


def faults_from_environment(environ: dict[str, str] | os._Environ[str]) -> Faults:
    faults = Faults()
    if kill_at := environ.get(KILL_AT_ENV):
        faults.kill_at = _positive(KILL_AT_ENV, kill_at)
    if fail_at := environ.get(FAIL_AT_ENV):
        step, _, name = fail_at.partition(":")
        faults.fail_at = _positive(FAIL_AT_ENV, step)
        code = getattr(errno, name or "EIO", None)
        if not isinstance(code, int):
            raise UsageError(f"{FAIL_AT_ENV}: unknown errno name {name!r} (try ENOSPC, EROFS)")
        faults.fail_errno = code
    return faults


_faults: Faults | None = None


def faults() -> Faults:
    """This process's fault settings, read from the environment on first use."""
    global _faults
    if _faults is None:
        _faults = faults_from_environment(os.environ)
    return _faults


def arm(kill_at: int | None = None, fail_at: int | None = None,
        fail_errno: int = errno.EIO) -> Faults:
    """Restart the step count with new fault settings (tests, in a forked child)."""
    global _faults
    _faults = Faults(0, kill_at, fail_at, fail_errno)
    return _faults


def step(path: PathLike) -> None:
    """Count one write step on ``path``; die or fail here if the settings say so."""
    state = faults()
    state.steps += 1
    if state.steps == state.kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    if state.steps == state.fail_at:
        raise OSError(state.fail_errno, f"{os.strerror(state.fail_errno)} (injected fault)",
                      str(path))


@contextmanager
def _naming(path: PathLike) -> Iterator[None]:
    """Calls on a file descriptor raise ``OSError`` without a file name: add it."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def create_exclusive(path: PathLike, mode: int) -> int:
    step(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                   mode)


def open_append(path: PathLike) -> int:
    step(path)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)


def write_all(fd: int, data: bytes | memoryview, path: PathLike) -> None:
    view = memoryview(data)
    while view:
        step(path)
        with _naming(path):
            view = view[os.write(fd, view):]


def fsync(fd: int, path: PathLike) -> None:
    step(path)
    with _naming(path):
        os.fsync(fd)


def fchmod(fd: int, mode: int, path: PathLike) -> None:
    step(path)
    with _naming(path):
        os.fchmod(fd, mode)


def set_times(fd: int, times_ns: tuple[int, int], path: PathLike) -> None:
    step(path)
    with _naming(path):
        os.utime(fd, ns=times_ns)


def replace(source: PathLike, target: PathLike) -> None:
    step(target)
    os.replace(source, target)


def rename(source: PathLike, target: PathLike) -> None:
    step(target)
    os.rename(source, target)


def link(source: PathLike, target: PathLike) -> None:
    """A hard link; fails with ``FileExistsError`` rather than replace ``target``."""
    step(target)
    os.link(source, target, follow_symlinks=False)


def unlink(path: PathLike) -> None:
    step(path)
    os.unlink(path)


def mkdir(path: PathLike) -> None:
    step(path)
    os.mkdir(path, 0o755)


def rmdir(path: PathLike) -> None:
    step(path)
    os.rmdir(path)


def fsync_dir(directory: PathLike) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fsync(fd, directory)
    finally:
        os.close(fd)


def reserve(fd: int, size: int, path: PathLike) -> None:
    """Allocate ``size`` bytes to an open file: fails with ENOSPC when the disk lacks them."""
    if size > 0:
        step(path)
        with _naming(path):
            os.posix_fallocate(fd, 0, size)
