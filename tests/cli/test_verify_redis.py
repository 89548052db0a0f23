"""Acceptance: `dashfix verify redis://...` against a real Redis server, on keys written with
RedisCheckpointer's own commands, each holding exactly one fault (spec 4.8, item 17). Each
test has a key prefix of its own, deleted afterwards (tests/servers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dashfix.formats.compression import Compression
from dashfix.testing.backends import RedisCheckpoints, interop_states
from dashfix.testing.checkpoints import DEFAULT_PROC
from tests.cli.database_verify import cannot_connect, verify_json
from tests.compression_cases import compression_cases
from tests.servers import RedisPrefix, redis_prefix

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)


@pytest.fixture
def rd() -> Iterator[RedisPrefix]:
    yield from redis_prefix()


def _healthy(db: RedisCheckpoints) -> None:
    db.chain("alpha", 3)
    db.save("beta", metadata={"sequence": "0", "distributed": "true"})
    db.save("beta")


def _latest_hash_gone(db: RedisCheckpoints) -> None:
    chain = db.chain("alpha", 3)
    db.client.delete(db.checkpoint_key(chain[-1].checkpoint_id))  # the ZSET keeps its member


def _older_hash_gone(db: RedisCheckpoints) -> None:
    chain = db.chain("alpha", 3)
    db.client.delete(db.checkpoint_key(chain[1].checkpoint_id))


def _hash_not_listed(db: RedisCheckpoints) -> None:
    chain = db.chain("alpha", 3)
    db.client.zrem(db.thread_key("alpha"), chain[1].checkpoint_id)  # a lost ZADD


def _score_off(db: RedisCheckpoints) -> None:
    chain = db.chain("alpha", 3)
    db.client.zadd(db.thread_key("alpha"), {chain[1].checkpoint_id: chain[1].timestamp_ms - 1})


def _moved(db: RedisCheckpoints) -> None:
    alpha = db.chain("alpha", 3)
    db.save("beta", checkpoint_id=alpha[1].checkpoint_id, parent_id=None)


def _thread_without_checkpoints(db: RedisCheckpoints) -> None:
    _healthy(db)
    db.client.sadd(f"{db.prefix}:threads", "ghost")


def _missing_field(db: RedisCheckpoints) -> None:
    chain = db.chain("alpha", 3)
    db.client.hdel(db.checkpoint_key(chain[1].checkpoint_id), "node")


def _bad_zstd(db: RedisCheckpoints) -> None:
    db.compression = Compression.ZSTD
    db.chain("alpha", 2)
    db.save("alpha", state=b"\x28\xb5\x2f\xfd\x00\x58")


def _same_ms_wrong_member(db: RedisCheckpoints) -> None:
    # chkpt9 and chkpt10 in one millisecond: equal scores, and ZREVRANGE takes the greater
    # member string, "..._chkpt9", though "..._chkpt10" is newer.
    base = db.clock_ns - db.clock_ns % 1_000_000 + 1_000_000
    db.save("alpha", checkpoint_id=f"alpha_{DEFAULT_PROC}_chkpt9", timestamp_ns=base + 100)
    db.save("alpha", checkpoint_id=f"alpha_{DEFAULT_PROC}_chkpt10", timestamp_ns=base + 900)


CASES: list[tuple[str, Callable[[RedisCheckpoints], None], int, set[str]]] = [
    ("healthy", _healthy, 0, set()),
    ("compressed-healthy", lambda db: (setattr(db, "compression", Compression.ZSTD),
                                       _healthy(db)), 0, set()),
    ("latest-hash-gone", _latest_hash_gone, 1, {"DB501"}),
    ("older-hash-gone", _older_hash_gone, 1, {"DB560", "CK142"}),
    ("hash-not-in-zset", _hash_not_listed, 0, {"DB561"}),
    ("score-mismatch", _score_off, 0, {"DB562"}),
    ("moved-to-other-thread", _moved, 1, {"DB563", "DB505", "CK143"}),
    ("thread-without-checkpoints", _thread_without_checkpoints, 1, {"DB564"}),
    ("missing-field", _missing_field, 1, {"DB506"}),
    ("state-bad-zstd", _bad_zstd, 1, {"DB507"}),
    ("same-ms-wrong-latest", _same_ms_wrong_member, 1, {"DB502"}),
    *compression_cases(_healthy),
]



@pytest.mark.parametrize(("build", "exit_code", "codes"),
                         [pytest.param(b, e, c, id=i) for i, b, e, c in CASES])
def test_each_fault_gives_exactly_its_codes(
    rd: RedisPrefix, cli: Callable[..., Any], build: Callable[[RedisCheckpoints], None],
    exit_code: int, codes: set[str],
) -> None:
    build(RedisCheckpoints(rd.client, rd.prefix, states=STATES))
    code, document = verify_json(cli, rd.url())
    findings = document["findings"]
    assert {f["code"] for f in findings} == codes, findings
    assert code == exit_code
    for finding in findings:
        assert finding["path_in_root"].startswith(f"#{rd.prefix}:"), finding


def test_a_prefix_with_no_keys_is_nothing_to_check(rd: RedisPrefix,
                                                   cli: Callable[..., Any]) -> None:
    code, document = verify_json(cli, rd.url())
    assert [f["code"] for f in document["findings"]] == ["DF003"]
    assert rd.prefix in document["findings"][0]["message"]
    assert code == 3


def test_checkpoints_are_counted(rd: RedisPrefix, cli: Callable[..., Any]) -> None:
    db = RedisCheckpoints(rd.client, rd.prefix, states=STATES)
    for thread in range(30):  # more keys than one SCAN page is likely to return
        db.chain(f"t{thread}", 4)
    code, document = verify_json(cli, rd.url())
    assert code == 0, document["findings"]
    assert document["summary"]["checked"] == {"checkpoints": 120, "stores": 1, "threads": 30}


def test_unreachable_and_refused_exit_3_without_the_password(
    rd: RedisPrefix, cli: Callable[..., Any]
) -> None:
    secret = "Sup3rS3cret"
    # (A password alone is accepted by a server without one; an unknown user is refused.)
    refused = rd.url(rd.base.replace("://", f"://nobody_dashfix:{secret}@", 1))
    for url in ("redis://127.0.0.1:1/0", refused):
        result, _ = cannot_connect(cli, url)
        assert secret not in result.stdout + result.stderr
