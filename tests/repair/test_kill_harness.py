"""kill -9 at every write step of every writer, and what must hold afterwards.

Each writer (``repair --apply``, the rerun of a killed ``repair --apply`` that cleans up
and settles, ``rebuild-index``, ``repair --restore``) runs in a forked child armed with
``fsops.arm(kill_at=N)``, which SIGKILLs it just before its Nth write
step (every create, write, fchmod, utime, fsync, rename, link, unlink, mkdir, rmdir and
fallocate dashfix makes). N goes 1, 2, 3, ... until the writer completes without reaching
N: every step is a kill point once. After each kill:

- no content is lost: the sha256 of every file of the store before the run is found in the
  store, its quarantine or an index backup;
- ``index.bin`` holds either its old bytes or the complete new index;
- ``verify`` reports every temp file the kill left (CK123) and every unsettled session;
- a rerun completes, leaves no temp file, and the store ends as an uninterrupted run leaves it;
- restoring every session, newest first, brings the store back byte for byte (mode and
  mtime included).

The counts are printed; ``DASHFIX_KILL_AT`` (the same hook from the environment) is tested
through the real CLI in ``tests/cli/test_repair_cmds.py``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dashfix.formats.dashfix_files import QUARANTINE_DIR, is_temp_name
from dashfix.formats.variants import INDEX_NAME, LOCK_NAME
from dashfix.repair import fsops
from dashfix.repair.apply import apply_repair, rebuild_index, restore
from dashfix.repair.backup import is_backup_name
from dashfix.repair.quarantine import list_sessions
from dashfix.testing.checkpoints import StoreBuilder, damage_magic, flip_byte
from dashfix.verify import verify

Writer = Callable[[Path], object]
Visible = dict[str, tuple[bytes | None, int, int]]


def damaged_store(root: Path) -> Path:
    """One of each kind of repair step: a move, a rewrite, a rename, and a stale index."""
    builder = StoreBuilder(root)
    alpha = builder.chain("alpha", 3)
    beta = builder.chain("beta", 2)
    builder.index()
    builder.checkpoint("beta")  # newer than its index entry: the index is rewritten
    builder.lock()
    flip_byte(alpha[1].path, 60)  # corrupt: moved to quarantine
    damage_magic(beta[0].path)  # fixed in place
    builder.temp_checkpoint(alpha[2], remove_target=True)  # promoted
    return root


def stale_index_store(root: Path) -> Path:
    builder = StoreBuilder(root)
    builder.chain("alpha", 2)
    builder.chain("beta", 1)
    builder.index()
    builder.checkpoint("alpha")  # newer than the index entry
    return root


def indexless_store(root: Path) -> Path:
    builder = StoreBuilder(root)
    builder.chain("alpha", 2)
    return root


def visible(store: Path) -> Visible:
    """What DashFlow can see: the store's top level, bar the lock and dashfix's own names."""
    found: Visible = {}
    for entry in sorted(os.scandir(store), key=lambda e: e.name):
        if entry.name in (LOCK_NAME, QUARANTINE_DIR) or is_backup_name(entry.name):
            continue
        info = entry.stat(follow_symlinks=False)
        data = Path(entry.path).read_bytes() if entry.is_file(follow_symlinks=False) else None
        found[entry.name] = (data, info.st_mode, info.st_mtime_ns)
    return found


def without_index_mtime(found: Visible) -> Visible:
    """A rebuilt index.bin is new content with the time it was written as its mtime."""
    if INDEX_NAME in found:
        data, mode, _mtime = found[INDEX_NAME]
        return {**found, INDEX_NAME: (data, mode, 0)}
    return found


def contents(store: Path) -> set[str]:
    """The sha256 of every regular file anywhere under the store."""
    return {hashlib.sha256(path.read_bytes()).hexdigest()
            for path in store.rglob("*") if path.is_file() and not path.is_symlink()}


def temps(store: Path) -> list[Path]:
    return [path for path in store.rglob("*") if is_temp_name(path.name)]


def killed_at(writer: Writer, store: Path, step: int) -> bool:
    """Run ``writer`` in a child killed before its ``step``th write step; True if it died
    there, False if it finished first."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 0
        try:
            fsops.arm(kill_at=step)
            writer(store)
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"the writer failed before step {step}"
    return False


def restore_all(store: Path) -> None:
    for session in reversed(list_sessions(store)):
        if session["state"] != "restored":
            outcome = restore(store, session["session"])
            assert outcome.skipped == [], outcome.skipped


def check_after_kill(store: Path, before: Visible, originals: set[str], new_index: bytes | None,
                     writer: Writer, after: Visible) -> None:
    assert originals <= contents(store), "a file's content is nowhere in the store any more"
    index = store / INDEX_NAME
    old_index = before.get(INDEX_NAME, (None, 0, 0))[0]
    now = index.read_bytes() if index.exists() else None
    assert now in (old_index, new_index), "index.bin is neither the old nor the new index"
    journals = list(store.glob(f"{QUARANTINE_DIR}/*/journal.jsonl"))
    assert len(list_sessions(store)) == len(journals), "--restore list misses a session"
    left = temps(store)
    if left:
        reported = {finding.path for finding in verify([store]).findings
                    if finding.code == "CK123"}
        assert {str(path.relative_to(store)) for path in left} <= reported
    fsops.arm()
    writer(store)  # the rerun
    assert temps(store) == []
    assert all(s["state"] in ("complete", "interrupted") for s in list_sessions(store)), \
        list_sessions(store)
    assert without_index_mtime(visible(store)) == without_index_mtime(after)
    restore_all(store)
    assert visible(store) == before


def run_harness(tmp_path: Path, make_store: Callable[[Path], Path], writer: Writer,
                prepare: Writer | None = None, restoring: bool = False) -> int:
    """Kill ``writer`` at each of its write steps in turn on fresh copies of a store made by
    ``make_store`` (then ``prepare``d); returns the number of kill points."""
    template = make_store(tmp_path / "template")
    before = visible(template)
    originals = contents(template)  # the contents a restore must also keep
    if prepare is not None:
        prepare(template)
    done = tmp_path / "done"
    shutil.copytree(template, done, symlinks=True)
    writer(done)
    after = visible(done)
    new_index = (done / INDEX_NAME).read_bytes() if (done / INDEX_NAME).exists() else None
    step = 0
    while True:
        step += 1
        store = tmp_path / f"kill-{step}"
        shutil.copytree(template, store, symlinks=True)
        if not killed_at(writer, store, step):
            return step - 1
        if not restoring:
            check_after_kill(store, before, originals, new_index, writer, after)
        else:
            check_after_restore_kill(store, before, originals)
        shutil.rmtree(store)


def check_after_restore_kill(store: Path, before: Visible, originals: set[str]) -> None:
    assert originals <= contents(store)
    fsops.arm()
    restore_all(store)
    assert temps(store) == []
    assert visible(store) == before


def apply(store: Path) -> None:
    apply_repair(store, stamp="20260101T000000Z")


def rebuild(store: Path) -> None:
    rebuild_index(store, stamp="20260101T000000Z")


KILL_POINTS: dict[str, int] = {}


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory when the machine has one (/dev/shm): the harness makes thousands
    of fsyncs, which cost nothing there and much on a busy disk; what it checks does not
    depend on the filesystem."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="dashfix-kill-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def killed_mid_repair(store: Path) -> None:
    """Kill ``repair --apply`` at the first step that leaves both a temp file and an
    unsettled session with a step done: the rerun then has to clean up and settle."""
    for step in range(1, 200):
        trial = store.parent / f"{store.name}-trial"
        shutil.copytree(store, trial, symlinks=True)
        killed = killed_at(apply, trial, step)
        sessions = list_sessions(trial)
        ready = temps(trial) and sessions and sessions[0]["done"] >= 1
        shutil.rmtree(trial)
        if not killed:
            break
        if ready:
            assert killed_at(apply, store, step)
            return
    raise AssertionError("no kill point leaves a temp and a session with a step done")


@pytest.mark.parametrize("name, make_store, writer, prepare", [
    ("repair --apply", damaged_store, apply, None),
    ("repair --apply, rerun after a kill", damaged_store, apply, killed_mid_repair),
    ("rebuild-index (stale index)", stale_index_store, rebuild, None),
    ("rebuild-index (no index)", indexless_store, rebuild, None),
    ("repair --restore", damaged_store, lambda s: restore_all(s), apply),
])
def test_every_write_step_survives_a_kill(
    scratch: Path, capsys: pytest.CaptureFixture[str], name: str,
    make_store: Callable[[Path], Path], writer: Writer, prepare: Writer | None,
) -> None:
    points = run_harness(scratch, make_store, writer, prepare,
                         restoring=name == "repair --restore")
    assert points >= 10, f"{name}: only {points} write steps?"
    KILL_POINTS[name] = points
    with capsys.disabled():
        print(f"\nkill harness: {name}: killed at each of {points} write steps; "
              f"{sum(KILL_POINTS.values())} kill points so far")


# -- strace: no write system call bypasses the steps ----------------------------------------

WRITE_CALLS = ("openat", "write", "pwrite64", "writev", "rename", "renameat", "renameat2",
               "link", "linkat", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "fsync",
               "fdatasync", "fchmod", "fchmodat", "utimensat", "fallocate", "ftruncate",
               "truncate", "symlinkat")
_CALL = re.compile(r"^\d+\s+(\w+)\((.*)$")


def traced_writes(store: Path, *args: str) -> list[str]:
    """The write system calls ``dashfix ARGS STORE`` makes on the store, by strace."""
    log = store.parent / f"{store.name}.strace"
    subprocess.run(["strace", "-f", "-y", "-qq", "-o", str(log), "-e",
                    "trace=" + ",".join(WRITE_CALLS), sys.executable, "-m", "dashfix",
                    *args, str(store)], check=True, capture_output=True)
    calls = []
    for line in log.read_text().splitlines():
        match = _CALL.match(line)
        if match is None or str(store) not in match[2]:
            continue
        name, rest = match[1], match[2]
        if rest[:1].isdigit() and not re.match(rf"\d+<{re.escape(str(store))}[/>]", rest):
            continue  # a call on a descriptor outside the store (stdout naming the store)
        if name == "openat" and not ("O_CREAT" in rest or "O_APPEND" in rest):
            continue  # a read, or the write check's open of a file it never writes
        if name == "openat" and LOCK_NAME in rest.split(",")[1]:
            continue  # DashFlow's lock file: opened, never written
        calls.append(name)
    return calls


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("make_store, writer, args", [
    (damaged_store, apply, ("repair", "--apply")),
    (stale_index_store, rebuild, ("rebuild-index",)),
])
def test_every_write_system_call_is_a_counted_step(
    tmp_path: Path, make_store: Callable[[Path], Path], writer: Writer, args: tuple[str, ...]
) -> None:
    template = make_store(tmp_path / "template")
    counted = tmp_path / "counted"
    shutil.copytree(template, counted, symlinks=True)
    state = fsops.arm()
    writer(counted)
    traced = tmp_path / "traced"
    shutil.copytree(template, traced, symlinks=True)
    calls = traced_writes(traced, *args)
    if not calls:
        pytest.skip("strace could not trace here (no ptrace permission?)")
    assert len(calls) == state.steps, sorted(calls)
    assert {"openat", "write", "fsync", "rename"} <= set(calls)
