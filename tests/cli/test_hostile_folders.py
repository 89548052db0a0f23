"""Every command on hostile stores ends promptly, names the entry, never follows a path out
of the scanned root, and the read-only ones change nothing (no write, no lock).

Each store holds one hostile entry: a FIFO or socket named like a checkpoint, ``index.bin``
or ``.checkpoint.lock`` as a FIFO, symlinks to ``/dev/zero``, to a file outside the root and
in a loop, a folder named ``x.bin``, a file at mode 000 (not as root: root reads it anyway),
a sparse file of 1 TiB. Each command runs in a subprocess with a timeout, with the C reader
and with the Python twins (``DASHFIX_PURE_PYTHON=1``), so a regression that blocks (a FIFO
opened without ``O_NONBLOCK``) fails instead of hanging CI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from dashfix.errors import ExitCode
from dashfix.testing.checkpoints import StoreBuilder
from tests.cli.nodes import make_socket

ROOT = Path(__file__).resolve().parents[2]
AS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
DROP = [SETPRIV or "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
TIMEOUT = 60
GHOST = "ghost_1a2b3c4d5e6f0a1b_chkpt0.bin"
LOCK = ".checkpoint.lock"
OUTSIDE = "outside.bin"


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _to_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _to_outside(path: Path) -> None:
    """A symlink to a healthy checkpoint outside the root (followed, it would load)."""
    outside = path.parent.parent / OUTSIDE
    shutil.copy(sorted(path.parent.glob("alpha_*.bin"))[0], outside)
    path.symlink_to(outside)


def _loop(path: Path) -> None:
    other = path.with_name("loop_1a2b3c4d5e6f0a1b_chkpt0.bin")
    path.symlink_to(other)
    other.symlink_to(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _unreadable(path: Path) -> None:
    shutil.copy(sorted(path.parent.glob("beta_*.bin"))[0], path)
    path.chmod(0)


def _sparse(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(1 << 40)


class Case(NamedTuple):
    name: str
    make: Callable[[Path], None]
    code: str  # what verify calls it


CASES = {
    "bin-fifo": Case(GHOST, _fifo, "CK127"),
    "bin-socket": Case(GHOST, make_socket, "CK127"),
    "index-fifo": Case("index.bin", _fifo, "CK126"),
    "lock-fifo": Case(LOCK, _fifo, "CK128"),
    "bin-dev-zero": Case(GHOST, _to_dev_zero, "CK117"),
    "index-dev-zero": Case("index.bin", _to_dev_zero, "CK117"),
    "lock-dev-zero": Case(LOCK, _to_dev_zero, "CK117"),
    "bin-outside": Case(GHOST, _to_outside, "CK117"),
    "index-outside": Case("index.bin", _to_outside, "CK117"),
    "bin-loop": Case(GHOST, _loop, "CK117"),
    "bin-folder": Case("x.bin", _folder, "CK116"),
    "bin-unreadable": Case(GHOST, _unreadable, "CK118"),
    "bin-sparse": Case(GHOST, _sparse, "CK118"),
    "index-sparse": Case("index.bin", _sparse, "CK118"),
}


def _hostile_store(work: Path, case: Case) -> Path:
    store = work / "store"
    builder = StoreBuilder(store)
    builder.chain("alpha", 3)
    builder.chain("beta", 2)
    builder.index()
    builder.lock()
    if case.name in ("index.bin", LOCK):
        (store / case.name).unlink()
    case.make(store / case.name)
    return store


def _snapshot(work: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every entry under ``work`` by lstat (mode, size, mtime) and, for a small regular
    file, its hash; nothing else is opened."""
    found = {}
    for folder, names, files in os.walk(work):
        for name in [*names, *files, "."]:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            digest = ""
            if (os.path.isfile(path) and not os.path.islink(path) and info.st_size < 1 << 20
                    and info.st_mode & 0o444):
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            found[os.path.relpath(path, work)] = (info.st_mode, info.st_size,
                                                  info.st_mtime_ns, digest)
    return found


def _run(work: Path, *args: str, pure: bool,
         as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DASHFIX_PURE_PYTHON", None)
    if pure:
        env["DASHFIX_PURE_PYTHON"] = "1"
    command = [*(DROP if as_nobody else []), sys.executable, "-m", "dashfix", *args]
    try:
        result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                                timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`dashfix {' '.join(args)}` did not end within {TIMEOUT} s")
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    return result


def _finding_codes(result: subprocess.CompletedProcess[str], name: str) -> set[str]:
    document: dict[str, Any] = json.loads(result.stdout)
    return {f["code"] for f in document["findings"] if f["path"].endswith("store/" + name)}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


class Place(NamedTuple):
    work: Path
    as_nobody: bool


@pytest.fixture
def place(tmp_path: Path, case: Case) -> Iterator[Place]:
    """Where the read-only commands run, and as whom: root reads a file at mode 000, so
    that case runs as ``nobody`` (setpriv, as test_unreadable_root does) in a folder it can
    pass through (pytest's are 0700)."""
    if case.make is not _unreadable or not AS_ROOT:
        yield Place(tmp_path, False)
        return
    if SETPRIV is None:
        pytest.skip("running as root, which reads a file at mode 000, and setpriv is missing")
    folder = Path(tempfile.mkdtemp(prefix="dashfix-hostile-"))
    folder.chmod(0o711)
    try:
        yield Place(folder, True)
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("pure", [False, True], ids=["c", "python"])
def test_read_only_commands_name_the_entry_and_change_nothing(
    place: Place, case: Case, pure: bool,
) -> None:
    work, as_nobody = place
    store = _hostile_store(work, case)
    before = _snapshot(work)
    cache = work.parent / f"{work.name}-cache"  # outside the snapshot
    verify = ("verify", "store", "--format", "json", "--fail-on", "never")
    try:
        for args in (verify, (*verify, "--cache", str(cache)), (*verify, "--cache", str(cache)),
                     (*verify, "--sample", "1/1")):
            result = _run(work, *args, pure=pure, as_nobody=as_nobody)
            assert result.returncode in (ExitCode.CLEAN, ExitCode.FAILURE), result.stderr
            assert case.code in _finding_codes(result, case.name), (args, result.stdout)
        for args in (("inspect", "store"), ("rebuild-index", "store", "--dry-run"),
                     ("repair", "store")):
            result = _run(work, *args, pure=pure, as_nobody=as_nobody)
            assert result.returncode in (ExitCode.CLEAN, ExitCode.FAILURE), result.stderr
            if args[0] != "inspect" or case.name not in ("index.bin", LOCK):
                assert case.name in result.stdout + result.stderr, (args, result.stdout)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    assert _snapshot(work) == before
    assert store.is_dir()


@pytest.mark.parametrize("command", [("rebuild-index", "store"), ("repair", "store", "--apply")])
def test_writing_commands_end_and_never_follow_the_entry(
    tmp_path: Path, case: Case, command: tuple[str, ...],
) -> None:
    """They run, or stop with exit 3 naming what blocks them; an entry outside the root
    (a symlink's target) is never changed."""
    store = _hostile_store(tmp_path, case)
    outside = tmp_path / OUTSIDE
    kept = outside.read_bytes() if outside.exists() else b""
    result = _run(tmp_path, *command, pure=False)
    assert result.returncode in (ExitCode.CLEAN, ExitCode.FINDINGS, ExitCode.FAILURE)
    if result.returncode == ExitCode.FAILURE:
        assert case.name in result.stdout + result.stderr
    if outside.exists():
        assert outside.read_bytes() == kept
        assert {os.readlink(path) for path in store.rglob("*") if path.is_symlink()} == {
            str(outside)}
    assert os.path.lexists(store / case.name) or (store / ".dashfix-quarantine").is_dir()


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_verify_of_a_symlinked_path_to_a_fifo_or_device_skips_it(
    tmp_path: Path, target: str,
) -> None:
    """A PATH the user typed is followed once; what it names is then treated as if given
    directly: a FIFO is skipped, never opened (it would wait for a writer for ever)."""
    if target == "fifo":
        os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(target)
    result = _run(tmp_path, "verify", "link", "--list-inputs", pure=False)
    assert "not a regular file or folder" in result.stdout, result.stdout
    result = _run(tmp_path, "verify", "link", pure=False)
    assert result.returncode == ExitCode.FAILURE and "DF003" in result.stdout


@pytest.mark.parametrize("args", [("stream", "validate", "log.jsonl"),
                                  ("stream", "validate", "--input-format", "kcat", "log.jsonl"),
                                  ("stream", "validate", "link"),
                                  ("stream", "replay", "log.jsonl", "--to", "out.kcat")])
def test_a_stream_log_that_is_a_fifo_is_reported_never_opened(
    tmp_path: Path, args: tuple[str, ...],
) -> None:
    """A log is read by offset, which no pipe allows; opening a FIFO without a writer would
    block for ever. It is named, with what it is, and not opened."""
    os.mkfifo(tmp_path / "log.jsonl")
    (tmp_path / "link").symlink_to("log.jsonl")
    result = _run(tmp_path, *args, pure=False)
    assert result.returncode in (ExitCode.FINDINGS, ExitCode.FAILURE)
    assert "a FIFO (named pipe), not a regular file or folder" in (
        result.stdout + result.stderr).replace("\n", " ")
    assert not (tmp_path / "out.kcat").exists()


@pytest.mark.parametrize("planted", ["fifo", "dev-zero"])
def test_a_cache_file_that_is_a_fifo_or_symlink_is_rebuilt_never_read(
    tmp_path: Path, planted: str,
) -> None:
    """A restored CI cache is an input too: a FIFO in it would block verify, a symlink to
    /dev/zero never end. Each is a warning and written again as a regular file."""
    _hostile_store(tmp_path, Case("index.bin", lambda path: None, ""))
    assert _run(tmp_path, "verify", "store", "--cache", "cache", pure=False).returncode == 0
    files = sorted((tmp_path / "cache").iterdir())
    for path in files:
        path.unlink()
        if planted == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero")
    result = _run(tmp_path, "verify", "store", "--cache", "cache", pure=False)
    assert result.returncode == 0, result.stderr
    why = "not a regular file" if planted == "fifo" else "a symlink, never followed"
    assert result.stderr.count(f"cannot read ({why}); rebuilding") == len(files)
    assert all(path.is_file() and not path.is_symlink() for path in files)


def test_a_tree_deeper_than_the_recursion_limit_is_walked(tmp_path: Path) -> None:
    """Discovery once recursed per folder level: past Python's recursion limit (1,000
    frames, so about 1,000 levels) it ended in an internal error (RecursionError). The
    limit is lowered to 300 here for a 400-level tree: a tree deep enough for the default
    limit would also break shutil.rmtree, and with it pytest's clean-up of old temporary
    folders. The store at the bottom is found."""
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        for name in ["deep", *["a"] * 400]:  # one level at a time: short paths
            os.mkdir(name)
            os.chdir(name)
        _hostile_store(Path("."), Case("x.bin", _folder, "CK116"))
    finally:
        os.chdir(here)
    command = ("import runpy, sys; sys.setrecursionlimit(300); "
               "sys.argv = ['dashfix', 'verify', 'deep', '--format', 'json']; "
               "runpy.run_module('dashfix', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", command], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == ExitCode.FINDINGS, result.stderr[-2000:]
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["code"] == "CK116" and finding["path"].endswith("/store/x.bin")
