"""Acceptance tests of rebuild-index, repair and inspect: the real CLI on built stores."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dashfix.errors import ExitCode
from dashfix.formats.bincode import Writer
from dashfix.formats.checkpoint import encode_tail
from dashfix.formats.dashfix_files import temp_name
from dashfix.formats.index import IndexEntry, decode_index
from dashfix.formats.variants import LOCK_NAME
from dashfix.testing.checkpoints import (
    StoreBuilder,
    WrittenCheckpoint,
    damage_magic,
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


def twin_stores_one_with_a_leftover(tmp_path: Path) -> Path:
    """Healthy stores ``with`` and ``without`` (index cut short); ``with`` also holds the
    temp a killed dashfix run left: returned."""
    for name in ("with", "without"):
        healthy_store(tmp_path / name)
        (tmp_path / name / "index.bin").write_bytes(b"cut")
    newest = tmp_path / "with" / "alpha_1a2b3c4d5e6f0a1b_chkpt2.bin"
    leftover = tmp_path / "with" / temp_name("alpha_1a2b3c4d5e6f0a1b_chkpt2.bin",
                                             "0f0e0d0c-0b0a-4908-8706-050403020100")
    leftover.write_bytes(newest.read_bytes())
    return leftover


def test_leftovers_of_a_killed_run_are_cleaned_before_the_rebuild_plans(
    cli, tmp_path: Path
) -> None:
    """rebuild-index tidies from its own scan's listing and, having removed something,
    plans from a new scan: the plan is the one of a store that never had the leftover."""
    leftover = twin_stores_one_with_a_leftover(tmp_path)
    documents = {}
    for name in ("with", "without"):
        result = cli("rebuild-index", str(tmp_path / name), "--format", "json")
        assert result.exit_code == ExitCode.CLEAN, result.stderr
        documents[name] = result.json()
    assert not leftover.exists()
    assert documents["with"].pop("tidied") == [
        "removed 1 temp file(s) of an interrupted dashfix run from the store"]
    assert documents["without"].pop("tidied") == []
    for document in documents.values():
        for key in ("store", "session", "backup"):
            document.pop(key)
    assert documents["with"] == documents["without"]
    assert (tmp_path / "with" / "index.bin").read_bytes() == (
        tmp_path / "without" / "index.bin").read_bytes()


def test_repair_apply_tidies_from_its_scan_and_plans_as_if_never_left_over(
    cli, tmp_path: Path
) -> None:
    """repair --apply, like rebuild-index, tidies from its own scan's listing and plans from
    a new scan only when tidy removed something: the outcome is the one of a store that
    never had the leftover."""
    leftover = twin_stores_one_with_a_leftover(tmp_path)
    for name in ("with", "without"):
        flip_byte(tmp_path / name / "beta_1a2b3c4d5e6f0a1b_chkpt1.bin", 40)
    documents = {}
    for name in ("with", "without"):
        result = cli("repair", str(tmp_path / name), "--apply", "--format", "json")
        assert result.exit_code == ExitCode.CLEAN, result.stderr
        documents[name] = json.loads(result.stdout.replace(str(tmp_path / name), "STORE"))
    assert not leftover.exists()
    tidied = "removed 1 temp file(s) of an interrupted dashfix run from the store"
    assert documents["with"]["done"][0] == tidied
    documents["with"]["done"].remove(tidied)
    for document in documents.values():
        document.pop("quarantine")
    assert documents["with"] == documents["without"]
    assert [action["name"] for action in documents["with"]["actions"]] == [
        "beta_1a2b3c4d5e6f0a1b_chkpt1.bin"]
    contents = [{path.relative_to(tmp_path / name).as_posix(): path.read_bytes()
                 for path in (tmp_path / name).glob("*") if path.is_file()}
                for name in ("with", "without")]
    assert contents[0] == contents[1]


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
    [excluded] = document["excluded"]
    assert excluded["name"] == second.path.name
    assert excluded["reason"].startswith("CK104")


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


def ambiguous_checkpoint(builder: StoreBuilder, thread: str) -> WrittenCheckpoint:
    """A CRC-valid checkpoint whose tail parse is ambiguous: its state is itself a complete
    tail whose one metadata value swallows the real tail (which must then be valid UTF-8,
    hence a timestamp made of ASCII bytes)."""
    secs = 0x68000000
    metadata = {"a": "b"}
    real_tail = encode_tail("step", secs, 0, None, metadata)
    state = (Writer().string("x").u64(secs).u32(0).u8(0).u64(1).string("k")
             .u64(len(real_tail)).getvalue())
    return builder.checkpoint(thread, state=state, secs=secs, parent=None, metadata=metadata)


def test_auto_falls_back_to_mtime_where_the_tail_is_ambiguous(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    builder.checkpoint("alpha")
    unclear = ambiguous_checkpoint(builder, "alpha")
    set_mtime(unclear.path, 2_000_000_000)
    auto = cli("rebuild-index", str(tmp_path / "s"), "--dry-run", "--format", "json").json()
    [thread] = auto["threads"]
    assert thread["checkpoint_id"] == unclear.checkpoint_id
    assert (thread["ranked_by"], thread["value_from"]) == ("mtime", "mtime")
    assert (thread["secs"], thread["nanos"]) == (2_000_000_000, 0)
    strict = cli("rebuild-index", str(tmp_path / "s"), "--dry-run", "--order", "embedded",
                 "--format", "json").json()
    assert strict["threads"][0]["checkpoint_id"] != unclear.checkpoint_id


def test_embedded_order_leaves_out_threads_without_a_known_time(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    ambiguous_checkpoint(builder, "solo")
    strict = cli("rebuild-index", str(tmp_path / "s"), "--dry-run", "--order", "embedded",
                 "--format", "json").json()
    assert strict["threads"] == [] and strict["unranked_threads"] == ["solo"]


@pytest.mark.parametrize("order", ["auto", "mtime"])
def test_a_pre_epoch_mtime_is_a_plan_line_not_a_traceback(cli, tmp_path: Path,
                                                           order: str) -> None:
    builder = StoreBuilder(tmp_path / "s")
    builder.checkpoint("alpha")
    old = ambiguous_checkpoint(builder, "old")
    os.utime(old.path, (-86400, -86400))
    store = str(tmp_path / "s")
    dry = cli("rebuild-index", store, "--order", order, "--dry-run", "--format", "json").json()
    [left_out] = dry["pre_epoch_threads"]
    assert left_out["file"] == old.path.name and left_out["mtime_secs"] == -86400
    assert "before 1970" in cli("rebuild-index", store, "--order", order, "--dry-run").stdout
    assert cli("repair", store).exit_code == ExitCode.CLEAN
    shutil.copytree(tmp_path / "s", tmp_path / "r", symlinks=True)
    applied = cli("rebuild-index", store, "--order", order, "--format", "json")
    assert applied.exit_code == ExitCode.CLEAN
    done = applied.json()
    assert done["written"] and done["changes"] == dry["changes"]
    assert done["pre_epoch_threads"] == dry["pre_epoch_threads"]
    assert set(decode_index((tmp_path / "s" / "index.bin").read_bytes())) == {"alpha"}
    assert cli("verify", store).exit_code == ExitCode.CLEAN
    repaired = cli("repair", str(tmp_path / "r"), "--apply", "--format", "json")
    assert repaired.exit_code == ExitCode.CLEAN
    assert repaired.json()["index"]["pre_epoch_threads"][0]["file"] == old.path.name


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
        # A dry run takes no lock.
        assert cli("rebuild-index", str(store), "--dry-run").exit_code == ExitCode.CLEAN
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


# repair --------------------------------------------------------------------------------


def damaged_store(root: Path) -> dict[str, Path]:
    """One of each repairable fault next to healthy checkpoints."""
    builder = StoreBuilder(root)
    alpha = builder.chain("alpha", 3)
    beta = builder.chain("beta", 2)
    builder.index()
    builder.lock()
    flip_byte(alpha[1].path, 60)
    damage_magic(beta[0].path)
    promotable = builder.temp_checkpoint(alpha[2], remove_target=True)
    partial = builder.temp_checkpoint(beta[1], complete=False)
    index_temp = builder.temp_index()
    foreign = builder.write_raw("session-123.bin", b"state only, not a checkpoint")
    return {
        "corrupt": alpha[1].path, "magic": beta[0].path, "promotable": promotable,
        "promoted_target": alpha[2].path, "partial": partial, "index_temp": index_temp,
        "foreign": foreign,
    }


def test_repair_without_apply_only_plans(cli, tmp_path: Path) -> None:
    files = damaged_store(tmp_path / "s")
    before = snapshot(tmp_path)
    result = cli("repair", str(tmp_path / "s"), "--format", "json")
    assert result.exit_code == ExitCode.CLEAN, result.stderr
    actions = {a["name"]: a["action"] for a in result.json()["actions"]}
    assert actions == {
        files["corrupt"].name: "quarantine",
        files["magic"].name: "fix-magic",
        files["promotable"].name: "promote",
        files["partial"].name: "quarantine",
        files["index_temp"].name: "quarantine",
        files["foreign"].name: "quarantine",
    }
    assert result.json()["applied"] is False
    assert "bug #5" in result.stderr
    assert snapshot(tmp_path) == before


def test_repair_apply_round_trip(cli, tmp_path: Path) -> None:
    store = tmp_path / "s"
    files = damaged_store(store)
    originals = {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()}
    magic_mtime = files["magic"].stat().st_mtime_ns
    result = cli("repair", str(store), "--apply", "--format", "json")
    assert result.exit_code == ExitCode.CLEAN, result.stdout + result.stderr
    document = result.json()
    assert document["applied"] is True and document["failed"] == []
    assert document["remaining"]["summary"]["errors"] == 0

    # The store is repaired ...
    assert not files["corrupt"].exists() and not files["foreign"].exists()
    assert not files["partial"].exists() and not files["index_temp"].exists()
    assert files["promoted_target"].read_bytes() == originals[files["promotable"].name]
    assert files["magic"].read_bytes() == b"DCHK" + originals[files["magic"].name][4:]
    assert files["magic"].stat().st_mtime_ns == magic_mtime
    index = decode_index((store / "index.bin").read_bytes())
    assert index["alpha"].checkpoint_id == files["promoted_target"].name[: -len(".bin")]
    verified = cli("verify", str(store), "--format", "json")
    assert verified.json()["summary"]["errors"] == 0, verified.stdout

    # ... and every file that left the store or was rewritten is recoverable.
    session = Path(document["quarantine"])
    manifest = json.loads((session / "manifest.json").read_text())
    recorded = {e["name"]: e for e in manifest["entries"]}
    for name in (files["corrupt"].name, files["foreign"].name, files["partial"].name,
                 files["index_temp"].name, files["magic"].name):
        kept = store / recorded[name]["stored_as"]
        assert kept.read_bytes() == originals[name]
        assert recorded[name]["sha256"] == hashlib.sha256(originals[name]).hexdigest()
    assert recorded[files["promotable"].name]["action"] == "renamed"

    restored = cli("repair", str(store), "--restore", session.name, "--format", "json")
    assert restored.exit_code == ExitCode.CLEAN, restored.stdout
    after = {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()}
    assert after == originals


def test_repair_apply_on_locked_store_exits_4(cli, tmp_path: Path) -> None:
    damaged_store(tmp_path / "s")
    holder = hold_lock(tmp_path / "s", 60)
    try:
        before = snapshot(tmp_path)
        assert cli("repair", str(tmp_path / "s"), "--apply").exit_code == ExitCode.LOCKED
        assert snapshot(tmp_path) == before
        # Planning takes no lock.
        assert cli("repair", str(tmp_path / "s")).exit_code == ExitCode.CLEAN
    finally:
        holder.kill()
        holder.wait()


def test_temp_twin_replaces_a_corrupt_checkpoint(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    [only] = builder.chain("alpha", 1)
    good = only.path.read_bytes()
    builder.temp_checkpoint(only)
    flip_byte(only.path, 70)
    document = cli("repair", str(tmp_path / "s"), "--apply", "--format", "json").json()
    assert sorted(a["action"] for a in document["actions"]) == ["promote", "quarantine"]
    assert only.path.read_bytes() == good


def test_complete_temp_whose_target_exists_is_quarantined(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    [only] = builder.chain("alpha", 1)
    temp = builder.temp_checkpoint(only)
    document = cli("repair", str(tmp_path / "s"), "--format", "json").json()
    assert [(a["name"], a["action"]) for a in document["actions"]] == [(temp.name, "quarantine")]


def test_crc_flip_interop_store(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-crc-flip", tmp_path)
    document = cli("repair", str(store), "--apply", "--format", "json").json()
    assert [(a["name"], a["action"]) for a in document["actions"]] == [
        ("alpha_1a2b3c4d5e6f0a1b_chkpt2.bin", "quarantine")
    ]
    assert document["index"]["written"] is False
    assert document["exit_code"] == 0


def test_pure_versioned_store_is_left_alone(cli, tmp_path: Path) -> None:
    store = copy_interop("ckpt-versioned", tmp_path)
    before = snapshot(tmp_path)
    document = cli("repair", str(store), "--format", "json").json()
    assert document["actions"] == []
    assert snapshot(tmp_path) == before


def test_restore_marks_the_session_and_a_second_restore_has_nothing_to_do(
    cli, tmp_path: Path
) -> None:
    damaged_store(tmp_path / "s")
    session = Path(cli("repair", str(tmp_path / "s"), "--apply", "--format", "json")
                   .json()["quarantine"]).name
    listed = cli("repair", str(tmp_path / "s"), "--restore", "list")
    assert f"{session}  repair: complete, 6 of 6 step(s) done" in listed.stdout
    first = cli("repair", str(tmp_path / "s"), "--restore", session, "--format", "json")
    assert first.exit_code == ExitCode.CLEAN and len(first.json()["restored"]) == 6
    [marked] = cli("repair", str(tmp_path / "s"), "--restore", "list", "--format",
                   "json").json()["sessions"]
    assert marked["state"] == "restored" and marked["restored"]
    assert f"{session}  repair: restored, 6 of 6 step(s) done, restored " in cli(
        "repair", str(tmp_path / "s"), "--restore", "list").stdout
    before = snapshot(tmp_path / "s")
    again = cli("repair", str(tmp_path / "s"), "--restore", session)
    assert again.exit_code == ExitCode.CLEAN
    assert f"session {session} was already restored ({marked['restored']}); nothing to do" \
        in again.stdout
    assert {k: v for k, v in snapshot(tmp_path / "s").items() if "quarantine" not in k} == {
        k: v for k, v in before.items() if "quarantine" not in k}


def test_a_repair_killed_by_the_environment_hook_is_listed_reported_and_finished(
    cli, tmp_path: Path
) -> None:
    store = tmp_path / "s"
    damaged_store(store)
    # Step 15 falls after the journal is written and the first file moved, before that move
    # is recorded done.
    killed = subprocess.run([sys.executable, "-m", "dashfix", "repair", str(store), "--apply"],
                            env={**os.environ, "DASHFIX_KILL_AT": "15"}, capture_output=True)
    assert killed.returncode == -9
    [listed] = cli("repair", str(store), "--restore", "list", "--format", "json").json()[
        "sessions"]
    assert listed["state"] == "interrupted (not settled yet)"
    findings = cli("verify", str(store), "--format", "json").json()["findings"]
    assert any(f["code"] == "CK123" and listed["session"] in f["path"] for f in findings)
    rerun = cli("repair", str(store), "--apply", "--format", "json")
    assert rerun.exit_code == ExitCode.CLEAN, rerun.stdout
    assert any(f"settled the interrupted session {listed['session']}" in line
               for line in rerun.json()["done"])
    findings = cli("verify", str(store), "--format", "json").json()["findings"]
    assert not any(f["code"] == "CK123" for f in findings)


def test_restore_list_and_unknown_session(cli, tmp_path: Path) -> None:
    damaged_store(tmp_path / "s")
    cli("repair", str(tmp_path / "s"), "--apply")
    sessions = cli("repair", str(tmp_path / "s"), "--restore", "list", "--format", "json")
    assert len(sessions.json()["sessions"]) == 1
    missing = cli("repair", str(tmp_path / "s"), "--restore", "19990101T000000Z")
    assert missing.exit_code == ExitCode.USAGE
    assert "no repair session '19990101T000000Z'" in missing.stderr
    both = cli("repair", str(tmp_path / "s"), "--restore", "x", "--apply")
    assert both.exit_code == ExitCode.USAGE


# inspect -------------------------------------------------------------------------------


def test_inspect_interop_file_shows_every_field(cli) -> None:
    path = INTEROP / "ckpt-healthy" / "alpha_1a2b3c4d5e6f0a1b_chkpt2.bin"
    result = cli("inspect", str(path), "--format", "json")
    assert result.exit_code == ExitCode.CLEAN
    found = result.json()
    assert found["header"]["magic"] == "DCHK" and found["header"]["integrity"] == "ok"
    assert found["header"]["length_declared"] == path.stat().st_size - 20
    assert found["checkpoint_id"] == "alpha_1a2b3c4d5e6f0a1b_chkpt2"
    assert found["thread_id"] == "alpha"
    assert found["node"] == "draft"
    assert found["timestamp"]["secs"] == 1760000002 and found["timestamp"]["nanos"] == 2000
    assert found["parent_id"] == "alpha_1a2b3c4d5e6f0a1b_chkpt1"
    assert found["metadata"] == {}
    state = found["state"]
    assert state["file_start"] == 20 + state["payload_start"]
    assert state["length"] == state["payload_end"] - state["payload_start"] > 0
    text = cli("inspect", str(path)).stdout
    assert "draft" in text and "state bytes" in text and "0xF5B8DFC9" in text


def test_inspect_builder_file_state_range_is_exact(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    written = builder.checkpoint("alpha", node="plan", metadata={"sequence": "3"})
    found = cli("inspect", str(written.path), "--format", "json").json()
    start = found["state"]["file_start"]
    assert written.path.read_bytes()[start : found["state"]["file_end"]] == written.state
    assert found["metadata"] == {"sequence": "3"}


def test_inspect_reports_damage_without_failing(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    written = builder.checkpoint("alpha")
    damage_magic(written.path)
    found = cli("inspect", str(written.path), "--format", "json").json()
    assert found["header"]["damaged_magic"] is True
    assert any("magic" in problem for problem in found["problems"])


def test_inspect_thread_tree_marks_index_choice(cli, tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    first, second = builder.chain("alpha", 2)
    builder.new_run("alpha")
    third = builder.checkpoint("alpha")
    builder.chain("beta", 1)
    builder.index({"alpha": IndexEntry(second.checkpoint_id, second.secs, 0)})
    history = cli("inspect", str(tmp_path / "s"), "--thread", "alpha", "--format", "json").json()
    assert history["roots"] == [first.checkpoint_id, third.checkpoint_id]
    children = {c["checkpoint_id"]: c["children"] for c in history["checkpoints"]}
    assert children[first.checkpoint_id] == [second.checkpoint_id]
    assert history["index_entry"]["checkpoint_id"] == second.checkpoint_id
    assert history["latest_by_dashflow_rule"] == third.checkpoint_id
    text = cli("inspect", str(tmp_path / "s"), "--thread", "alpha").stdout
    assert "<- index" in text and "is not the latest" in text


def test_inspect_collision_store_shows_parent_newer_than_child(cli) -> None:
    result = cli("inspect", str(INTEROP / "ckpt-collision-restart"), "--thread", "demo_1")
    assert result.exit_code == ExitCode.CLEAN
    assert "parent is newer than this child" in result.stdout


def test_inspect_store_overview_and_errors(cli, tmp_path: Path) -> None:
    overview = cli("inspect", str(INTEROP / "ckpt-healthy"), "--format", "json").json()
    assert [t["thread_id"] for t in overview["threads"]] == ["alpha", "beta_team_7", "gamma"]
    assert cli("inspect", str(INTEROP / "ckpt-healthy"), "--thread", "nope").exit_code == 3
    assert cli("inspect", str(tmp_path / "absent.bin")).exit_code == ExitCode.FAILURE
    (tmp_path / "notes.txt").write_text("hello")
    assert cli("inspect", str(tmp_path / "notes.txt")).exit_code == ExitCode.FAILURE
    file_path = str(INTEROP / "ckpt-healthy" / "index.bin")
    assert cli("inspect", file_path, "--thread", "alpha").exit_code == ExitCode.USAGE


def test_symlinked_index_is_never_followed_or_replaced(cli, tmp_path: Path) -> None:
    healthy_store(tmp_path / "s")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not yours")
    (tmp_path / "s" / "index.bin").unlink()
    (tmp_path / "s" / "index.bin").symlink_to(outside)
    dry = cli("rebuild-index", str(tmp_path / "s"), "--dry-run", "--format", "json").json()
    assert dry["old_index"]["problem"] == "index.bin: a symlink"
    assert cli("rebuild-index", str(tmp_path / "s")).exit_code == ExitCode.FAILURE
    assert outside.read_bytes() == b"not yours"
    assert (tmp_path / "s" / "index.bin").is_symlink()
    # repair moves the link itself into quarantine, then writes a real index.
    assert cli("repair", str(tmp_path / "s"), "--apply").exit_code == ExitCode.CLEAN
    assert not (tmp_path / "s" / "index.bin").is_symlink()
    assert outside.read_bytes() == b"not yours"
