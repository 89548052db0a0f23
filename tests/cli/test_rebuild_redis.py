"""Acceptance: `dashfix rebuild-index redis://...` against a real Redis server, on keys written
with RedisCheckpointer's own commands: break, plan, apply, verify clean, restore the old
ZSETs and threads SET from the backup file. Each test has a key prefix of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from dashfix.errors import ExitCode
from dashfix.testing.backends import RedisCheckpoints, interop_states
from tests.servers import RedisPrefix, redis_prefix

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)


@pytest.fixture
def rd() -> Iterator[RedisPrefix]:
    yield from redis_prefix()


def _keys(rd: RedisPrefix) -> dict[str, Any]:
    """Every key of the prefix and its value: hashes, ZSETs with scores, the SET."""
    found: dict[str, Any] = {}
    for key in rd.client.scan_iter(match=f"{rd.prefix}:*"):
        kind = rd.client.type(key)
        if kind == b"hash":
            found[key.decode()] = rd.client.hgetall(key)
        elif kind == b"zset":
            found[key.decode()] = rd.client.zrange(key, 0, -1, withscores=True)
        else:
            found[key.decode()] = sorted(rd.client.smembers(key))
    return found


def _hashes(keys: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in keys.items() if ":checkpoint:" in key}


def _broken(rd: RedisPrefix) -> RedisCheckpoints:
    """A lost ZADD (alpha), a stale latest member (beta), a thread whose ZSET is gone
    (gamma) and a thread in the SET with no checkpoint (ghost)."""
    db = RedisCheckpoints(rd.client, rd.prefix, states=STATES)
    alpha = db.chain("alpha", 3)
    rd.client.zrem(db.thread_key("alpha"), alpha[1].checkpoint_id)
    beta = db.chain("beta", 2)
    rd.client.zadd(db.thread_key("beta"), {"beta_gone_chkpt99": beta[-1].timestamp_ms + 5})
    db.chain("gamma", 2)
    rd.client.delete(db.thread_key("gamma"))
    rd.client.sadd(f"{rd.prefix}:threads", "ghost")
    return db


def test_break_plan_apply_verify_restore(rd: RedisPrefix, cli: Callable[..., Any],
                                         tmp_path: Path) -> None:
    db = _broken(rd)
    url = rd.url()
    broken = cli("verify", url, "--format", "json", "--progress", "never")
    assert broken.exit_code == ExitCode.FINDINGS
    assert {"DB501", "DB561", "DB564"} <= {f["code"] for f in broken.json()["findings"]}
    fixes = {f["code"]: f["fix"] for f in broken.json()["findings"]}
    assert fixes["DB501"] == fixes["DB561"] == fixes["DB564"] == f"dashfix rebuild-index '{url}'"
    before = _keys(rd)

    plan = cli("rebuild-index", url, "--dry-run", "--format", "json")
    assert plan.exit_code == ExitCode.CLEAN, plan.stderr
    document = plan.json()
    assert document["dry_run"] is True and document["backup"] is None
    assert document["candidates"] == 7
    changes = document["changes"]
    assert [c["thread_id"] for c in changes["added"]] == ["gamma"]
    assert [c["thread_id"] for c in changes["changed"]] == ["alpha", "beta"]
    assert [c["thread_id"] for c in changes["dropped"]] == ["ghost"]
    alpha, beta = changes["changed"]
    assert alpha["entries_added"] == [f"alpha_{db.proc}_chkpt1"]
    assert beta["old"]["checkpoint_id"] == "beta_gone_chkpt99"
    assert beta["new"]["checkpoint_id"] == db.last["beta"]
    assert beta["entries_removed"] == ["beta_gone_chkpt99"]
    assert _keys(rd) == before, "a dry run writes nothing"
    text = cli("rebuild-index", url, "--dry-run")
    assert "index diff: 1 added, 2 changed, 1 dropped, 0 unchanged" in text.stdout

    backup = tmp_path / "zsets.json"
    applied = cli("rebuild-index", url, "--backup", str(backup), "--format", "json")
    assert applied.exit_code == ExitCode.CLEAN, applied.stderr
    result = applied.json()
    assert result["written"] is True and result["backup"] == str(backup)
    assert result["restore"].endswith(f"--restore {backup}")
    saved = orjson.loads(backup.read_bytes())
    assert {t["thread_id"]: t["state"] for t in saved["threads"]} == dict.fromkeys(
        ["alpha", "beta", "gamma", "ghost"], "written")
    after = _keys(rd)
    assert _hashes(after) == _hashes(before), "no hash is touched"
    assert rd.client.zscore(db.thread_key("gamma"), db.last["gamma"]) is not None
    assert not rd.client.sismember(f"{rd.prefix}:threads", "ghost")

    clean = cli("verify", url, "--format", "json", "--progress", "never")
    assert clean.exit_code == ExitCode.CLEAN, clean.json()["findings"]
    again = cli("rebuild-index", url, "--format", "json").json()
    assert again["written"] is False and again["backup"] is None

    restored = cli("rebuild-index", url, "--restore", str(backup))
    assert restored.exit_code == ExitCode.CLEAN, restored.stdout + restored.stderr
    assert _keys(rd) == before, "the old ZSETs and threads SET are back"
    twice = cli("rebuild-index", url, "--restore", str(backup))
    assert twice.exit_code == ExitCode.CLEAN and "already restored" in twice.stdout


def test_default_backup_file_is_in_the_current_folder(
    rd: RedisPrefix, cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _broken(rd)
    monkeypatch.chdir(tmp_path)
    result = cli("rebuild-index", rd.url())
    assert result.exit_code == ExitCode.CLEAN, result.stderr
    [backup] = tmp_path.glob(f"dashfix-redis-backup-{rd.prefix}-*.json")
    assert f"kept in {backup.name}" in result.stdout
    assert f"--restore {backup.name}" in result.stdout
    assert backup.stat().st_mode & 0o777 == 0o600


def test_restore_leaves_a_zset_changed_since(rd: RedisPrefix, cli: Callable[..., Any],
                                             tmp_path: Path) -> None:
    db = _broken(rd)
    backup = tmp_path / "zsets.json"
    assert cli("rebuild-index", rd.url(), "--backup", str(backup)).exit_code == 0
    db.save("beta")  # DashFlow keeps working after the rebuild
    result = cli("rebuild-index", rd.url(), "--restore", str(backup), "--format", "json")
    assert result.exit_code == ExitCode.FAILURE
    document = result.json()
    assert [line.split(": ")[0] for line in document["skipped"]] == [db.thread_key("beta")]
    assert rd.client.zrevrange(db.thread_key("beta"), 0, 0) == [db.last["beta"].encode()]


def test_backup_is_never_overwritten(rd: RedisPrefix, cli: Callable[..., Any],
                                     tmp_path: Path) -> None:
    _broken(rd)
    backup = tmp_path / "zsets.json"
    backup.write_text("mine")
    result = cli("rebuild-index", rd.url(), "--backup", str(backup))
    assert result.exit_code == ExitCode.USAGE
    assert backup.read_text() == "mine"


def test_password_never_shown(rd: RedisPrefix, cli: Callable[..., Any], tmp_path: Path) -> None:
    _broken(rd)
    base = rd.base.replace("redis://", "redis://:s3cr3t-pw@", 1)
    backup = tmp_path / "zsets.json"
    for args in (("--dry-run",), ("--backup", str(backup)), ("--format", "json")):
        result = cli("rebuild-index", rd.url(base), *args)
        assert "s3cr3t-pw" not in result.stdout + result.stderr
    assert b"s3cr3t-pw" not in backup.read_bytes()
