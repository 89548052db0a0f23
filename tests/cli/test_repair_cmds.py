"""Acceptance tests of rebuild-index, repair and inspect: the real CLI on built stores."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dashfix.errors import ExitCode
from dashfix.formats.ids import IdScheme
from dashfix.formats.index import IndexEntry, decode_index
from dashfix.formats.variants import LOCK_NAME
from dashfix.testing.checkpoints import (
    Header,
    StoreBuilder,
    append_bytes,
    flip_byte,
    set_mtime,
)

INTEROP = Path(__file__).resolve().parents[2] / "fixtures" / "interop"

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int, int]]:
    """Every entry under ``root``: bytes (None for folders), mode and mtime."""
    found: dict[str, tuple[bytes | None, int, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if path.is_file() else None
        found[path.relative_to(root).as_posix()] = (data, info.st_mode, info.st_mtime_ns)
    return found


def copy_interop(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(INTEROP / name, target)
    return target


def healthy_store(root: Path) -> StoreBuilder:
    store = StoreBuilder(root)
    store.chain("alpha", 3)
    store.chain("beta", 2)
    store.index()
    store.lock()
    return store


def backups(store: Path) -> list[Path]:
    return sorted(store.glob("index.bin.dashfix-*.bak"))


def test_corrupt_interop_index_is_rebuilt_with_backup(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-corrupt-index", tmp_path)
    original = (store / "index.bin").read_bytes()
    result = cli("rebuild-index", str(store), "--format", "json")
    assert result.exit_code == ExitCode.CLEAN, result.stderr
    document = result.json()
    assert document["old_index"]["state"] == "corrupt"
    assert document["written"] is True
    assert sorted(c["thread_id"] for c in document["changes"]["added"]) == ["alpha", "beta"]
    assert "bug #5" in result.stderr
    index = decode_index((store / "index.bin").read_bytes())
    assert {t: e.checkpoint_id for t, e in index.items()} == {
        "alpha": "alpha_1a2b3c4d5e6f0a1b_chkpt2",
        "beta": "beta_1a2b3c4d5e6f0a1b_chkpt2",
    }
    [backup] = backups(store)
    assert backup.read_bytes() == original
    assert document["backup"] == backup.name


def test_rebuilt_index_matches_what_dashflow_would_write(cli, tmp_path: Path) -> None:
    builder = healthy_store(tmp_path / "s")
    (tmp_path / "s" / "index.bin").unlink()
    assert cli("rebuild-index", str(tmp_path / "s")).exit_code == ExitCode.CLEAN
    assert decode_index((tmp_path / "s" / "index.bin").read_bytes()) == builder.latest_entries()
    assert backups(tmp_path / "s") == []


def test_dry_run_writes_nothing(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-corrupt-index", tmp_path)
    before = snapshot(tmp_path)
    result = cli("rebuild-index", str(store), "--dry-run", "--format", "json")
    assert result.exit_code == ExitCode.CLEAN
    assert result.json()["dry_run"] is True and result.json()["written"] is False
    assert len(result.json()["changes"]["added"]) == 2
    assert snapshot(tmp_path) == before


def test_dry_run_text_says_nothing_written(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-corrupt-index", tmp_path)
    result = cli("rebuild-index", str(store), "--dry-run")
    assert result.exit_code == ExitCode.CLEAN
    assert "dry run: nothing written" in result.stdout
    assert "2 added, 0 changed, 0 dropped" in result.stdout


def test_up_to_date_index_is_not_rewritten(cli, tmp_path: Path) -> None:
    healthy_store(tmp_path / "s")
    before = snapshot(tmp_path)
    result = cli("rebuild-index", str(tmp_path / "s"), "--format", "json")
    assert result.exit_code == ExitCode.CLEAN
    assert result.json()["written"] is False and result.json()["unchanged"] == 2
    assert snapshot(tmp_path) == before


def test_file_mode_of_index_is_kept(cli, tmp_path: Path) -> None:
    builder = healthy_store(tmp_path / "s")
    index = tmp_path / "s" / "index.bin"
    builder.index({"alpha": IndexEntry("alpha_old", 1, 0)})
    index.chmod(0o600)
    assert cli("rebuild-index", str(tmp_path / "s")).exit_code == ExitCode.CLEAN
    assert index.stat().st_mode & 0o777 == 0o600
    assert decode_index(index.read_bytes()) == builder.latest_entries()
    [backup] = backups(tmp_path / "s")
    assert backup.stat().st_mode & 0o777 == 0o600


def test_stale_and_orphan_entries_are_changed_and_dropped(cli, tmp_path: Path) -> None:
    builder = healthy_store(tmp_path / "s")
    latest = builder.latest_entries()
    stale = {"alpha": IndexEntry(builder.written[0].checkpoint_id, builder.written[0].secs, 0),
             "beta": latest["beta"], "ghost": IndexEntry("ghost_x", 5, 0)}
    builder.index(stale)
    document = cli("rebuild-index", str(tmp_path / "s"), "--format", "json").json()
    assert [c["thread_id"] for c in document["changes"]["changed"]] == ["alpha"]
    assert [c["thread_id"] for c in document["changes"]["dropped"]] == ["ghost"]
    assert document["unchanged"] == 1


def test_corrupt_newest_file_is_never_chosen(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    first, second = builder.chain("alpha", 2)
    flip_byte(second.path, 60)
    document = cli("rebuild-index", str(tmp_path / "s"), "--format", "json").json()
    assert [t["checkpoint_id"] for t in document["threads"]] == [first.checkpoint_id]
    assert document["excluded"] == [
        {"name": second.path.name, "reason": "corrupt: ChecksumMismatch"}
    ]


def disagreeing_store(root: Path) -> tuple[str, str]:
    """Two checkpoints whose mtime order contradicts their embedded order."""
    builder = StoreBuilder(root)
    older, newer = builder.chain("alpha", 2)
    set_mtime(older.path, 2_000_000_000)
    set_mtime(newer.path, 1_900_000_000)
    return older.checkpoint_id, newer.checkpoint_id


@pytest.mark.parametrize(
    ("order", "expect_newer", "ranked_by"),
    [("auto", True, "embedded"), ("embedded", True, "embedded"), ("mtime", False, "mtime")],
)
def test_order_modes_when_mtime_and_embedded_disagree(
    cli, tmp_path: Path, order: str, expect_newer: bool, ranked_by: str
) -> None:
    older, newer = disagreeing_store(tmp_path / "s")
    result = cli("rebuild-index", str(tmp_path / "s"), "--order", order, "--format", "json")
    assert result.exit_code == ExitCode.CLEAN
    [thread] = result.json()["threads"]
    assert thread["checkpoint_id"] == (newer if expect_newer else older)
    assert thread["ranked_by"] == ranked_by
    assert thread["value_from"] == "embedded"
    assert thread["orders_disagree"] is True
    assert thread["latest_by_embedded"] == newer and thread["latest_by_mtime"] == older
    index = decode_index((tmp_path / "s" / "index.bin").read_bytes())
    assert index["alpha"].checkpoint_id == thread["checkpoint_id"]


def test_disagreement_is_reported_in_text(cli, tmp_path: Path) -> None:
    disagreeing_store(tmp_path / "s")
    result = cli("rebuild-index", str(tmp_path / "s"), "--dry-run")
    assert "mtime order and embedded order disagree" in result.stdout


def test_auto_falls_back_to_mtime_without_a_readable_tail(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    builder.checkpoint("alpha", header=Header.LEGACY, scheme=IdScheme.COUNTER)
    garbled = builder.checkpoint("alpha", header=Header.LEGACY, scheme=IdScheme.COUNTER)
    # Trailing garbage: a legacy file DashFlow still reads, but no tail parse ends at EOF.
    append_bytes(garbled.path, b"\x07" * 5)
    set_mtime(garbled.path, 2_000_000_000)
    auto = cli("rebuild-index", str(tmp_path / "s"), "--dry-run", "--format", "json").json()
    [thread] = auto["threads"]
    assert thread["checkpoint_id"] == garbled.checkpoint_id
    assert (thread["ranked_by"], thread["value_from"]) == ("mtime", "mtime")
    assert (thread["secs"], thread["nanos"]) == (2_000_000_000, 0)
    strict = cli("rebuild-index", str(tmp_path / "s"), "--dry-run", "--order", "embedded",
                 "--format", "json").json()
    assert strict["threads"][0]["checkpoint_id"] != garbled.checkpoint_id


def hold_lock(store: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store / LOCK_NAME), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_locked_store_exits_4_and_writes_nothing(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-corrupt-index", tmp_path)
    holder = hold_lock(store, 60)
    try:
        before = snapshot(tmp_path)
        result = cli("rebuild-index", str(store))
        assert result.exit_code == ExitCode.LOCKED
        assert "locked" in result.stderr
        assert snapshot(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()


def test_wait_succeeds_once_the_lock_is_released(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-corrupt-index", tmp_path)
    fd = os.open(store / LOCK_NAME, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    releaser = threading.Timer(0.5, lambda: fcntl.flock(fd, fcntl.LOCK_UN))
    releaser.start()
    try:
        result = cli("rebuild-index", str(store), "--wait", "20", "--format", "json")
    finally:
        releaser.join()
        os.close(fd)
    assert result.exit_code == ExitCode.CLEAN, result.stderr
    assert result.json()["written"] is True


def test_wait_gives_up_with_exit_4(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-corrupt-index", tmp_path)
    holder = hold_lock(store, 60)
    try:
        result = cli("rebuild-index", str(store), "--wait", "0.3")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == ExitCode.LOCKED
    assert "after waiting" in result.stderr


def test_default_store_is_checkpoints_or_the_current_store(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy_store(tmp_path / "checkpoints")
    monkeypatch.chdir(tmp_path)
    assert cli("rebuild-index", "--dry-run", "--format", "json").json()["store"] == "checkpoints"
    monkeypatch.chdir(tmp_path / "checkpoints")
    document = cli("rebuild-index", "--dry-run", "--format", "json").json()
    assert Path(document["store"]) == tmp_path / "checkpoints"
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert cli("rebuild-index", "--dry-run").exit_code == ExitCode.FAILURE


@pytest.mark.parametrize(
    "args",
    [("--order", "newest"), ("--format", "yaml"), ("--wait", "-1")],
)
def test_bad_options_are_usage_errors(cli, tmp_path: Path, args: tuple[str, str]) -> None:
    healthy_store(tmp_path / "s")
    assert cli("rebuild-index", str(tmp_path / "s"), *args).exit_code == ExitCode.USAGE


def test_missing_store_is_exit_3(cli, tmp_path: Path) -> None:
    assert cli("rebuild-index", str(tmp_path / "absent")).exit_code == ExitCode.FAILURE
