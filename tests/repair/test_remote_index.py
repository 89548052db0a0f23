"""rebuild-index's planning and its refusal paths on S3 (moto's server mode) and Redis (a
real server): what each kind of damage plans, and a DashFlow save between the plan and the
write, which the conditional PUT (If-Match) or WATCH refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from dashfix.errors import ExitCode
from dashfix.formats.compression import Compression
from dashfix.inputs.backends.redis import RedisSource
from dashfix.inputs.backends.s3 import S3Source
from dashfix.inputs.sources import SourceUrl
from dashfix.repair import redis_index, s3_index
from dashfix.testing.backends import RedisCheckpoints, S3Checkpoints
from tests.cli.test_rebuild_redis import _broken as _broken_redis
from tests.cli.test_rebuild_s3 import PREFIX, STATES, _broken
from tests.servers import RedisPrefix, S3Bucket, redis_prefix


@pytest.fixture
def rd() -> Iterator[RedisPrefix]:
    yield from redis_prefix()


def _s3_plan(s3: S3Bucket) -> s3_index.S3Plan:
    return s3_index.plan_rebuild(S3Source(SourceUrl(s3.url(PREFIX))), dry_run=True)


def test_an_index_dashflow_rewrote_in_between_is_left_alone(
    s3: S3Bucket, cli: Callable[..., Any],
) -> None:
    """The conditional PUT (If-Match on the ETag the plan read) refuses a changed index:
    a DashFlow save between plan and write is kept, and the run exits 4."""
    from dashfix.inputs.backends.s3 import S3Source
    from dashfix.inputs.sources import SourceUrl
    from dashfix.repair import s3_index

    db = _broken(s3)
    source = S3Source(SourceUrl(s3.url(PREFIX)))
    plan = s3_index.plan_rebuild(source, dry_run=False)
    concurrent = db.save("alpha")  # DashFlow saves between the plan and the write
    alpha_index = db.client.get_object(Bucket=s3.bucket, Key=db.index_key("alpha"))
    db.save("gamma")  # and creates gamma's index, which the plan saw missing
    outcome = s3_index.apply_plan(source, plan)
    assert outcome.exit_code() == ExitCode.LOCKED
    assert {d.thread_id for d in outcome.conflicts} == {"alpha", "gamma"}
    assert [d.thread_id for d in outcome.written] == ["beta"]
    now = db.client.get_object(Bucket=s3.bucket, Key=db.index_key("alpha"))
    assert now["ETag"] == alpha_index["ETag"]
    assert orjson.loads(now["Body"].read())["checkpoints"][0]["id"] == concurrent.checkpoint_id
    # A second run sees the new state and finishes the job.
    assert cli("rebuild-index", s3.url(PREFIX)).exit_code == ExitCode.CLEAN
    assert cli("verify", s3.url(PREFIX), "--progress", "never").exit_code == ExitCode.CLEAN


def test_s3_plan_of_each_kind_of_damage(s3: S3Bucket) -> None:
    db = S3Checkpoints(s3.client, s3.bucket, PREFIX, states=STATES,
                       compression=Compression.ZSTD)
    db.chain("dup", 3)
    listed = db.index("dup")
    db.write_index("dup", [*listed, listed[1]])
    db.chain("order", 3)
    entries = db.index("order")
    db.write_index("order", [entries[0], entries[2], entries[1]])
    db.chain("cut", 2)
    db.client.put_object(Bucket=s3.bucket, Key=db.index_key("cut"), Body=b'{"checkpoints":[')
    stale = db.save("stale")
    db.client.delete_object(Bucket=s3.bucket, Key=db.checkpoint_key(stale.checkpoint_id))
    other = db.save("moved")
    db.client.put_object(Bucket=s3.bucket, Key=db.checkpoint_key("moved_copy"),
                         Body=db.client.get_object(Bucket=s3.bucket, Key=db.checkpoint_key(
                             other.checkpoint_id))["Body"].read())
    plan = _s3_plan(s3)
    diffs = {diff.thread_id: diff for diff in plan.outcome.diffs}
    assert set(diffs) == {"dup", "order", "cut", "stale"}
    assert diffs["dup"].removed == [listed[1]["id"]]
    assert diffs["dup"].kind == "changed" and not diffs["dup"].added
    assert diffs["order"].reordered and not diffs["order"].removed
    assert diffs["cut"].kind == "added" and diffs["cut"].note.startswith("old index is not JSON")
    assert diffs["stale"].kind == "dropped" and diffs["stale"].removed == [stale.checkpoint_id]
    new = {thread.thread_id: orjson.loads(thread.new) for thread in plan.threads}
    assert new["stale"] == {"checkpoints": []}
    assert [name for name, _ in plan.outcome.excluded] == [db.checkpoint_key("moved_copy")]
    assert plan.outcome.unchanged == 1  # "moved": its own object is indexed already


def test_redis_plan_of_each_kind_of_damage(rd: RedisPrefix) -> None:
    db = RedisCheckpoints(rd.client, rd.prefix, states=STATES)
    alpha = db.chain("alpha", 3)
    rd.client.zadd(db.thread_key("alpha"), {alpha[0].checkpoint_id: alpha[0].timestamp_ms - 9})
    db.save("beta", checkpoint_id=alpha[1].checkpoint_id, parent_id=None)  # moves the hash
    broken = db.save("gamma")
    rd.client.hdel(db.checkpoint_key(broken.checkpoint_id), "node")
    source = RedisSource(SourceUrl(rd.url()))
    plan = redis_index.plan_rebuild(source, dry_run=True)
    source.close()
    diffs = {diff.thread_id: diff for diff in plan.outcome.diffs}
    assert set(diffs) == {"alpha"}, "beta is right; gamma's unreadable hash is left alone"
    assert diffs["alpha"].removed == [alpha[1].checkpoint_id]
    assert diffs["alpha"].note == f"score set to the timestamp in ms: {alpha[0].checkpoint_id}"
    [(key, why)] = plan.outcome.excluded
    assert key == db.checkpoint_key(broken.checkpoint_id) and "node" in why


def test_a_thread_dashflow_changed_in_between_is_left_alone(
    rd: RedisPrefix, cli: Callable[..., Any], tmp_path: Path,
) -> None:
    """Under WATCH, a thread whose ZSET no longer holds what the plan read (a DashFlow save
    in between) is not written: its save is kept, the others are done, and the run exits 4."""
    from dashfix.inputs.backends.redis import RedisSource
    from dashfix.inputs.sources import SourceUrl
    from dashfix.repair import redis_index

    db = _broken_redis(rd)
    source = RedisSource(SourceUrl(rd.url()))
    plan = redis_index.plan_rebuild(source, dry_run=False)
    concurrent = db.save("alpha")  # DashFlow saves between the plan and the write
    outcome = redis_index.apply_plan(source, plan, tmp_path / "backup.json")
    source.close()
    assert outcome.exit_code() == ExitCode.LOCKED
    assert [d.thread_id for d in outcome.conflicts] == ["alpha"]
    assert [d.thread_id for d in outcome.written] == ["beta", "gamma", "ghost"]
    top = rd.client.zrevrange(db.thread_key("alpha"), 0, 0)
    assert top == [concurrent.checkpoint_id.encode()]
    assert rd.client.zscore(db.thread_key("alpha"), f"alpha_{db.proc}_chkpt1") is None
    states = {t["thread_id"]: t["state"]
              for t in orjson.loads((tmp_path / "backup.json").read_bytes())["threads"]}
    assert states["alpha"] == "changed-underneath"
    # A second run sees the new state and finishes the job.
    assert cli("rebuild-index", rd.url(), "--backup", str(tmp_path / "b2.json")).exit_code == 0
    assert cli("verify", rd.url(), "--progress", "never").exit_code == ExitCode.CLEAN


def test_s3_restore_undoes_writes_a_killed_run_did_not_record(s3: S3Bucket) -> None:
    db = _broken(s3)
    before = {thread: db.client.get_object(Bucket=s3.bucket, Key=db.index_key(thread))[
        "Body"].read() for thread in ("alpha", "beta")}
    source = S3Source(SourceUrl(s3.url(PREFIX)))
    outcome = s3_index.rebuild_index(source)
    session = outcome.backup.rstrip("/").rsplit("/", 1)[1]
    manifest_key = f"{PREFIX}/dashfix-backups/{session}/manifest.json"
    manifest = orjson.loads(db.client.get_object(Bucket=s3.bucket, Key=manifest_key)[
        "Body"].read())
    for record in manifest["threads"]:  # as a run killed before its last manifest leaves it
        record["state"] = "planned"
    db.client.put_object(Bucket=s3.bucket, Key=manifest_key, Body=orjson.dumps(manifest))
    restored = s3_index.restore_backup(source, session)
    assert sorted(restored.restored) == [db.index_key(t) for t in ("alpha", "beta", "gamma")]
    assert not restored.skipped
    for thread, data in before.items():
        assert db.client.get_object(Bucket=s3.bucket, Key=db.index_key(thread))[
            "Body"].read() == data
    assert db.index("gamma") == []  # the index dashfix created is gone again


def test_redis_restore_undoes_writes_a_killed_run_did_not_record(
    rd: RedisPrefix, tmp_path: Path,
) -> None:
    db = _broken_redis(rd)
    before = {thread: rd.client.zrange(db.thread_key(thread), 0, -1, withscores=True)
              for thread in ("alpha", "beta", "gamma")}
    source = RedisSource(SourceUrl(rd.url()))
    backup = tmp_path / "zsets.json"
    redis_index.rebuild_index(source, backup=backup)
    document = orjson.loads(backup.read_bytes())
    for record in document["threads"]:
        record["state"] = "planned"
    backup.write_bytes(orjson.dumps(document))
    restored = redis_index.restore_backup(source, backup)
    source.close()
    assert len(restored.restored) == 4 and not restored.skipped
    for thread, members in before.items():
        assert rd.client.zrange(db.thread_key(thread), 0, -1, withscores=True) == members
    assert rd.client.sismember(f"{rd.prefix}:threads", "ghost")


def test_text_diff_names_a_few_ids_and_counts_the_rest() -> None:
    from dashfix.repair.remote_index import Latest, ThreadDiff

    diff = ThreadDiff("t", None, Latest("a6", 1), added=[f"a{n}" for n in range(7)],
                      removed=["gone"])
    assert diff.summary() == "+7 a0, a1, a2, a3, a4, ... 2 more; -1 gone"
    assert diff.kind == "added" and len(diff.to_dict()["entries_added"]) == 7
