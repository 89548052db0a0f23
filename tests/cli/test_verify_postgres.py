"""Acceptance: `dashfix verify postgresql://...` against a real PostgreSQL server, on tables
written with PostgresCheckpointer's own statements, each holding exactly one fault (spec
4.7, item 16). Each test has a schema of its own, dropped afterwards (tests/servers.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dashfix.formats.compression import Compression
from dashfix.testing.backends import PostgresCheckpoints, interop_states
from tests.cli.database_verify import cannot_connect, verify_json
from tests.compression_cases import compression_cases
from tests.servers import PostgresTable, postgres_schema

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)
TABLE = "dashflow_checkpoints"
I64_MAX = 2**63 - 1


@pytest.fixture
def pg() -> Iterator[PostgresTable]:
    yield from postgres_schema()


def _table(pg: PostgresTable) -> PostgresCheckpoints:
    return PostgresCheckpoints(pg.connection, TABLE, states=STATES)


def _healthy(db: PostgresCheckpoints) -> None:
    db.chain("alpha", 3)
    db.save("beta", metadata={"sequence": "0", "distributed": "true"})
    db.save("beta", metadata={"sequence": "1", "distributed": "true"})


def _moved(db: PostgresCheckpoints) -> None:
    alpha = db.chain("alpha", 3)
    # beta's save under alpha's second id (#6): ON CONFLICT DO UPDATE moves the row.
    db.save("beta", checkpoint_id=alpha[1].checkpoint_id, parent_id=None)


def _metadata_null(db: PostgresCheckpoints) -> None:
    saved = db.chain("alpha", 2)
    db.connection.execute(f"UPDATE {TABLE} SET metadata = NULL WHERE checkpoint_id = %s".encode(),
                          (saved[1].checkpoint_id,))


def _metadata_array(db: PostgresCheckpoints) -> None:
    saved = db.chain("alpha", 2)
    db.connection.execute(f"UPDATE {TABLE} SET metadata = '[1, 2]' WHERE checkpoint_id = %s"
                          .encode(), (saved[0].checkpoint_id,))
    db.connection.execute(f"UPDATE {TABLE} SET metadata = '{{\"step\": 3}}' WHERE "
                          "checkpoint_id = %s".encode(), (saved[1].checkpoint_id,))


def _metadata_json_null(db: PostgresCheckpoints) -> None:
    saved = db.chain("alpha", 2)
    db.connection.execute(f"UPDATE {TABLE} SET metadata = 'null'::jsonb WHERE checkpoint_id = "
                          "%s".encode(), (saved[1].checkpoint_id,))


def _clamped(db: PostgresCheckpoints) -> None:
    db.chain("alpha", 2)
    db.save("alpha", timestamp_ns=I64_MAX)  # a time past 2262 is clamped to i64::MAX


def _clamped_to_zero(db: PostgresCheckpoints) -> None:
    db.chain("alpha", 2)
    # A time before the epoch is clamped to 0 (a thread of its own: in alpha's chain it
    # would also be a child older than its parent, CK140/CK145).
    db.save("beta", timestamp_ns=0, parent_id=None)


def _bad_zstd(db: PostgresCheckpoints) -> None:
    db.compression = Compression.ZSTD
    db.chain("alpha", 2)
    db.save("alpha", state=b"\x28\xb5\x2f\xfd" + b"\x00" * 12)


def _dangling(db: PostgresCheckpoints) -> None:
    chain = db.chain("alpha", 3)
    db.delete(chain[1].checkpoint_id)


def _no_index(db: PostgresCheckpoints) -> None:
    _healthy(db)
    db.connection.execute(f"DROP INDEX idx_{TABLE}_thread_id".encode())


def _with_composite(db: PostgresCheckpoints) -> None:
    _healthy(db)
    db.connection.execute(f"CREATE INDEX idx_{TABLE}_thread_timestamp ON {TABLE} "
                          "(thread_id, timestamp DESC)".encode())


def _no_primary_key(db: PostgresCheckpoints) -> None:
    """A table someone made without DashFlow's PRIMARY KEY, where one id is on two rows:
    dashfix looks for ids carried twice only when the server does not rule them out."""
    chain = db.chain("alpha", 2)
    db.connection.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {TABLE}_pkey".encode())
    db.connection.execute(f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE checkpoint_id = %s"
                          .encode(), (chain[0].checkpoint_id,))


CASES: list[tuple[str, Callable[[PostgresCheckpoints], None], int, set[str]]] = [
    ("healthy", _healthy, 0, {"DB544"}),
    ("with-schema-sql-index", _with_composite, 0, set()),
    ("compressed-healthy", lambda db: (setattr(db, "compression", Compression.ZSTD),
                                       _healthy(db)), 0,
     {"DB544"}),
    ("moved-to-other-thread", _moved, 1, {"DB544", "DB505", "CK143"}),
    ("metadata-null", _metadata_null, 1, {"DB544", "DB541"}),
    ("metadata-not-object", _metadata_array, 1, {"DB544", "DB542"}),
    ("metadata-json-null", _metadata_json_null, 1, {"DB544", "DB542"}),
    ("timestamp-clamped", _clamped, 1, {"DB544", "DB543"}),
    ("timestamp-clamped-to-zero", _clamped_to_zero, 1, {"DB544", "DB543"}),
    ("state-bad-zstd", _bad_zstd, 1, {"DB544", "DB507"}),
    ("dangling-parent", _dangling, 0, {"DB544", "CK142"}),
    ("missing-index", _no_index, 0, {"DB544", "DB545"}),
    ("no-primary-key-id-twice", _no_primary_key, 0, {"DB544", "CK144"}),
    *compression_cases(_healthy, frozenset({"DB544"})),
]



@pytest.mark.parametrize(("build", "exit_code", "codes"),
                         [pytest.param(b, e, c, id=i) for i, b, e, c in CASES])
def test_each_fault_gives_exactly_its_codes(
    pg: PostgresTable, cli: Callable[..., Any], build: Callable[[PostgresCheckpoints], None],
    exit_code: int, codes: set[str],
) -> None:
    build(_table(pg))
    code, document = verify_json(cli, pg.url(TABLE))
    findings = document["findings"]
    assert {f["code"] for f in findings} == codes, findings
    assert code == exit_code
    for finding in findings:
        assert finding["path_in_root"] == "." or finding["path_in_root"].startswith(
            f"#{TABLE}/"), finding
        assert finding["path"].startswith(pg.url(TABLE).split("?")[0]), finding


def test_checkpoints_are_counted_and_the_root_is_the_url(pg: PostgresTable,
                                                         cli: Callable[..., Any]) -> None:
    _healthy(_table(pg))
    url = pg.url(TABLE)
    code, document = verify_json(cli, url, "--ignore", "DB544")
    assert code == 0
    assert document["roots"] == [url]
    assert document["summary"]["checked"] == {"checkpoints": 5, "stores": 1, "threads": 2}


def test_missing_table_is_reported(pg: PostgresTable, cli: Callable[..., Any]) -> None:
    code, document = verify_json(cli, pg.url("not_there"))
    assert [f["code"] for f in document["findings"]] == ["DB540"]
    assert code == 1


def test_unreachable_server_and_refused_role_exit_3(pg: PostgresTable,
                                                   cli: Callable[..., Any]) -> None:
    for url, cause in (("postgresql://127.0.0.1:1/test", "cannot connect"),
                       (pg.base.replace("://", "://no_such_role_dashfix@", 1), "no_such_role")):
        _, finding = cannot_connect(cli, url)
        assert cause in finding["message"]


def test_bad_table_name_is_a_usage_error(cli: Callable[..., Any]) -> None:
    result = cli("verify", "postgresql://127.0.0.1/test?table=a;drop")
    assert result.exit_code == 2
    assert "table 'a;drop'" in result.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "sarif", "junit", "github"])
def test_no_password_in_any_output(pg: PostgresTable, cli: Callable[..., Any], tmp_path: Path,
                                   fmt: str) -> None:
    _moved(_table(pg))
    secret = "Sup3rS3cret"
    with_password = pg.base.replace("://", f"://root:{secret}@", 1)
    if "@" in pg.base:
        pytest.skip("the test server URL already names a user")
    url = pg.url(TABLE, with_password)
    result = cli("verify", url, "--format", fmt, "--output", f"sarif:{tmp_path}/out.sarif",
                 "--progress", "never")
    assert result.exit_code == 1
    everything = result.stdout + result.stderr + (tmp_path / "out.sarif").read_text()
    assert secret not in everything
    if fmt == "json":
        assert result.json()["roots"] == [url.replace(f":{secret}", "")]
    refused = cli("verify", with_password.replace("127.0.0.1", "127.0.0.1:1", 1)
                  if ":5432" not in with_password else with_password.replace(":5432", ":1"),
                  "--format", fmt)
    assert refused.exit_code == 3
    assert secret not in refused.stdout + refused.stderr


def test_sarif_names_a_row_by_its_logical_location(pg: PostgresTable,
                                                   cli: Callable[..., Any]) -> None:
    _moved(_table(pg))
    url = pg.url(TABLE)
    result = cli("verify", url, "--format", "sarif", "--progress", "never")
    results = json.loads(result.stdout)["runs"][0]["results"]
    moved = next(r for r in results if r["ruleId"] == "DB505")
    (location,) = moved["locations"]
    assert "physicalLocation" not in location
    row = location["logicalLocations"][0]
    checkpoint = row["name"].split("/", 1)[1]
    assert row == {"name": f"{TABLE}/{checkpoint}", "kind": "resource",
                   "fullyQualifiedName": f"{url.split('#')[0]}#{TABLE}/{checkpoint}"}
