"""Acceptance: `dashfix rebuild-index s3://...` against moto's S3 server (server mode, over
HTTP through boto3), on objects written as S3Checkpointer writes them: break, plan, apply,
verify clean, restore the old bytes from the backup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from dashfix.errors import ExitCode
from dashfix.testing.backends import S3Checkpoints, interop_states
from tests.servers import S3Bucket

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)
PREFIX = "dashflow"


def _objects(s3: S3Bucket) -> dict[str, bytes]:
    """Every object of the bucket (key -> bytes)."""
    keys = [item["Key"] for page in s3.client.get_paginator("list_objects_v2").paginate(
        Bucket=s3.bucket) for item in page.get("Contents", ())]
    return {key: s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
            for key in keys}


def _index_keys(objects: dict[str, bytes]) -> dict[str, bytes]:
    return {key: data for key, data in objects.items() if key.startswith(f"{PREFIX}/threads/")}


def _broken(s3: S3Bucket) -> S3Checkpoints:
    """Three faults: a lost index update (alpha), an index entry whose object is gone
    (beta's latest), and a thread with no index at all (gamma)."""
    db = S3Checkpoints(s3.client, s3.bucket, PREFIX, states=STATES)
    db.chain("alpha", 2)
    db.save("alpha", index=False)
    beta = db.chain("beta", 3)
    db.client.delete_object(Bucket=s3.bucket, Key=db.checkpoint_key(beta[-1].checkpoint_id))
    db.chain("gamma", 2)
    db.client.delete_object(Bucket=s3.bucket, Key=db.index_key("gamma"))
    return db


def test_break_plan_apply_verify_restore(s3: S3Bucket, cli: Callable[..., Any]) -> None:
    db = _broken(s3)
    url = s3.url(PREFIX)
    broken = cli("verify", url, "--format", "json", "--progress", "never")
    assert broken.exit_code == ExitCode.FINDINGS
    assert {"DB501", "DB502", "DB581"} <= {f["code"] for f in broken.json()["findings"]}
    fixes = {f["code"]: f["fix"] for f in broken.json()["findings"]}
    assert fixes["DB501"] == fixes["DB502"] == fixes["DB581"] == f"dashfix rebuild-index '{url}'"
    before = _objects(s3)

    plan = cli("rebuild-index", url, "--dry-run", "--format", "json")
    assert plan.exit_code == ExitCode.CLEAN, plan.stderr
    document = plan.json()
    assert document["dry_run"] is True and document["written"] is False
    assert document["backend"] == "s3" and document["candidates"] == 7
    changes = document["changes"]
    assert [c["thread_id"] for c in changes["added"]] == ["gamma"]
    assert {c["thread_id"] for c in changes["changed"]} == {"alpha", "beta"}
    alpha = next(c for c in changes["changed"] if c["thread_id"] == "alpha")
    assert alpha["entries_added"] == [db.last["alpha"]]
    assert alpha["new"]["checkpoint_id"] == db.last["alpha"]
    beta = next(c for c in changes["changed"] if c["thread_id"] == "beta")
    assert beta["old"]["checkpoint_id"] == db.last["beta"]
    assert beta["entries_removed"] == [db.last["beta"]]
    assert _objects(s3) == before, "a dry run writes nothing"

    text = cli("rebuild-index", url, "--dry-run")
    assert "index diff: 1 added, 2 changed, 0 dropped, 0 unchanged" in text.stdout
    assert "dry run: nothing written" in text.stdout

    applied = cli("rebuild-index", url, "--format", "json")
    assert applied.exit_code == ExitCode.CLEAN, applied.stderr
    result = applied.json()
    assert result["written"] is True and result["conflicts"] == []
    session_url = result["backup"]
    assert session_url.startswith(f"s3://{s3.bucket}/{PREFIX}/dashfix-backups/")
    after = _objects(s3)
    checkpoints = {k: v for k, v in before.items() if k.startswith(f"{PREFIX}/checkpoints/")}
    assert {k: after[k] for k in checkpoints} == checkpoints, "no object is touched"

    clean = cli("verify", url, "--format", "json", "--progress", "never")
    assert clean.exit_code == ExitCode.CLEAN, clean.json()["findings"]
    assert {f["code"] for f in clean.json()["findings"]} <= {"CK142"}  # beta's lost latest

    again = cli("rebuild-index", url, "--format", "json").json()
    assert again["written"] is False and again["unchanged"] == 3

    session = session_url.rstrip("/").rsplit("/", 1)[1]
    listed = cli("rebuild-index", url, "--restore", "list", "--format", "json").json()
    assert [s["session"] for s in listed["sessions"]] == [session]
    restored = cli("rebuild-index", url, "--restore", session)
    assert restored.exit_code == ExitCode.CLEAN, restored.stdout + restored.stderr
    assert _index_keys(_objects(s3)) == _index_keys(before), "the old bytes are back"
    twice = cli("rebuild-index", url, "--restore", session)
    assert twice.exit_code == ExitCode.CLEAN and "already restored" in twice.stdout


def test_new_index_is_dashflows_shape_newest_first(s3: S3Bucket,
                                                   cli: Callable[..., Any]) -> None:
    db = S3Checkpoints(s3.client, s3.bucket, PREFIX, states=STATES)
    saved = db.chain("alpha", 3)
    written = db.client.get_object(Bucket=s3.bucket, Key=db.index_key("alpha"))["Body"].read()
    db.client.delete_object(Bucket=s3.bucket, Key=db.index_key("alpha"))
    assert cli("rebuild-index", s3.url(PREFIX)).exit_code == ExitCode.CLEAN
    rebuilt = db.client.get_object(Bucket=s3.bucket, Key=db.index_key("alpha"))["Body"].read()
    assert rebuilt == written  # byte for byte what S3Checkpointer's saves left
    assert [e["id"] for e in orjson.loads(rebuilt)["checkpoints"]] == [
        s.checkpoint_id for s in reversed(saved)]


def test_moto_honours_if_match_on_put(s3: S3Bucket) -> None:
    """What the refusal path relies on: the server answers 412 to a PUT whose If-Match is
    stale, and to an If-None-Match: * PUT over an existing key."""
    import botocore.exceptions

    first = s3.client.put_object(Bucket=s3.bucket, Key="k", Body=b"1")
    s3.client.put_object(Bucket=s3.bucket, Key="k", Body=b"2")
    for condition in ({"IfMatch": first["ETag"]}, {"IfNoneMatch": "*"}):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            s3.client.put_object(Bucket=s3.bucket, Key="k", Body=b"3", **condition)
        assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.client.get_object(Bucket=s3.bucket, Key="k")["Body"].read() == b"2"


def test_restore_leaves_an_index_changed_since(s3: S3Bucket, cli: Callable[..., Any]) -> None:
    db = _broken(s3)
    url = s3.url(PREFIX)
    result = cli("rebuild-index", url, "--format", "json").json()
    session = result["backup"].rstrip("/").rsplit("/", 1)[1]
    db.save("alpha")  # DashFlow keeps working after the rebuild
    restored = cli("rebuild-index", url, "--restore", session, "--format", "json")
    assert restored.exit_code == ExitCode.FAILURE
    document = restored.json()
    assert [line.split(":")[0] for line in document["skipped"]] == [db.index_key("alpha")]
    assert sorted(document["restored"]) == [db.index_key("beta"), db.index_key("gamma")]
    assert db.index("alpha")[0]["id"] == db.last["alpha"], "DashFlow's save is kept"


def test_backups_are_invisible_to_verify(s3: S3Bucket, cli: Callable[..., Any]) -> None:
    _broken(s3)
    url = s3.url(PREFIX)
    assert cli("rebuild-index", url).exit_code == ExitCode.CLEAN
    document = cli("verify", url, "--format", "json", "--progress", "never").json()
    assert not [f for f in document["findings"] if "dashfix-backups" in f["path_in_root"]]


@pytest.mark.parametrize("url", [
    "postgresql://app:s3cr3t@127.0.0.1:1/test?table=dashflow_checkpoints",
    "sqlite:///checkpoints.db",
    "dynamodb://dashflow-checkpoints?region=us-east-1",
])
def test_stores_that_are_their_own_index_have_nothing_to_rebuild(
    cli: Callable[..., Any], url: str,
) -> None:
    result = cli("rebuild-index", url, "--dry-run")
    assert result.exit_code == ExitCode.USAGE
    assert "its own index" in result.stderr and "nothing to rebuild" in result.stderr
    assert "dashfix verify" in result.stderr and "s3cr3t" not in result.stderr


def test_folder_only_and_url_only_options_are_refused(
    s3: S3Bucket, cli: Callable[..., Any], tmp_path: Path,
) -> None:
    assert cli("rebuild-index", s3.url(), "--wait", "3").exit_code == ExitCode.USAGE
    assert cli("rebuild-index", s3.url(), "--backup", "x.json").exit_code == ExitCode.USAGE
    assert cli("rebuild-index", s3.url(), "--restore", "x", "--dry-run").exit_code == 2
    (tmp_path / "index.bin").write_bytes(b"")
    assert cli("rebuild-index", str(tmp_path), "--restore", "x").exit_code == ExitCode.USAGE
