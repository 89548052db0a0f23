"""Acceptance: `dashfix verify s3://...` against moto's S3 server on a loopback port, reached
through boto3 over HTTP, on objects written as S3Checkpointer writes them, each holding
exactly one fault (spec 4.9, item 18). Objects of the healthy case are the Rust-written
payloads of fixtures/interop themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashfix.formats import dchk
from dashfix.formats.compression import Compression
from dashfix.testing.backends import S3Checkpoints, interop_states
from tests.compression_cases import compression_cases
from tests.servers import S3Bucket

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)
PREFIX = "dashflow"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "compression"


def _rust_payloads(db: S3Checkpoints) -> None:
    for path in sorted(INTEROP_HEALTHY.glob("*_chkpt*.bin")):
        db.put_payload(path.read_bytes()[dchk.HEADER_SIZE:])


def _rust_compressed(suffix: str) -> Callable[[S3Checkpoints], None]:
    """Objects as lz4_flex or snap compressed the Rust-written payloads (fixtures/compression)."""
    def build(db: S3Checkpoints) -> None:
        for path in sorted(FIXTURES.glob(f"*.payload.{suffix}")):
            db.put_payload(path.read_bytes())
    return build


def _lz4_object_cut(db: S3Checkpoints) -> None:
    db.compression = Compression.LZ4
    saved = [db.save("alpha") for _ in range(3)]
    key = db.checkpoint_key(saved[1].checkpoint_id)
    body = db.client.get_object(Bucket=db.bucket, Key=key)["Body"].read()
    db.client.put_object(Bucket=db.bucket, Key=key, Body=body[:-1])


def _healthy(db: S3Checkpoints) -> None:
    for _ in range(3):
        db.save("alpha")
    db.save("beta", metadata={"sequence": "0"})


def _latest_object_gone(db: S3Checkpoints) -> None:
    saved = [db.save("alpha") for _ in range(3)]
    db.client.delete_object(Bucket=db.bucket, Key=db.checkpoint_key(saved[-1].checkpoint_id))


def _older_object_gone(db: S3Checkpoints) -> None:
    saved = [db.save("alpha") for _ in range(3)]
    db.client.delete_object(Bucket=db.bucket, Key=db.checkpoint_key(saved[1].checkpoint_id))


def _lost_index_update(db: S3Checkpoints) -> None:
    for _ in range(2):
        db.save("alpha")
    db.save("alpha", index=False)  # a concurrent save rewrote the index without it


def _older_object_not_indexed(db: S3Checkpoints) -> None:
    db.save("alpha", index=False)  # a crash between the object's PUT and the index's
    for _ in range(2):
        db.save("alpha")


def _index_out_of_order(db: S3Checkpoints) -> None:
    for _ in range(4):
        db.save("alpha")
    entries = db.index("alpha")
    entries[1], entries[2] = entries[2], entries[1]
    db.write_index("alpha", entries)


def _duplicate_in_index(db: S3Checkpoints) -> None:
    for _ in range(3):
        db.save("alpha")
    entries = db.index("alpha")
    db.write_index("alpha", [*entries, entries[1]])


def _object_overwritten(db: S3Checkpoints) -> None:
    first = db.save("alpha")
    db.save("alpha")
    other = db.save("beta")
    body = db.client.get_object(Bucket=db.bucket, Key=db.checkpoint_key(other.checkpoint_id))
    db.client.put_object(Bucket=db.bucket, Key=db.checkpoint_key(first.checkpoint_id),
                         Body=body["Body"].read())


def _index_cut(db: S3Checkpoints) -> None:
    for _ in range(2):
        db.save("alpha")
    body = db.client.get_object(Bucket=db.bucket, Key=db.index_key("alpha"))["Body"].read()
    db.client.put_object(Bucket=db.bucket, Key=db.index_key("alpha"), Body=body[:-7])


CASES: list[tuple[str, Callable[[S3Checkpoints], None], int, set[str]]] = [
    ("rust-written-objects", _rust_payloads, 0, set()),
    ("healthy", _healthy, 0, set()),
    ("compressed-healthy", lambda db: (setattr(db, "compression", Compression.ZSTD),
                                       _healthy(db)), 0, set()),
    ("latest-object-gone", _latest_object_gone, 1, {"DB501"}),
    ("older-object-gone", _older_object_gone, 1, {"DB580", "CK142"}),
    ("lost-index-update", _lost_index_update, 1, {"DB581", "DB502"}),
    ("older-object-not-indexed", _older_object_not_indexed, 0, {"DB581"}),
    ("index-out-of-order", _index_out_of_order, 0, {"DB582"}),
    ("duplicate-in-index", _duplicate_in_index, 0, {"DB583"}),
    ("object-overwritten", _object_overwritten, 1, {"DB584", "CK144", "CK142"}),
    ("index-undecodable", _index_cut, 1, {"DB585", "DB581"}),
    ("lz4-flex-written-objects", _rust_compressed("lz4"), 0, set()),
    ("snap-written-objects", _rust_compressed("snappy"), 0, set()),
    ("lz4-object-cut", _lz4_object_cut, 1, {"DB506"}),
    *compression_cases(_healthy, columns=False),
]


@pytest.mark.parametrize(("build", "exit_code", "codes"),
                         [pytest.param(b, e, c, id=i) for i, b, e, c in CASES])
def test_each_fault_gives_exactly_its_codes(
    s3: S3Bucket, cli: Callable[..., Any], build: Callable[[S3Checkpoints], None],
    exit_code: int, codes: set[str],
) -> None:
    build(S3Checkpoints(s3.client, s3.bucket, PREFIX, states=STATES))
    result = cli("verify", s3.url(PREFIX), "--format", "json", "--progress", "never")
    document = result.json()
    findings = document["findings"]
    assert {f["code"] for f in findings} == codes, findings
    assert result.exit_code == exit_code
    for finding in findings:
        assert finding["path_in_root"].startswith(f"#{PREFIX}/"), finding


def test_rust_objects_are_counted(s3: S3Bucket, cli: Callable[..., Any]) -> None:
    _rust_payloads(S3Checkpoints(s3.client, s3.bucket, PREFIX, states=STATES))
    result = cli("verify", s3.url(PREFIX), "--format", "json")
    assert result.json()["summary"]["checked"] == {"checkpoints": 15, "stores": 1, "threads": 3}


def test_missing_bucket_exits_3(s3: S3Bucket, cli: Callable[..., Any]) -> None:
    url = f"s3://no-such-bucket-dashfix/{PREFIX}?endpoint_url={s3.endpoint}"
    result = cli("verify", url, "--format", "json")
    assert result.exit_code == 3
    assert [f["code"] for f in result.json()["findings"]] == ["DB500"]


def test_empty_prefix_is_nothing_to_check(s3: S3Bucket, cli: Callable[..., Any]) -> None:
    result = cli("verify", s3.url("elsewhere"), "--format", "json")
    assert [f["code"] for f in result.json()["findings"]] == ["DF003"]
    assert result.exit_code == 3
