"""Write DashFlow's database checkpointers exactly as its code does, faults included.

``PostgresCheckpoints`` issues PostgresCheckpointer's (crates/dashflow-postgres-checkpointer,
lib.rs): its ``CREATE TABLE``/``CREATE INDEX`` batch, ``INSERT ... ON CONFLICT
(checkpoint_id) DO UPDATE`` of every column, nanosecond timestamps, metadata as a JSON
object, and optionally the state compressed as dashflow-compression's zstd (a stream
frame without a content size, as ``zstd::encode_all`` writes it).

``RedisCheckpoints`` issues RedisCheckpointer's (crates/dashflow-redis-checkpointer, lib.rs):
one MULTI/EXEC of HSET (every field, ``parent_id`` "" for None, nanoseconds as decimal
text, metadata as JSON), ZADD with the score ``timestamp_ns / 1_000_000`` and SADD; its
delete reads the hash's thread, then DEL + ZREM.

``S3Checkpoints`` issues S3Checkpointer's (crates/dashflow-s3-checkpointer, lib.rs): PUT of
``{prefix}/checkpoints/{id}`` (the bincode ``Checkpoint``, optionally zstd as a whole),
then a read-modify-write of ``{prefix}/threads/{thread}/index.json`` with no condition:
the id removed, then put first. ``put_payload`` stores a payload written by the Rust
interop program as it is.

``DynamoCheckpoints`` issues DynamoDBCheckpointer's (crates/dashflow-dynamodb-checkpointer,
lib.rs:396-432): a PutItem keyed (thread_id HASH, checkpoint_id RANGE) with ``state`` (B),
``node``, ``timestamp`` (N, nanoseconds), ``parent_id`` only when set and ``metadata``
(M of S) only when not empty.

``SqliteCheckpoints`` issues SqliteCheckpointer's own statements (checkpoint/sqlite.rs):
``PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL``, the v1 migration, ``INSERT OR
REPLACE`` of the row then of each metadata key with no transaction, and deletes that leave
metadata behind (foreign keys are never enabled). States are bincode ``AgentState`` bytes
cut from the Rust-written checkpoints of ``fixtures/interop`` (``interop_states``), so
nothing here is checked only against dashfix's own writer::

    db = SqliteCheckpoints(path=tmp_path / "checkpoints.db",
                           states=interop_states(INTEROP_HEALTHY))
    first, second = db.chain("alpha", 2)
    db.delete(first.checkpoint_id)              # second's parent now dangles
"""

from __future__ import annotations

import abc
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
import zstandard

from dashfix.formats import dchk
from dashfix.formats.checkpoint import encode_checkpoint
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_record import DCHK
from dashfix.testing.checkpoints import DEFAULT_PROC

if TYPE_CHECKING:
    import psycopg
    import redis

SQLITE_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS checkpoints (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    node TEXT NOT NULL,
    state BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    parent_id TEXT,
    created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
);
CREATE INDEX IF NOT EXISTS idx_checkpoints_thread_id
ON checkpoints(thread_id, timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_checkpoints_parent_id
ON checkpoints(parent_id);
CREATE TABLE IF NOT EXISTS checkpoint_metadata (
    checkpoint_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (checkpoint_id, key),
    FOREIGN KEY (checkpoint_id) REFERENCES checkpoints(id) ON DELETE CASCADE
);
INSERT INTO schema_version (version) VALUES (1);
"""
"""SqliteCheckpointer::migrate_v1, statement for statement."""

STEP_MS = 7
"""Milliseconds between two saves of the builder's clock (distinct per checkpoint)."""


def interop_states(store: Path) -> list[bytes]:
    """The state bytes of every DCHK checkpoint file of ``store``, by name: bincode written
    by the independent Rust program of the interop corpus."""
    states = []
    for record in scan_store(store).records:
        if record.variant == DCHK and record.problem is None and record.state_end >= 0:
            payload = (store / record.name).read_bytes()[dchk.HEADER_SIZE:]
            states.append(payload[record.state_start:record.state_end])
    if not states:
        raise ValueError(f"no readable DCHK checkpoint in {store}")
    return states


class Saved(NamedTuple):
    checkpoint_id: str
    thread_id: str
    timestamp_ms: int
    parent_id: str | None


class Next(NamedTuple):
    """What one save writes, as DashFlow's ``Checkpoint::new`` and executor make it."""

    checkpoint_id: str
    parent_id: str | None
    timestamp_ns: int
    state: bytes


@dataclass(kw_only=True)
class CheckpointWriter(abc.ABC):
    """What every backend writer shares: ``Checkpoint::new``'s ids ``{thread}_{proc}_chkpt{n}``
    from a per-process counter, parents chained per thread, a clock in nanoseconds that moves
    ``step_ns`` per save, and states taken in turn from ``states``."""

    states: Sequence[bytes]
    proc: str = DEFAULT_PROC
    clock_ns: int = 1_760_000_000_000_000_000
    step_ns: int = 10_000_007
    counters: dict[str, int] = field(default_factory=dict)
    last: dict[str, str] = field(default_factory=dict)
    saves: int = 0

    def next_save(self, thread_id: str, checkpoint_id: str | None, parent_id: str | bool | None,
                  timestamp_ns: int | None, state: bytes | None = None,
                  compress: bool = False) -> Next:
        """The next save of ``thread_id``; ``parent_id=True`` chains to its last save.
        ``compress`` zstd-compresses a state taken from ``states`` (a given state is stored
        as it is, so a test can plant any bytes)."""
        if checkpoint_id is None:
            counter = self.counters.get(self.proc, 0)
            self.counters[self.proc] = counter + 1
            checkpoint_id = f"{thread_id}_{self.proc}_chkpt{counter}"
        parent = self.last.get(thread_id) if parent_id is True else parent_id or None
        if timestamp_ns is None:
            self.clock_ns += self.step_ns
            timestamp_ns = self.clock_ns
        if state is None:
            state = self.states[self.saves % len(self.states)]
            if compress:
                state = ZSTD_ENCODE_ALL.compress(state)
        self.saves += 1
        self.last[thread_id] = checkpoint_id
        return Next(checkpoint_id, parent, timestamp_ns, state)

    @abc.abstractmethod
    def save(self, thread_id: str, *, node: str = "step") -> Saved:
        """Save one checkpoint of ``thread_id`` as the backend's checkpointer does."""

    def chain(self, thread_id: str, count: int) -> list[Saved]:
        return [self.save(thread_id, node=f"step{n}") for n in range(count)]


@dataclass(kw_only=True)
class SqliteCheckpoints(CheckpointWriter):
    """A SqliteCheckpointer database at ``path``. The clock starts a few seconds before now
    and advances ``STEP_MS`` per save, so timestamps are distinct and ``created_at`` (SQLite's
    own now, as in DashFlow) stays close to them."""

    path: Path
    clock_ns: int = field(default_factory=lambda: time.time_ns() - 10 * 10**9)
    step_ns: int = STEP_MS * 1_000_000

    def __post_init__(self) -> None:
        self.connection = sqlite3.connect(self.path, isolation_level=None)
        self.connection.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
        (version,) = self.connection.execute(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        if version < 1:
            self.connection.executescript(SQLITE_SCHEMA_V1)

    def save(self, thread_id: str, *, node: str = "step", checkpoint_id: str | None = None,
             parent_id: str | bool | None = True, timestamp_ms: int | None = None,
             metadata: Mapping[str, str] | None = None) -> Saved:
        """SqliteCheckpointer::save (milliseconds)."""
        made = self.next_save(thread_id, checkpoint_id, parent_id,
                              None if timestamp_ms is None else timestamp_ms * 1_000_000)
        timestamp_ms = made.timestamp_ns // 1_000_000
        self.connection.execute(
            "INSERT OR REPLACE INTO checkpoints (id, thread_id, node, state, timestamp, "
            "parent_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (made.checkpoint_id, thread_id, node, made.state, timestamp_ms, made.parent_id))
        for key, value in (metadata or {}).items():
            self.connection.execute(
                "INSERT OR REPLACE INTO checkpoint_metadata (checkpoint_id, key, value) "
                "VALUES (?1, ?2, ?3)", (made.checkpoint_id, key, value))
        return Saved(made.checkpoint_id, thread_id, timestamp_ms, made.parent_id)

    def delete(self, checkpoint_id: str) -> None:
        """SqliteCheckpointer::delete: the metadata rows stay (no foreign keys)."""
        self.connection.execute("DELETE FROM checkpoints WHERE id = ?1", (checkpoint_id,))

    def delete_thread(self, thread_id: str) -> None:
        self.connection.execute("DELETE FROM checkpoints WHERE thread_id = ?1", (thread_id,))

    def close(self) -> None:
        self.connection.close()


ZSTD_ENCODE_ALL = zstandard.ZstdCompressor(level=3, write_content_size=False)
"""dashflow-compression's default Zstd(3) through ``zstd::encode_all``: no content size."""


def postgres_schema(table: str) -> str:
    """PostgresCheckpointer::initialize_schema for ``table``."""
    return f"""
            CREATE TABLE IF NOT EXISTS {table} (
                checkpoint_id TEXT PRIMARY KEY,
                thread_id TEXT NOT NULL,
                state BYTEA NOT NULL,
                node TEXT NOT NULL,
                timestamp BIGINT NOT NULL,
                parent_id TEXT,
                metadata JSONB
            );
            CREATE INDEX IF NOT EXISTS idx_{table}_thread_id ON {table} (thread_id);
            CREATE INDEX IF NOT EXISTS idx_{table}_timestamp ON {table} (timestamp);
            """


@dataclass
class PostgresCheckpoints(CheckpointWriter):
    """A PostgresCheckpointer table ``table`` reached through ``connection`` (autocommit,
    as tokio-postgres runs each statement). The clock is in nanoseconds."""

    connection: psycopg.Connection[Any]
    table: str
    compress: bool = False

    def __post_init__(self) -> None:
        self.connection.execute(postgres_schema(self.table).encode())

    def save(self, thread_id: str, *, node: str = "step", checkpoint_id: str | None = None,
             parent_id: str | bool | None = True, timestamp_ns: int | None = None,
             metadata: Mapping[str, str] | None = None, state: bytes | None = None) -> Saved:
        """PostgresCheckpointer::save. ``parent_id=True`` chains to the thread's last save."""
        checkpoint_id, parent, timestamp_ns, state = self.next_save(
            thread_id, checkpoint_id, parent_id, timestamp_ns, state, self.compress)
        self.connection.execute(
            f"""INSERT INTO {self.table} (checkpoint_id, thread_id, state, node, timestamp,
             parent_id, metadata)
             VALUES (%s, %s, %s, %s, %s, %s, %s)
             ON CONFLICT (checkpoint_id) DO UPDATE SET
                 thread_id = EXCLUDED.thread_id,
                 state = EXCLUDED.state,
                 node = EXCLUDED.node,
                 timestamp = EXCLUDED.timestamp,
                 parent_id = EXCLUDED.parent_id,
                 metadata = EXCLUDED.metadata""".encode(),
            (checkpoint_id, thread_id, state, node, timestamp_ns, parent,
             orjson.dumps(dict(metadata or {})).decode()))
        return Saved(checkpoint_id, thread_id, timestamp_ns // 1_000_000, parent)

    def delete(self, checkpoint_id: str) -> None:
        self.connection.execute(
            f"DELETE FROM {self.table} WHERE checkpoint_id = %s".encode(), (checkpoint_id,))


@dataclass
class RedisCheckpoints(CheckpointWriter):
    """RedisCheckpointer's keys under ``prefix`` on ``client``. The clock is in
    nanoseconds and moves 10 ms and a few nanoseconds per save."""

    client: redis.Redis
    prefix: str
    compress: bool = False

    def checkpoint_key(self, checkpoint_id: str) -> str:
        return f"{self.prefix}:checkpoint:{checkpoint_id}"

    def thread_key(self, thread_id: str) -> str:
        return f"{self.prefix}:thread:{thread_id}:checkpoints"

    def save(self, thread_id: str, *, node: str = "step", checkpoint_id: str | None = None,
             parent_id: str | bool | None = True, timestamp_ns: int | None = None,
             metadata: Mapping[str, str] | None = None, state: bytes | None = None) -> Saved:
        """RedisCheckpointer::save. ``parent_id=True`` chains to the thread's last save."""
        checkpoint_id, parent, timestamp_ns, state = self.next_save(
            thread_id, checkpoint_id, parent_id, timestamp_ns, state, self.compress)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.checkpoint_key(checkpoint_id), mapping={
            "checkpoint_id": checkpoint_id.encode(), "thread_id": thread_id.encode(),
            "state": state, "node": node.encode(), "timestamp": str(timestamp_ns).encode(),
            "parent_id": (parent or "").encode(),
            "metadata": orjson.dumps(dict(metadata or {}))})
        pipe.zadd(self.thread_key(thread_id), {checkpoint_id: float(timestamp_ns // 1_000_000)})
        pipe.sadd(f"{self.prefix}:threads", thread_id)
        pipe.execute()
        return Saved(checkpoint_id, thread_id, timestamp_ns // 1_000_000, parent)

    def delete(self, checkpoint_id: str) -> None:
        """RedisCheckpointer::delete: the hash and its ZSET member, atomically."""
        thread = self.client.hget(self.checkpoint_key(checkpoint_id), "thread_id")
        if thread is not None:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(self.checkpoint_key(checkpoint_id))
            name = thread.decode() if isinstance(thread, bytes) else str(thread)
            pipe.zrem(self.thread_key(name), checkpoint_id)
            pipe.execute()


@dataclass
class S3Checkpoints(CheckpointWriter):
    """S3Checkpointer's objects under ``prefix`` of ``bucket``, through a boto3 client."""

    client: Any
    bucket: str
    prefix: str
    compress: bool = False

    def checkpoint_key(self, checkpoint_id: str) -> str:
        return f"{self.prefix}/checkpoints/{checkpoint_id}"

    def index_key(self, thread_id: str) -> str:
        return f"{self.prefix}/threads/{thread_id}/index.json"

    def index(self, thread_id: str) -> list[dict[str, Any]]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.index_key(thread_id))
        except self.client.exceptions.NoSuchKey:
            return []
        entries: list[dict[str, Any]] = orjson.loads(body["Body"].read())["checkpoints"]
        return entries

    def write_index(self, thread_id: str, entries: list[dict[str, Any]]) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.index_key(thread_id),
                               Body=orjson.dumps({"checkpoints": entries}),
                               ContentType="application/json")

    def _index_add(self, thread_id: str, metadata: dict[str, Any]) -> None:
        entries = [entry for entry in self.index(thread_id) if entry["id"] != metadata["id"]]
        self.write_index(thread_id, [metadata, *entries])

    def save(self, thread_id: str, *, node: str = "step", checkpoint_id: str | None = None,
             parent_id: str | bool | None = True, timestamp_ns: int | None = None,
             metadata: Mapping[str, str] | None = None, index: bool = True) -> Saved:
        """S3Checkpointer::save; ``index=False`` stops before the index update (a crash, or
        an update lost to a concurrent save)."""
        checkpoint_id, parent, timestamp_ns, state = self.next_save(
            thread_id, checkpoint_id, parent_id, timestamp_ns)
        secs, nanos = divmod(timestamp_ns, 1_000_000_000)
        payload = encode_checkpoint(checkpoint_id, thread_id, state, node, secs, nanos, parent,
                                    metadata)
        if self.compress:
            payload = ZSTD_ENCODE_ALL.compress(payload)
        self.client.put_object(Bucket=self.bucket, Key=self.checkpoint_key(checkpoint_id),
                               Body=payload, ContentType="application/octet-stream")
        if index:
            self._index_add(thread_id, {
                "id": checkpoint_id, "thread_id": thread_id, "node": node,
                "timestamp": {"secs": secs, "nanos": nanos}, "parent_id": parent,
                "metadata": dict(metadata or {})})
        return Saved(checkpoint_id, thread_id, timestamp_ns // 1_000_000, parent)

    def put_payload(self, payload: bytes) -> Saved:
        """Store a ``Checkpoint`` payload written elsewhere (the Rust interop corpus) as
        S3Checkpointer would, index entry included."""
        from dashfix.inputs.backends.s3 import decode_object  # needs boto3: S3 tests only

        decoded = decode_object("", "", payload).entry
        assert decoded is not None
        self.client.put_object(Bucket=self.bucket,
                               Key=self.checkpoint_key(decoded.checkpoint_id), Body=payload,
                               ContentType="application/octet-stream")
        secs, nanos = decoded.secs, decoded.nanos
        self._index_add(decoded.thread_id, {
            "id": decoded.checkpoint_id, "thread_id": decoded.thread_id, "node": decoded.node,
            "timestamp": {"secs": secs, "nanos": nanos}, "parent_id": decoded.parent_id,
            "metadata": dict(decoded.metadata or {})})
        return Saved(decoded.checkpoint_id, decoded.thread_id, decoded.timestamp_ns // 10**6,
                     decoded.parent_id)


@dataclass
class DynamoCheckpoints(CheckpointWriter):
    """A DynamoDBCheckpointer table ``table``, created with DashFlow's key schema."""

    client: Any
    table: str

    def __post_init__(self) -> None:
        self.client.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "thread_id", "KeyType": "HASH"},
                       {"AttributeName": "checkpoint_id", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "thread_id", "AttributeType": "S"},
                                  {"AttributeName": "checkpoint_id", "AttributeType": "S"}])

    def save(self, thread_id: str, *, node: str = "step", checkpoint_id: str | None = None,
             parent_id: str | bool | None = True, timestamp_ns: int | None = None,
             metadata: Mapping[str, str] | None = None, state: bytes | None = None) -> Saved:
        """DynamoDBCheckpointer::save. ``parent_id=True`` chains to the thread's last save."""
        checkpoint_id, parent, timestamp_ns, state = self.next_save(
            thread_id, checkpoint_id, parent_id, timestamp_ns, state)
        item: dict[str, Any] = {
            "thread_id": {"S": thread_id}, "checkpoint_id": {"S": checkpoint_id},
            "state": {"B": state}, "node": {"S": node}, "timestamp": {"N": str(timestamp_ns)}}
        if parent is not None:
            item["parent_id"] = {"S": parent}
        if metadata:
            item["metadata"] = {"M": {key: {"S": value} for key, value in metadata.items()}}
        self.client.put_item(TableName=self.table, Item=item)
        return Saved(checkpoint_id, thread_id, timestamp_ns // 1_000_000, parent)
