"""SqliteCheckpointer databases (spec 4.6, DashFlow's checkpoint/sqlite.rs).

A database is found under a PATH by its schema (a ``checkpoints`` table with DashFlow's
columns), or named by SQLAlchemy's URL form: ``sqlite:///relative/path.db`` or
``sqlite:////absolute/path.db``.

Read-only, and nothing is created next to the database: without a ``-wal`` file it is
opened ``immutable`` (no lock, no sidecar); with a ``-wal`` and its ``-shm``, ``mode=ro`` so
that the commits still in the WAL are read too (SQLite then shares the ``-shm`` with any
running writer, as every reader does, and never blocks it). A ``-wal`` without its ``-shm``
(a copied or crashed database: no process has it open) would make SQLite create the
``-shm`` beside the database, so a private copy of both is read instead. A sidecar that is
not a regular file (a FIFO) is never opened. Rows stream from the cursor; a state BLOB is
never fetched, only its length.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import orjson

from dashfix.errors import UsageError
from dashfix.inputs.checkpoint_model import NS_PER_MS, CheckpointEntry, Place
from dashfix.inputs.sources import CacheKey, SourceUnavailable, SourceUrl

SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_KIND = "sqlite-checkpoints"
CHECKPOINTS = "checkpoints"
METADATA = "checkpoint_metadata"
SCHEMA_VERSION = "schema_version"
CHECKPOINT_COLUMNS = ("id", "thread_id", "node", "state", "timestamp", "parent_id",
                      "created_at")
METADATA_COLUMNS = ("checkpoint_id", "key", "value")
INDEXES = {
    "idx_checkpoints_thread_id": "CREATE INDEX idx_checkpoints_thread_id ON "
                                 "checkpoints(thread_id, timestamp DESC)",
    "idx_checkpoints_parent_id": "CREATE INDEX idx_checkpoints_parent_id ON "
                                 "checkpoints(parent_id)",
}
"""The indexes DashFlow's migration creates, by name, with how to create them again."""


class SqliteRow(NamedTuple):
    """One ``checkpoints`` row: its entry, or why it could not be read back (``problem``)."""

    checkpoint_id: str
    entry: CheckpointEntry | None
    created_at: int | None
    """Seconds (SQLite's ``strftime('%s','now')`` at the last INSERT OR REPLACE)."""
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Schema:
    tables: dict[str, tuple[str, ...]]
    """Table -> its column names."""
    indexes: frozenset[str]

    def missing_columns(self, table: str, wanted: tuple[str, ...]) -> list[str]:
        columns = self.tables.get(table)
        return list(wanted) if columns is None else [c for c in wanted if c not in columns]


def path_of_url(url: SourceUrl) -> Path:
    """The database file of ``sqlite:///relative.db`` / ``sqlite:////absolute.db``."""
    rest = url.text.split("://", 1)[1].split("?", 1)[0]
    if not rest.startswith("/") or len(rest) < 2:
        raise UsageError(f"{url.display}: expected sqlite:///relative/path.db or "
                         "sqlite:////absolute/path.db (an in-memory database holds nothing "
                         "to check)")
    return Path(rest[1:])


_COPY_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _connect(path: Path) -> sqlite3.Connection:
    wal, shm = f"{path}-wal", f"{path}-shm"
    if _is_regular(wal) and not _is_regular(shm):
        return _connect_to_copy(path)
    mode = "mode=ro" if _is_regular(wal) else "mode=ro&immutable=1"
    return _open(str(path.absolute()), mode)


def _open(path: str, mode: str) -> sqlite3.Connection:
    connection = sqlite3.connect(f"file:{quote(path)}?{mode}", uri=True)
    connection.execute("PRAGMA query_only = 1")
    return connection


def _connect_to_copy(path: Path) -> sqlite3.Connection:
    """The database and its ``-wal`` copied to a private folder and opened there (SQLite
    makes the ``-shm`` it needs to read the WAL in that folder); the folder is removed once
    the connection holds its files open."""
    folder = tempfile.mkdtemp(prefix="dashfix-sqlite-")
    try:
        for suffix in ("", "-wal"):
            fd = os.open(f"{path}{suffix}", _COPY_FLAGS)
            with os.fdopen(fd, "rb") as source:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise sqlite3.OperationalError(f"{path}{suffix} is not a regular file")
                with open(os.path.join(folder, f"copy.db{suffix}"), "wb") as target:
                    shutil.copyfileobj(source, target)
        connection = _open(os.path.join(folder, "copy.db"), "mode=ro")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except OSError as exc:
        raise sqlite3.OperationalError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def has_checkpoint_schema(path: Path) -> bool:
    """Whether ``path`` is a SQLite database with DashFlow's ``checkpoints`` table."""
    try:
        connection = _connect(path)
        try:
            columns = {row[1] for row in connection.execute(
                f"PRAGMA table_info({CHECKPOINTS})")}
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return {"id", "thread_id", "state", "timestamp"} <= columns


def sniff_file(path: Path, head: bytes) -> str | None:
    """Discovery's sniffer: a SQLite file holding DashFlow's checkpoint schema."""
    if head.startswith(SQLITE_MAGIC) and has_checkpoint_schema(path):
        return SQLITE_KIND
    return None


class SqliteSource:
    """One SqliteCheckpointer database, opened read-only on first use."""

    backend = "sqlite"

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self._connection: sqlite3.Connection | None = None

    def cache_key(self) -> CacheKey:
        # The database file's stat, plus the -wal's: commits still in the WAL change only it.
        try:
            info = os.stat(f"{self.path}-wal")
        except FileNotFoundError:
            return CacheKey(self.path, "no-wal")
        return CacheKey(self.path, f"wal {info.st_size} {info.st_mtime_ns} {info.st_ino}")

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            if not self.path.is_file():
                raise SourceUnavailable(f"{self.label}: no database file at {self.path}")
            try:
                self._connection = _connect(self.path)
                self._connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as exc:
                raise SourceUnavailable(f"{self.label}: cannot open the SQLite database: "
                                        f"{exc}") from None
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def schema(self) -> Schema:
        with self._reading("its schema"):
            return self._schema()

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """A database that breaks while being read is a source that cannot be read."""
        try:
            yield
        except sqlite3.Error as exc:
            raise SourceUnavailable(f"{self.label}: cannot read {what}: {exc}") from None

    def _schema(self) -> Schema:
        tables = {
            name: tuple(row[1] for row in self.connection.execute(
                f"PRAGMA table_info({_quoted(name)})"))
            for (name,) in self.connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        indexes = frozenset(name for (name,) in self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'"))
        return Schema(tables, indexes)

    def integrity_problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` reports (SQLite stops at 100 messages); empty
        when the database is sound. It includes every test of ``quick_check``."""
        try:
            messages = [row[0] for row in self.connection.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            return [f"the check itself fails: {exc}"]
        return [] if messages == ["ok"] else [str(message) for message in messages]

    def schema_versions(self) -> list[object]:
        with self._reading(SCHEMA_VERSION):
            return [row[0] for row in self.connection.execute(
                f"SELECT version FROM {SCHEMA_VERSION}")]

    def rows(self, with_metadata: bool) -> Iterator[SqliteRow]:
        """Every ``checkpoints`` row in table order, with its metadata rows joined."""
        metadata = (f"(SELECT json_group_object(m.key, m.value) FROM {METADATA} m "
                    "WHERE m.checkpoint_id = c.id)") if with_metadata else "NULL"
        with self._reading(f"the {CHECKPOINTS} table"):
            cursor = self.connection.execute(
                "SELECT c.id, c.thread_id, c.node, length(c.state), typeof(c.timestamp), "
                f"c.timestamp, c.parent_id, c.created_at, {metadata} FROM {CHECKPOINTS} c")
            for values in cursor:
                yield _row(*values)

    def orphan_metadata(self) -> list[tuple[str, int]]:
        """(checkpoint_id, rows) of metadata whose checkpoint is gone, by id."""
        with self._reading(METADATA):
            return [(str(checkpoint_id), count) for checkpoint_id, count in
                    self.connection.execute(
                        f"SELECT checkpoint_id, count(*) FROM {METADATA} WHERE checkpoint_id "
                        f"NOT IN (SELECT id FROM {CHECKPOINTS}) GROUP BY checkpoint_id "
                        "ORDER BY checkpoint_id")]


def row_name(thread_id: str, checkpoint_id: str) -> str:
    """Where a row is, as findings name it."""
    return f"{CHECKPOINTS}/{checkpoint_id}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row(checkpoint_id: object, thread_id: object, node: object, state_size: object,
         timestamp_type: str, timestamp: object, parent_id: object, created_at: object,
         metadata: object) -> SqliteRow:
    shown = str(checkpoint_id)
    created = created_at if isinstance(created_at, int) else None
    wrong = [column for column, value in (("id", checkpoint_id), ("thread_id", thread_id),
                                           ("node", node)) if not isinstance(value, str)]
    if parent_id is not None and not isinstance(parent_id, str):
        wrong.append("parent_id")
    if wrong:
        return SqliteRow(shown, None, created, f"{', '.join(wrong)} not TEXT")
    if timestamp_type != "integer":
        return SqliteRow(shown, None, created,
                         f"timestamp is {timestamp_type} {timestamp!r}, not an INTEGER of "
                         "milliseconds")
    assert isinstance(timestamp, int) and isinstance(checkpoint_id, str)
    assert isinstance(thread_id, str) and isinstance(node, str)
    assert parent_id is None or isinstance(parent_id, str)
    pairs = orjson.loads(metadata) if isinstance(metadata, str) else {}
    entry = CheckpointEntry(
        checkpoint_id, thread_id, node, timestamp * NS_PER_MS, parent_id,
        {str(key): str(value) for key, value in pairs.items()} or None,
        state_size if isinstance(state_size, int) else 0, None, Place.ROW,
        row_name(thread_id, checkpoint_id))
    return SqliteRow(checkpoint_id, entry, created)


def open_store(url: SourceUrl) -> SqliteSource:
    return SqliteSource(path_of_url(url), url.display)
