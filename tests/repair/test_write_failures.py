"""Write failures: exit 3 with the path and the cause, and nothing changed when the run can
tell before its first change.

The tests run as root, which ignores permission bits, so they use what root cannot bypass:
the immutable flag (``chattr +i``) and tmpfs mounts (read-only, and full). Each skips with
the reason when the machine does not allow it. Failures that strike mid-run (a disk that
fills after the check) are injected at dashfix's own write-step layer (``DASHFIX_FAIL_AT``),
not by mocking a library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dashfix.errors import ExitCode
from dashfix.formats.dashfix_files import QUARANTINE_DIR
from dashfix.testing.checkpoints import StoreBuilder, damage_magic, flip_byte
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int, int]]:
    """Every entry's bytes, mode and mtime; a folder's mtime is left out, as the write
    checks create and remove a probe file in the store and quarantine folders."""
    found: dict[str, tuple[bytes | None, int, int]] = {}
    for path in sorted([root, *root.rglob("*")]):
        info = path.lstat()
        data = path.read_bytes() if path.is_file() else None
        mtime = 0 if path.is_dir() else info.st_mtime_ns
        found[path.relative_to(root).as_posix()] = (data, info.st_mode, mtime)
    return found


def damaged_store(root: Path, state: int = 256) -> dict[str, Path]:
    builder = StoreBuilder(root)
    alpha = builder.chain("alpha", 2, state=state)
    beta = builder.chain("beta", 2, state=state)
    builder.index()
    builder.lock()
    flip_byte(alpha[1].path, 60)  # the latest of its thread: the index must change too
    damage_magic(beta[0].path)
    return {"corrupt": alpha[1].path, "magic": beta[0].path, "index": root / "index.bin"}


def _chattr(flag: str, path: Path) -> bool:
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    return subprocess.run([chattr, flag, str(path)], capture_output=True).returncode == 0


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    if not _chattr("+i", path):
        pytest.skip("chattr +i is not available here (no chattr, or the filesystem has no "
                    "immutable flag)")
    try:
        yield
    finally:
        _chattr("-i", path)


def assert_failed_cleanly(result: CliResult, *words: str) -> None:
    assert result.exit_code == ExitCode.FAILURE, result.stderr
    assert "internal error" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("victim", ["corrupt", "magic", "index"])
def test_an_immutable_file_stops_the_repair_before_any_change(
    cli: Cli, tmp_path: Path, victim: str
) -> None:
    files = damaged_store(tmp_path / "s")
    before = snapshot(tmp_path / "s")
    with immutable(files[victim]):
        result = cli("repair", str(tmp_path / "s"), "--apply")
    assert_failed_cleanly(result, str(files[victim]), "Operation not permitted",
                          "nothing was changed")
    assert snapshot(tmp_path / "s") == before


def test_an_immutable_store_folder_stops_rebuild_index(cli: Cli, tmp_path: Path) -> None:
    files = damaged_store(tmp_path / "s")
    files["index"].write_bytes(b"\x00" * 7)  # corrupt: rebuild-index wants to replace it
    before = snapshot(tmp_path / "s")
    with immutable(tmp_path / "s"):
        result = cli("rebuild-index", str(tmp_path / "s"))
    assert_failed_cleanly(result, str(tmp_path / "s"), "Operation not permitted",
                          "nothing was changed")
    assert snapshot(tmp_path / "s") == before


def test_an_immutable_quarantine_folder_stops_the_repair(cli: Cli, tmp_path: Path) -> None:
    damaged_store(tmp_path / "s")
    quarantine = tmp_path / "s" / QUARANTINE_DIR
    quarantine.mkdir()
    before = snapshot(tmp_path / "s")
    with immutable(quarantine):
        result = cli("repair", str(tmp_path / "s"), "--apply")
    assert_failed_cleanly(result, str(quarantine), "nothing was changed")
    assert snapshot(tmp_path / "s") == before


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.parametrize("command", [["repair", "--apply"], ["rebuild-index"],
                                     ["repair", "--restore", "list"]])
def test_a_read_only_filesystem(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    with tmpfs(tmp_path / "mnt", "4m") as mount:
        damaged_store(mount / "s")
        (mount / "s" / "index.bin").write_bytes(b"\x00" * 7)
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(mount)],
                                   capture_output=True)
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remounted.stderr.decode().strip()}")
        before = snapshot(mount / "s")
        result = cli(command[0], str(mount / "s"), *command[1:])
        if command[-1] == "list":  # reading the sessions needs no write
            assert result.exit_code == ExitCode.CLEAN
        else:
            assert_failed_cleanly(result, str(mount / "s"), "Read-only file system",
                                  "nothing was changed")
        assert snapshot(mount / "s") == before


def test_a_full_disk_stops_the_repair_before_any_change(cli: Cli, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", "1m") as mount:
        files = damaged_store(mount / "s", state=96 * 1024)
        filler = mount / "filler"
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        # Leave less than the two copies the magic fix writes.
        filler.write_bytes(b"\x00" * max(0, free - files["magic"].stat().st_size))
        before = snapshot(mount / "s")
        result = cli("repair", str(mount / "s"), "--apply")
        assert_failed_cleanly(result, str(mount / "s"), "No space left on device",
                              "nothing was changed")
        assert snapshot(mount / "s") == before


def _dashfix(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dashfix", *args], capture_output=True,
                          text=True, env={**os.environ, **env})


def test_a_disk_that_fills_mid_run_is_reported_with_the_session_to_undo(
    cli: Cli, tmp_path: Path
) -> None:
    store = tmp_path / "s"
    damaged_store(store)
    before = snapshot(store)
    # Step 20 comes after the journal and the first move, within the magic fix.
    failed = _dashfix("repair", str(store), "--apply", DASHFIX_FAIL_AT="20:ENOSPC")
    assert failed.returncode == ExitCode.FAILURE, failed.stderr
    assert "internal error" not in failed.stderr
    assert "No space left on device (injected fault) (ENOSPC)" in failed.stderr
    assert "--restore" in failed.stderr and "stopped after 1 step(s)" in failed.stderr
    session = failed.stderr.rsplit("--restore ", 1)[1].split(")")[0].strip()
    listed = cli("repair", str(store), "--restore", "list", "--format", "json").json()
    [found] = listed["sessions"]
    assert found["session"] == session and found["done"] == 1
    assert found["state"] == "stopped early" and found["failed"] == 1
    restored = cli("repair", str(store), "--restore", session)
    assert restored.exit_code == ExitCode.CLEAN, restored.stdout
    after = snapshot(store)
    assert {k: v for k, v in after.items()
            if not k.startswith(QUARANTINE_DIR) and k != ""} == {
        k: v for k, v in before.items() if k != ""}


def test_an_injected_failure_at_the_first_step_changes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "s"
    damaged_store(store)
    before = snapshot(store)
    failed = _dashfix("repair", str(store), "--apply", DASHFIX_FAIL_AT="1:EROFS")
    assert failed.returncode == ExitCode.FAILURE
    assert "Read-only file system (injected fault) (EROFS)" in failed.stderr
    assert "nothing was changed" in failed.stderr
    assert snapshot(store) == before


def test_a_bad_fault_setting_is_a_usage_error(tmp_path: Path) -> None:
    damaged_store(tmp_path / "s")
    failed = _dashfix("repair", str(tmp_path / "s"), "--apply", DASHFIX_KILL_AT="soon")
    assert failed.returncode == ExitCode.USAGE
    assert "DASHFIX_KILL_AT must be a step number" in failed.stderr


def test_a_restore_that_cannot_write_a_file_back_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    files = damaged_store(tmp_path / "s")
    session = Path(cli("repair", str(tmp_path / "s"), "--apply", "--format", "json")
                   .json()["quarantine"]).name
    before = snapshot(tmp_path / "s")
    with immutable(files["index"]):
        result = cli("repair", str(tmp_path / "s"), "--restore", session)
    assert_failed_cleanly(result, str(files["index"]), "nothing was changed")
    assert snapshot(tmp_path / "s") == before
    assert cli("repair", str(tmp_path / "s"), "--restore", session).exit_code == ExitCode.CLEAN
