"""PostgresCheckpointer tables (spec 4.7, crates/dashflow-postgres-checkpointer).

``postgresql://user@host:port/db?table=dashflow_checkpoints``: ``table`` is dashfix's own
parameter (DashFlow's default when absent); every other query parameter goes to libpq
(``sslmode``, ``options=-csearch_path=...``), and credentials come from the URL or libpq's
usual places (``PG*`` variables, ``.pgpass``). Imported only when such a URL is given: it
needs psycopg 3 (``pip install '.[postgres]'``).

Read-only: a read-only transaction, rows streamed through a server-side cursor. A state is
fetched only when it may be compressed (``MAY_BE_COMPRESSED``: the zstd magic, or a
first few bytes that declare a size its length can decode to as lz4 or snappy), to find
what it reads as; otherwise only its length travels. The server marks the rows with nothing
to check but their place in the lineage (a state that may be compressed is something to
check), so that a page of only such rows is taken as columns, with no Python work per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

import orjson
import psycopg
from psycopg import sql

from dashfix.errors import UsageError
from dashfix.formats.blocks import state_framing
from dashfix.formats.compression import LZ4_SIZE_BYTES, UNCOMPRESSED, ZSTD_MAGIC, StateFraming
from dashfix.inputs.checkpoint_model import CheckpointEntry, Place, PlainEntries
from dashfix.inputs.sources import SourceUnavailable, SourceUrl

DEFAULT_TABLE = "dashflow_checkpoints"
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
"""DashFlow's own validation of a custom table name (lib.rs:57-106)."""
COLUMNS = ("checkpoint_id", "thread_id", "state", "node", "timestamp", "parent_id", "metadata")
I64_MAX = 2**63 - 1
ROWS_PER_FETCH = 2000
CONNECT_TIMEOUT_S = 10


class PostgresRow(NamedTuple):
    checkpoint_id: str
    entry: CheckpointEntry | None
    """None when a column holds what DashFlow cannot read back (``problem`` says which)."""
    problem: str | None
    metadata_type: str | None
    """``jsonb_typeof(metadata)``: None for SQL NULL, else object, array, string, ..."""
    metadata: Any
    """The decoded metadata when it is not a JSON object of strings (for the message)."""
    framing: StateFraming
    """What the state reads as (uncompressed unless it may be compressed)."""


_PLAIN = 4
"""The query's column saying whether a row is plain (``PostgresSource.batches``); the
columns before it are those of ``PlainEntries``."""


class Indexes(NamedTuple):
    """Key columns of each index on the table, by index name."""

    columns: dict[str, tuple[str, ...]]
    unique: frozenset[str] = frozenset()
    """The indexes that make their columns unique in every row (no predicate, no
    expression, no included columns)."""

    def has(self, *leading: str) -> bool:
        return any(cols[: len(leading)] == leading for cols in self.columns.values())

    def unique_on(self, *columns: str) -> bool:
        """Whether the server keeps these columns, together, unique."""
        return any(self.columns[name] == columns for name in self.unique)


def split_url(url: SourceUrl) -> tuple[str, str]:
    """(libpq conninfo URL without dashfix's parameters, table name)."""
    base, _, query = url.text.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    tables = [value for name, value in pairs if name == "table"]
    table = tables[-1] if tables else DEFAULT_TABLE
    if not _TABLE_NAME.match(table):
        raise UsageError(f"{url.display}: table {table!r} is not a name DashFlow accepts "
                         "([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)")
    rest = urlencode([(name, value) for name, value in pairs if name != "table"])
    return (f"{base}?{rest}" if rest else base), table


class PostgresSource:
    backend = "postgres"

    def __init__(self, url: SourceUrl) -> None:
        self.url = url
        self.label = url.display
        self.conninfo, self.table = split_url(url)
        self._connection: psycopg.Connection[Any] | None = None

    def cache_key(self) -> None:
        return None  # a server cannot tell cheaply whether a table changed

    def row_name(self, thread_id: str, checkpoint_id: str) -> str:
        """Where a row is, as findings name it."""
        return f"{self.table}/{checkpoint_id}"

    def _secret_free(self, text: str) -> str:
        password = _password(self.url.text)
        return text.replace(password, "***") if password else text

    @property
    def connection(self) -> psycopg.Connection[Any]:
        if self._connection is None:
            try:
                connection = psycopg.connect(self.conninfo, connect_timeout=CONNECT_TIMEOUT_S,
                                             application_name="dashfix verify")
            except psycopg.Error as exc:
                cause = self._secret_free(str(exc).strip().splitlines()[0] if str(exc) else
                                          type(exc).__name__)
                raise SourceUnavailable(f"{self.label}: cannot connect: {cause}") from None
            connection.read_only = True
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _failed(self, what: str, exc: psycopg.Error) -> SourceUnavailable:
        cause = self._secret_free(str(exc).strip().splitlines()[0] if str(exc) else
                                  type(exc).__name__)
        return SourceUnavailable(f"{self.label}: cannot read {what}: {cause}")

    def columns(self) -> dict[str, str] | None:
        """The table's columns and their types, None when there is no such table."""
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (self.table,))
                found = cursor.fetchone()
                if not found or not found[0]:
                    return None
                cursor.execute(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
                    "ORDER BY a.attnum", (self.table,))
                return {str(name): str(kind) for name, kind in cursor.fetchall()}
        except psycopg.Error as exc:
            raise self._failed(f"table {self.table}", exc) from None
        finally:
            self.connection.rollback()

    def indexes(self) -> Indexes:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT c.relname, array_agg(a.attname::text ORDER BY k.ord), "
                    "bool_and(i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL "
                    "AND i.indnkeyatts = i.indnatts) "
                    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                    "WHERE i.indrelid = to_regclass(%s) GROUP BY c.relname", (self.table,))
                found = cursor.fetchall()
                return Indexes({str(name): tuple(cols) for name, cols, _ in found},
                               frozenset(str(name) for name, _, unique in found if unique))
        except psycopg.Error as exc:
            raise self._failed(f"the indexes of {self.table}", exc) from None
        finally:
            self.connection.rollback()

    def batches(self) -> Iterator[PlainEntries | list[PostgresRow]]:
        """Every row, in table order, a page of ``ROWS_PER_FETCH`` at a time through a
        server-side cursor in a read-only transaction. The server tells the plain rows, the
        ones with nothing to look at but their ids, time and parent (every column set,
        metadata ``{}``, a state that is not ``MAY_BE_COMPRESSED``, a time that is not
        clamped), and sends only those four columns of them; a run of plain rows comes as
        ``PlainEntries`` columns, with no object per row (a healthy uncompressed table:
        every page whole), any other row as a ``PostgresRow``, its state fetched when it
        may be compressed, in table order. A plain row's state reads as uncompressed, as
        ``state_framing`` would say of it (``MAY_BE_COMPRESSED`` is true for every state
        whose header it would try), so the checks count it as such."""
        # OFFSET 0 keeps each subquery apart, so that ``packed`` and ``plain`` are worked
        # out once a row.
        query = sql.SQL(
            "SELECT checkpoint_id, thread_id, \"timestamp\", parent_id, plain, "
            "CASE WHEN NOT plain THEN node END, "
            "CASE WHEN NOT plain THEN octet_length(state) END, "
            "CASE WHEN packed THEN state END, "
            "CASE WHEN NOT plain THEN jsonb_typeof(metadata) END, "
            "CASE WHEN NOT plain AND metadata <> '{{}}'::jsonb THEN metadata::text END "
            "FROM (SELECT *, coalesce(checkpoint_id IS NOT NULL AND thread_id IS NOT NULL "
            "AND node IS NOT NULL AND \"timestamp\" > 0 AND \"timestamp\" < {i64_max} "
            "AND metadata = '{{}}'::jsonb AND NOT packed, false) AS plain "
            "FROM (SELECT *, ({compressed}) IS TRUE AS packed FROM {table} OFFSET 0) AS framed "
            "OFFSET 0) AS checked"
        ).format(compressed=MAY_BE_COMPRESSED, i64_max=sql.Literal(I64_MAX),
                 table=sql.Identifier(self.table))
        prefix = f"{self.table}/"
        try:
            with self.connection.transaction(), self.connection.cursor(
                name="dashfix_verify") as cursor:
                cursor.execute(query)
                while page := cursor.fetchmany(ROWS_PER_FETCH):
                    columns = list(zip(*page, strict=True))
                    if all(columns[_PLAIN]):
                        yield PlainEntries(*columns[:_PLAIN])
                        continue
                    for plain, run in groupby(page, key=itemgetter(_PLAIN)):
                        rows = list(run)
                        yield (PlainEntries(*list(zip(*rows, strict=True))[:_PLAIN]) if plain
                               else [_row(values, prefix) for values in rows])
        except psycopg.Error as exc:
            raise self._failed(f"table {self.table}", exc) from None


def _row(values: tuple[Any, ...], prefix: str) -> PostgresRow:
    """A row that is not plain, as DashFlow would read it back."""
    (checkpoint_id, thread_id, timestamp, parent_id, _plain, node, state_size, packed_state,
     metadata_type, metadata_text) = values
    if not (type(checkpoint_id) is str and type(thread_id) is str and type(node) is str
            and type(timestamp) is int):
        wrong = [column for column, value in (("checkpoint_id", checkpoint_id),
                                               ("thread_id", thread_id), ("node", node))
                 if not isinstance(value, str)]
        if not isinstance(timestamp, int):
            wrong.append("timestamp")
        return PostgresRow(str(checkpoint_id), None, f"{', '.join(wrong)} is NULL", None,
                           None, UNCOMPRESSED)
    # Empty objects come as NULL text: only real metadata is parsed.
    metadata = None if metadata_text is None else orjson.loads(metadata_text)
    strings = metadata_type == "object" and (metadata is None or all(
        isinstance(value, str) for value in metadata.values()))
    entry = CheckpointEntry(
        checkpoint_id, thread_id, node, timestamp, parent_id,
        metadata if strings and metadata else None, state_size or 0, None, Place.ROW,
        prefix + checkpoint_id)
    return PostgresRow(checkpoint_id, entry, None, metadata_type,
                       None if strings else metadata,
                       UNCOMPRESSED if packed_state is None else state_framing(packed_state))


def _may_be_compressed() -> sql.Composable:
    """SQL that is true for a state that may be compressed, cheap enough for every row (a
    few ``get_byte``): the zstd magic, ``lz4_declared``'s bounds, ``snappy_declared``'s for a
    one-byte varint, any longer varint, and any state of 1 to 4 bytes. ``state_framing``
    decides on what is fetched."""
    length = "octet_length(state)::bigint"
    lz4_size = " + ".join(f"(get_byte(state, {at})::bigint << {8 * at})"
                          for at in range(LZ4_SIZE_BYTES))
    lz4_block = f"({length} - {LZ4_SIZE_BYTES})"
    return sql.SQL(
        f"CASE WHEN {length} > {LZ4_SIZE_BYTES} THEN "
        "substring(state from 1 for 4) = {magic} "
        f"OR 256 * ({lz4_size}) BETWEEN 255 * ({lz4_block} - 2) AND 256 * 255 * {lz4_block} "
        f"OR get_byte(state, 0) >= 128 OR 6 * get_byte(state, 0) >= {length} - 1 "
        f"ELSE {length} > 0 END").format(magic=sql.Literal(ZSTD_MAGIC))


MAY_BE_COMPRESSED = _may_be_compressed()


def _password(text: str) -> str | None:
    authority = text.split("://", 1)[1].split("/", 1)[0]
    userinfo, at_sign, _ = authority.rpartition("@")
    if at_sign and ":" in userinfo:
        return userinfo.split(":", 1)[1] or None
    return None


def open_store(url: SourceUrl) -> PostgresSource:
    return PostgresSource(url)
