"""Acceptance: `dashfix verify` on SqliteCheckpointer databases, found under a PATH by their
schema or named by `sqlite:///` URL, each holding exactly one fault (spec 4.6, item 15).

Databases are written with DashFlow's own statements (dashfix.testing.backends) and states
cut from the Rust-written checkpoints of fixtures/interop.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashfix.testing.backends import SqliteCheckpoints, interop_states
from tests.cli.database_verify import cannot_connect, verify_json

INTEROP_HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "interop" / "ckpt-healthy"
STATES = interop_states(INTEROP_HEALTHY)


def _db(folder: Path, name: str = "checkpoints.db") -> SqliteCheckpoints:
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteCheckpoints(path=folder / name, states=STATES)


def _healthy(db: SqliteCheckpoints) -> None:
    db.chain("alpha", 3)
    db.save("beta", metadata={"sequence": "0", "distributed": "true"})
    db.save("beta")


def _orphan_metadata(db: SqliteCheckpoints) -> None:
    _healthy(db)
    doomed = db.save("gamma", metadata={"sequence": "7"})
    db.delete_thread(doomed.thread_id)  # the metadata row stays: CASCADE never fires


def _dangling_parent(db: SqliteCheckpoints) -> None:
    chain = db.chain("alpha", 3)
    db.delete(chain[1].checkpoint_id)


def _latest_same_ms(db: SqliteCheckpoints) -> None:
    first = db.save("alpha")
    db.save("alpha", timestamp_ms=first.timestamp_ms + 5)
    db.save("alpha", parent_id=first.checkpoint_id, timestamp_ms=first.timestamp_ms + 5)


def _older_same_ms(db: SqliteCheckpoints) -> None:
    first = db.save("alpha")
    db.save("alpha", parent_id=first.checkpoint_id, timestamp_ms=first.timestamp_ms)
    db.save("alpha")


def _replaced_row(db: SqliteCheckpoints) -> None:
    # A save of a checkpoint made two hours ago replaces the row: created_at is reset to now.
    db.save("alpha", timestamp_ms=int(time.time() * 1000) - 2 * 3600 * 1000)
    db.save("alpha")


def _moved_to_other_thread(db: SqliteCheckpoints) -> None:
    alpha = db.chain("alpha", 3)
    # A save of thread beta under alpha's second id (#6) replaces the row, thread included;
    # alpha's third checkpoint now names a parent of another thread.
    db.save("beta", checkpoint_id=alpha[1].checkpoint_id, parent_id=None)


def _parent_newer(db: SqliteCheckpoints) -> None:
    # {thread}_{n} ids (before N=122): a restart reuses demo_1_0.. and overwrites them.
    run = [db.save("demo_1", checkpoint_id=f"demo_1_{n}") for n in range(4)]
    db.clock_ns += 3_600_000 * 1_000_000
    for n in range(2):
        db.save("demo_1", checkpoint_id=f"demo_1_{n}", parent_id=None if n == 0 else "demo_1_0")
    assert run


def _timestamp_text(db: SqliteCheckpoints) -> None:
    _healthy(db)
    db.connection.execute("UPDATE checkpoints SET timestamp = 'yesterday' WHERE thread_id = "
                          "'beta' AND parent_id IS NOT NULL")


def _missing_index(db: SqliteCheckpoints) -> None:
    _healthy(db)
    db.connection.execute("DROP INDEX idx_checkpoints_parent_id")


def _schema_version(db: SqliteCheckpoints) -> None:
    _healthy(db)
    db.connection.execute("INSERT INTO schema_version (version) VALUES (2)")


def _damaged_index(db: SqliteCheckpoints) -> None:
    for n in range(40):
        db.save(f"thread{n}")
    db.close()
    with sqlite3.connect(db.path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
        (page,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = "
                                     "'idx_checkpoints_parent_id'").fetchone()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    data = bytearray(db.path.read_bytes())
    start = (page - 1) * page_size
    # Swap the last two cells' payload bytes far into the page: index entries go out of order.
    tail = data[start + page_size - 200 : start + page_size]
    data[start + page_size - 200 : start + page_size] = bytes(reversed(tail))
    db.path.write_bytes(bytes(data))


CASES: list[tuple[str, Callable[[SqliteCheckpoints], None], int, set[str]]] = [
    ("healthy", _healthy, 0, set()),
    ("orphan-metadata", _orphan_metadata, 0, {"DB521"}),
    ("dangling-parent", _dangling_parent, 0, {"CK142"}),
    ("latest-same-ms", _latest_same_ms, 1, {"DB503", "CK141"}),
    ("older-same-ms", _older_same_ms, 0, {"DB504"}),
    ("replaced-row", _replaced_row, 1, {"DB522"}),
    ("moved-to-other-thread", _moved_to_other_thread, 1, {"DB505", "CK143"}),
    ("parent-newer", _parent_newer, 1, {"CK140", "CK145"}),
    ("timestamp-not-integer", _timestamp_text, 1, {"DB506"}),
    ("missing-index", _missing_index, 0, {"DB524"}),
    ("schema-version", _schema_version, 1, {"DB523"}),
    ("damaged-index", _damaged_index, 1, {"DB520"}),
]



@pytest.mark.parametrize(("build", "exit_code", "codes"),
                         [pytest.param(b, e, c, id=i) for i, b, e, c in CASES])
def test_each_fault_gives_exactly_its_codes(
    tmp_path: Path, cli: Callable[..., Any], build: Callable[[SqliteCheckpoints], None],
    exit_code: int, codes: set[str],
) -> None:
    db = _db(tmp_path / "run")
    build(db)
    db.close()
    code, document = verify_json(cli, str(tmp_path))
    findings = document["findings"]
    assert {f["code"] for f in findings} == codes, findings
    assert code == exit_code
    for finding in findings:
        assert finding["path_in_root"] == "run/checkpoints.db" or finding[
            "path_in_root"].startswith("run/checkpoints.db#"), finding
        assert finding["message"]


def test_healthy_database_counts_its_checkpoints(tmp_path: Path,
                                                 cli: Callable[..., Any]) -> None:
    db = _db(tmp_path)
    _healthy(db)
    db.close()
    code, document = verify_json(cli, str(tmp_path))
    assert code == 0
    assert document["summary"]["checked"] == {"checkpoints": 5, "stores": 1, "threads": 2}


def test_url_forms_relative_and_absolute(tmp_path: Path, cli: Callable[..., Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db = _db(tmp_path / "data")
    _dangling_parent(db)
    db.close()
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///data/checkpoints.db", f"sqlite:///{tmp_path}/data/checkpoints.db"):
        code, document = verify_json(cli, url)
        assert code == 0, url
        assert document["roots"] == [url]
        [finding] = document["findings"]
        assert finding["code"] == "CK142"
        assert finding["path_in_root"].startswith("#checkpoints/alpha_"), finding
        assert finding["path"] == f"{url}{finding['path_in_root']}"
        assert document["summary"]["checked"]["checkpoints"] == 2


def test_commits_still_in_the_wal_are_read_and_nothing_is_created(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    db = _db(tmp_path)
    db.connection.execute("PRAGMA wal_autocheckpoint = 0")
    _healthy(db)
    assert (tmp_path / "checkpoints.db-wal").stat().st_size > 0
    # The writer is still open (a running DashFlow): verify reads the WAL beside it.
    code, document = verify_json(cli, str(tmp_path))
    assert code == 0
    assert document["summary"]["checked"]["checkpoints"] == 5
    db.close()  # the last connection folds the WAL back and removes it
    before = sorted(os.listdir(tmp_path))
    code, document = verify_json(cli, str(tmp_path))
    assert code == 0
    assert sorted(os.listdir(tmp_path)) == before  # no -wal or -shm made by a reader


def _copied_with_its_wal(tmp_path: Path) -> Path:
    """A database whose last commits are only in its -wal, copied without the -shm (a CI
    artifact of a running or crashed DashFlow): the folder holding the copy."""
    db = _db(tmp_path / "live")
    db.connection.execute("PRAGMA wal_autocheckpoint = 0")
    _healthy(db)
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in ("", "-wal"):
        (copy / f"checkpoints.db{suffix}").write_bytes(
            (tmp_path / "live" / f"checkpoints.db{suffix}").read_bytes())
    db.close()
    return copy


def test_a_wal_without_its_shm_is_read_and_no_shm_is_created(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """Opened in place, SQLite would create the -shm beside the database to read the WAL."""
    copy = _copied_with_its_wal(tmp_path)
    before = {path.name: path.read_bytes() for path in copy.iterdir()}
    for target in (str(copy), f"sqlite:///{copy / 'checkpoints.db'}"):
        code, document = verify_json(cli, target)
        assert code == 0, document
        assert document["summary"]["checked"]["checkpoints"] == 5  # those in the WAL too
        assert {path.name: path.read_bytes() for path in copy.iterdir()} == before


@pytest.mark.parametrize("fifo", ["-wal", "-shm"])
def test_a_fifo_sidecar_is_never_opened(tmp_path: Path, cli: Callable[..., Any],
                                        fifo: str) -> None:
    """A FIFO -wal is no WAL (the database is read as it is); a FIFO -shm beside a real
    -wal is no running writer's (the copy is read)."""
    if fifo == "-wal":
        db = _db(tmp_path / "copy")
        _healthy(db)
        db.close()  # every commit is in the database file now
        copy = db.path.parent
    else:
        copy = _copied_with_its_wal(tmp_path)
    os.mkfifo(copy / f"checkpoints.db{fifo}")
    before = sorted(os.listdir(copy))
    code, document = verify_json(cli, str(copy))
    assert code == 0, document
    assert document["summary"]["checked"]["checkpoints"] == 5
    assert sorted(os.listdir(copy)) == before


def test_missing_database_url_exits_3_naming_it(tmp_path: Path,
                                               cli: Callable[..., Any]) -> None:
    _, finding = cannot_connect(cli, f"sqlite:///{tmp_path}/nowhere.db")
    assert "nowhere.db" in finding["message"]


def test_in_memory_url_is_a_usage_error(cli: Callable[..., Any]) -> None:
    result = cli("verify", "sqlite://", "--format", "json")
    assert result.exit_code == 2
    assert "sqlite:///relative/path.db" in result.stderr


def test_unknown_scheme_is_a_usage_error(cli: Callable[..., Any]) -> None:
    result = cli("verify", "ftp://host/store")
    assert result.exit_code == 2
    assert "ftp://" in result.stderr and "sqlite://" in result.stderr


def test_urls_and_paths_mix_in_dashfix_paths(tmp_path: Path, cli: Callable[..., Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = _db(tmp_path / "db")
    _healthy(db)
    db.close()
    folder = tmp_path / "empty"
    folder.mkdir()
    url = f"sqlite:///{tmp_path}/db/checkpoints.db"
    monkeypatch.setenv("DASHFIX_PATHS", f"{folder}{os.pathsep}{url}")
    code, document = verify_json(cli)
    assert document["roots"] == [str(folder), url]
    assert {f["code"] for f in document["findings"]} == {"DF003"}  # the empty folder
    assert document["summary"]["checked"]["checkpoints"] == 5
    assert code == 3


def test_list_inputs_shows_databases_and_urls(tmp_path: Path, cli: Callable[..., Any]) -> None:
    db = _db(tmp_path / "found")
    _healthy(db)
    db.close()
    url = "sqlite:////elsewhere/checkpoints.db"
    result = cli("verify", str(tmp_path), url, "--list-inputs", "--format", "json")
    assert result.exit_code == 0
    roots = result.json()["roots"]
    kind = "sqlite-checkpoints"
    [target] = roots[0]["targets"]
    assert (target["kind"], target["format"]) == (kind, kind)
    assert target["path"].endswith("/found/checkpoints.db")
    assert roots[1] == {"root": url, "skipped": [], "problems": [],
                        "targets": [{"kind": "sqlite", "path": url, "format": None}]}


def test_a_file_store_run_imports_no_database_client(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from dashfix.cli.main import run\n"
        f"code = run(['verify', {str(INTEROP_HEALTHY)!r}, '-f', 'json', '--progress', 'never'])\n"
        "loaded = [m for m in ('psycopg', 'redis', 'boto3', 'botocore',\n"
        "          'dashfix.inputs.backends.postgres', 'dashfix.inputs.backends.redis',\n"
        "          'dashfix.inputs.backends.s3', 'dashfix.inputs.backends.dynamodb')\n"
        "          if m in sys.modules]\n"
        "print(code, loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert done.stderr.strip().splitlines()[-1] == "0 []"


def test_list_inputs_names_the_wal_beside_a_running_writer(tmp_path: Path,
                                                          cli: Callable[..., Any]) -> None:
    db = _db(tmp_path)
    db.connection.execute("PRAGMA wal_autocheckpoint = 0")
    _healthy(db)
    result = cli("verify", str(tmp_path), "--list-inputs", "--format", "json")
    skipped = {s["path"].rsplit("/", 1)[-1]: s["reason"]
               for s in result.json()["roots"][0]["skipped"]}
    assert skipped["checkpoints.db-wal"] == "SQLite wal file of checkpoints.db (read with it)"
    db.close()


def test_the_cache_replays_an_unchanged_database_and_rereads_a_changed_one(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    db = _db(tmp_path / "run")
    _dangling_parent(db)
    db.close()
    path = tmp_path / "run" / "checkpoints.db"
    old = time.time_ns() - 60 * 10**9  # older than the run: the cache keeps its result
    os.utime(path, ns=(old, old))
    cache = str(tmp_path / "cache")
    first = cli("verify", str(path.parent), "--cache", cache, "--format", "json").json()
    assert [f["code"] for f in first["findings"]] == ["CK142"]
    size = path.stat().st_size
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM checkpoints")
    connection.close()
    assert path.stat().st_size == size and not Path(f"{path}-wal").exists()
    os.utime(path, ns=(old, old))  # same stat: the findings are replayed, not recomputed
    replayed = cli("verify", str(path.parent), "--cache", cache, "--format", "json").json()
    assert replayed["findings"] == first["findings"]
    os.utime(path)  # a new mtime: read again
    reread = cli("verify", str(path.parent), "--cache", cache, "--format", "json").json()
    assert reread["findings"] == []
    assert reread["summary"]["checked"]["checkpoints"] == 0


def test_a_url_store_is_not_opened_once_the_time_limit_ran_out(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    db = _db(tmp_path)
    _dangling_parent(db)
    db.close()
    url = f"sqlite:///{tmp_path}/checkpoints.db"
    # A nanosecond has always passed by the time the store is reached.
    document = cli("verify", url, "--max-duration", "1e-9", "--format", "json").json()
    assert document["findings"] == []
    assert "were not checked at all because --max-duration" in document["summary"][
        "not_checked"][0]
    assert url in document["summary"]["not_checked"][0]
