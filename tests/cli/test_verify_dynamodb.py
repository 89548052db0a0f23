"""Acceptance: `dashfix verify dynamodb://...` against moto's server on a loopback port,
reached through boto3 over HTTP, on items written as DynamoDBCheckpointer writes them, each
table holding exactly one fault (spec 4.10, item 19)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from dashfix.testing.backends import DynamoCheckpoints, interop_states
from dashfix.testing.checkpoints import DEFAULT_PROC
from tests.compression_cases import compression_cases
from tests.servers import s3_bucket

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)


@pytest.fixture
def dynamo(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> DynamoCheckpoints:
    s3_bucket(endpoint, monkeypatch)  # sets the test credentials and region
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    return DynamoCheckpoints(client, f"dashfix-test-{uuid.uuid4().hex[:12]}", states=STATES)


def _url(db: DynamoCheckpoints, endpoint: str, extra: str = "") -> str:
    return f"dynamodb://{db.table}?region=us-east-1&endpoint_url={endpoint}{extra}"


def _healthy(db: DynamoCheckpoints) -> None:
    for _ in range(3):
        db.save("alpha")
    db.save("beta", metadata={"sequence": "0", "distributed": "true"})


def _latest_by_sort_key(db: DynamoCheckpoints) -> None:
    # chkpt9 sorts after chkpt10 as a string: DashFlow's get_latest resumes the older one.
    db.save("alpha", checkpoint_id=f"alpha_{DEFAULT_PROC}_chkpt9")
    db.save("alpha", checkpoint_id=f"alpha_{DEFAULT_PROC}_chkpt10")


def _beyond_first_page(db: DynamoCheckpoints) -> None:
    for n in range(12):
        db.save(f"thread{n}", state=bytes(150_000))


def _same_id_two_threads(db: DynamoCheckpoints) -> None:
    # Early DashFlow ids were bare UUIDs (spec 3.2): nothing ties one to its thread.
    shared = "0b0e8c5e-2f4e-4d7b-9f43-6e1c2a9d4f10"
    db.save("alpha", checkpoint_id=shared)
    db.save("beta", checkpoint_id=shared)


def _missing_attribute(db: DynamoCheckpoints) -> None:
    _healthy(db)
    db.client.update_item(TableName=db.table, Key={
        "thread_id": {"S": "beta"}, "checkpoint_id": {"S": f"beta_{DEFAULT_PROC}_chkpt3"}},
        UpdateExpression="REMOVE node")


CASES: list[tuple[str, Callable[[DynamoCheckpoints], None], int, set[str]]] = [
    ("healthy", _healthy, 0, set()),
    ("latest-by-sort-key", _latest_by_sort_key, 1, {"DB502"}),
    ("beyond-first-page", _beyond_first_page, 1, {"DB590"}),
    ("same-id-two-threads", _same_id_two_threads, 1, {"DB591", "CK144"}),
    ("missing-attribute", _missing_attribute, 1, {"DB506"}),
    *compression_cases(_healthy),
]


@pytest.mark.parametrize(("build", "exit_code", "codes"),
                         [pytest.param(b, e, c, id=i) for i, b, e, c in CASES])
@pytest.mark.parametrize("segments", ["", "&segments=3"])
def test_each_fault_gives_exactly_its_codes(
    dynamo: DynamoCheckpoints, endpoint: str, cli: Callable[..., Any],
    build: Callable[[DynamoCheckpoints], None], exit_code: int, codes: set[str], segments: str,
) -> None:
    build(dynamo)
    result = cli("verify", _url(dynamo, endpoint, segments), "--format", "json")
    findings = result.json()["findings"]
    assert {f["code"] for f in findings} == codes, findings
    assert result.exit_code == exit_code
    for finding in findings:
        assert finding["path_in_root"].startswith(f"#{dynamo.table}/"), finding


def test_every_page_is_read(dynamo: DynamoCheckpoints, endpoint: str,
                            cli: Callable[..., Any]) -> None:
    _beyond_first_page(dynamo)
    result = cli("verify", _url(dynamo, endpoint, "&segments=2"), "--format", "json")
    assert result.json()["summary"]["checked"] == {"checkpoints": 12, "stores": 1,
                                                   "threads": 12}


def test_missing_table_exits_3(dynamo: DynamoCheckpoints, endpoint: str,
                               cli: Callable[..., Any]) -> None:
    url = f"dynamodb://no-such-table?region=us-east-1&endpoint_url={endpoint}"
    result = cli("verify", url, "--format", "json")
    assert result.exit_code == 3
    assert [f["code"] for f in result.json()["findings"]] == ["DB500"]


def _scan_segments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The TotalSegments of every Scan the clients made from here on send (1: a plain
    Scan), seen through botocore's own event hook on a fresh default session."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session()
    sent: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params.get("TotalSegments", 1))

    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("provide-client-params.dynamodb.Scan", record)
    return sent


@pytest.mark.parametrize("command", ["verify", "baseline create"])
def test_segments_flag_overrides_the_url_and_keeps_the_root(
    dynamo: DynamoCheckpoints, endpoint: str, cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str,
) -> None:
    _beyond_first_page(dynamo)
    url = _url(dynamo, endpoint, "&segments=2")
    sent = _scan_segments(monkeypatch)
    baseline = tmp_path / "baseline.json"
    if command == "verify":
        result = cli("verify", url, "--segments", "5", "--format", "json")
        assert result.exit_code == 1
        assert result.json()["roots"] == [url]  # as given: baselines match either way
        assert result.json()["summary"]["checked"]["checkpoints"] == 12
        assert {f["code"] for f in result.json()["findings"]} == {"DB590"}
    else:
        result = cli("baseline", "create", url, "--segments", "5", "-o", str(baseline),
                     "--reason", "known")
        assert result.exit_code == 0, result.stderr
    assert set(sent) == {1, 5} and sent.count(5) >= 5  # the first page's plain Scan
    if command == "baseline create":
        assert cli("verify", url, "--baseline", str(baseline)).exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (("dynamodb://t?region=us-east-1", "--segments", "0"), "--segments must be 1 to 64"),
    (("dynamodb://t?region=us-east-1", "--segments", "65"), "--segments must be 1 to 64"),
    ((".", "--segments", "4"), "--segments applies to dynamodb:// URLs"),
    (("sqlite:///checkpoints.db", "--segments", "4"), "--segments applies to dynamodb:// URLs"),
])
def test_segments_flag_usage_errors(cli: Callable[..., Any], args: tuple[str, ...],
                                    message: str) -> None:
    for command in (("verify",), ("baseline", "create")):
        result = cli(*command, *args)
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert message in result.stderr.replace("\n", " "), result.stderr


def test_bad_segments_is_a_usage_error(cli: Callable[..., Any]) -> None:
    result = cli("verify", "dynamodb://t?segments=0")
    assert result.exit_code == 2
    assert "segments" in result.stderr
