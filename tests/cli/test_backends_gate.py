"""Issue 9, sections 5 and 6 on every backend: each store URL goes through everything the CI
gate has (every --format, --output, baselines, --list-inputs, progress, `[tool.dashfix]`
paths that mix a PATH and a URL, `config show`), and no password of the URL, nor the AWS
secret key from the environment, appears in any of it. Each store holds one checkpoint
whose middle one was deleted (a dangling parent, plus DB580 on S3), so every run has
findings to render. Real servers as in test_verify_*.py."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dashfix.testing.backends import (
    DynamoCheckpoints,
    PostgresCheckpoints,
    RedisCheckpoints,
    S3Checkpoints,
    SqliteCheckpoints,
    interop_states,
)
from tests.servers import postgres_schema, redis_prefix, s3_bucket

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)
SECRET = "Sup3rS3cretPw"
AWS_SECRET = "Sup3rS3cretAwsKey"
FORMATS = ("text", "concise", "table", "json", "jsonl", "sarif", "junit", "github")
BACKENDS = ("sqlite", "postgres", "postgres-query-password", "redis", "s3", "dynamodb")


def _aws(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    bucket = s3_bucket(endpoint, monkeypatch)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)  # moto takes any key
    return bucket


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A store of the backend named by the parameter, with a dangling parent; yields its URL
    with a password in it wherever the URL form takes one."""
    backend: str = request.param
    if backend == "sqlite":
        db = SqliteCheckpoints(path=tmp_path / "checkpoints.db", states=STATES)
        db.delete(db.chain("alpha", 3)[1].checkpoint_id)
        db.close()
        yield f"sqlite:///{tmp_path}/checkpoints.db"
    elif backend.startswith("postgres"):
        for pg in postgres_schema():
            if "@" in pg.base or "?" in pg.base:
                pytest.skip("the test server URL already names a user or options")
            pgdb = PostgresCheckpoints(pg.connection, "dashflow_checkpoints", states=STATES)
            pgdb.delete(pgdb.chain("alpha", 3)[1].checkpoint_id)
            base = (pg.base.replace("://", f"://root:{SECRET}@", 1) if backend == "postgres"
                    else pg.base)
            url = pg.url("dashflow_checkpoints", base)
            yield url + f"&password={SECRET}" if backend != "postgres" else url
    elif backend == "redis":
        for rd in redis_prefix():
            if "@" in rd.base:
                pytest.skip("the test server URL already names a user")
            rdb = RedisCheckpoints(rd.client, rd.prefix, states=STATES)
            rdb.delete(rdb.chain("alpha", 3)[1].checkpoint_id)
            # A server without requirepass accepts a password given without a user name.
            yield rd.url(rd.base.replace("://", f"://:{SECRET}@", 1))
    else:
        moto = request.getfixturevalue("endpoint")
        bucket = _aws(moto, monkeypatch)
        if backend == "s3":
            s3db = S3Checkpoints(bucket.client, bucket.bucket, "dashflow", states=STATES)
            saved = [s3db.save("alpha") for _ in range(3)]
            s3db.client.delete_object(Bucket=bucket.bucket,
                                      Key=s3db.checkpoint_key(saved[1].checkpoint_id))
            yield bucket.url("dashflow")
        else:
            import boto3

            table = f"dashfix-test-{uuid.uuid4().hex[:12]}"
            dyn = DynamoCheckpoints(boto3.client("dynamodb", endpoint_url=moto), table,
                                    states=STATES)
            saved = [dyn.save("alpha") for _ in range(3)]
            dyn.client.delete_item(TableName=table, Key={
                "thread_id": {"S": "alpha"}, "checkpoint_id": {"S": saved[1].checkpoint_id}})
            yield f"dynamodb://{table}?region=us-east-1&endpoint_url={moto}"


def _shown(url: str) -> str:
    return (url.replace(f":{SECRET}@", "@").replace("//@", "//")
            .replace(f"&password={SECRET}", ""))


def _clean(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and AWS_SECRET not in text, text
        assert "Traceback" not in text, text


def test_every_format_renders_the_findings_without_a_secret(
        store_url: str, cli: Callable[..., Any], tmp_path: Path) -> None:
    outputs = [f"{fmt}:{tmp_path}/out.{fmt}" for fmt in ("sarif", "junit", "json")]
    codes: set[str] = set()
    for fmt in FORMATS:
        result = cli("verify", store_url, "--format", fmt, "--fail-on", "warning",
                     "--progress", "always", *(arg for o in outputs for arg in ("-o", o)))
        assert result.exit_code == 1, (fmt, result.stdout, result.stderr)
        written = [(tmp_path / f"out.{fmt}").read_text() for fmt in ("sarif", "junit", "json")]
        _clean(result.stdout, result.stderr, *written)
        assert "CK142" in result.stdout, (fmt, result.stdout)
        if fmt == "json":
            document = result.json()
            assert document["roots"] == [_shown(store_url)]
            assert document["summary"]["checked"]["checkpoints"] == 2
            codes = {f["code"] for f in document["findings"]}
    assert "CK142" in codes


def test_a_baseline_accepts_the_findings_and_holds_no_secret(
        store_url: str, cli: Callable[..., Any], tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    created = cli("baseline", "create", store_url, "-o", str(baseline), "--reason",
                  "known: issue 9 acceptance")
    assert created.exit_code == 0, created.stdout + created.stderr
    _clean(created.stdout, created.stderr, baseline.read_text())
    gated = cli("verify", store_url, "--baseline", str(baseline), "--fail-on", "warning",
                "--format", "json")
    assert gated.exit_code == 0, gated.stdout
    findings = gated.json()["findings"]
    assert findings and all(f["suppressed"] for f in findings), findings


def test_list_inputs_names_the_url_without_its_password(
        store_url: str, cli: Callable[..., Any]) -> None:
    result = cli("verify", store_url, "--list-inputs", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    _clean(result.stdout, result.stderr)
    [root] = result.json()["roots"]
    assert root["root"] == _shown(store_url)


def test_config_paths_mix_a_path_and_the_url(
        store_url: str, cli: Callable[..., Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".git").mkdir()
    shutil.copytree(INTEROP_HEALTHY, project / "checkpoints")
    (project / "pyproject.toml").write_text(
        f'[tool.dashfix]\npaths = ["checkpoints", "{store_url}"]\n')
    monkeypatch.chdir(project)
    shown = cli("config", "show", "--format", "json")
    _clean(shown.stdout, shown.stderr)
    assert shown.json()["settings"]["paths"]["value"] == [
        str(project / "checkpoints"), _shown(store_url)]
    _clean(cli("config", "show").stdout)
    result = cli("verify", "--format", "json", "--fail-on", "warning")
    _clean(result.stdout, result.stderr)
    document = result.json()
    assert document["roots"] == ["checkpoints", _shown(store_url)]
    assert {f["code"] for f in document["findings"]} >= {"CK142"}
    checked = document["summary"]["checked"]
    assert (checked["files"], checked["checkpoints"], checked["stores"]) == (15, 2, 2), checked
    assert result.exit_code == 1


@pytest.mark.parametrize(("url", "client", "extra"), [
    (f"postgresql://app:{SECRET}@db/test", "psycopg", "postgres"),
    (f"redis://:{SECRET}@cache:6379/0", "redis", "redis"),
    ("s3://bucket/dashflow", "boto3", "aws"),
    ("dynamodb://table?region=us-east-1", "boto3", "aws"),
])
def test_a_missing_client_exits_2_naming_its_extra(
        url: str, client: str, extra: str, cli: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml")
                              .read_text())
    extras = pyproject["project"]["optional-dependencies"]
    requirement = {"psycopg": "psycopg[binary]>="}.get(client, f"{client}>=")
    assert any(dep.startswith(requirement) for dep in extras[extra]), extras
    assert any(dep.startswith(requirement) for dep in extras["all"]), extras
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == client else real(name, *a))
    result = cli("verify", url, "--format", "json")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"'{extra}' extra" in result.stderr
    _clean(result.stdout, result.stderr)


@pytest.mark.parametrize("url", [
    "s3://bucket/dashflow?endpoint_url=http://127.0.0.1:1",
    "dynamodb://table?region=us-east-1&endpoint_url=http://127.0.0.1:1",
])
def test_an_unreachable_aws_endpoint_exits_3_naming_the_store(
        url: str, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    result = cli("verify", url, "--format", "json")
    assert result.exit_code == 3, result.stdout + result.stderr
    [finding] = result.json()["findings"]
    assert finding["code"] == "DB500"
    assert finding["path"] == url and url in finding["message"]
    _clean(result.stdout, result.stderr)
