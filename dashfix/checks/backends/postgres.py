"""Spec section 8 item 16: PostgresCheckpointer tables, plus the lineage checks."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.lineage.backends import TableReading, entry_path
from dashfix.checks.lineage.view import ids_of
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs.backends.postgres import (
    COLUMNS,
    I64_MAX,
    Indexes,
    PostgresRow,
    PostgresSource,
)
from dashfix.inputs.checkpoint_model import CheckpointTable, Place, PlainEntries
from dashfix.inputs.latest import LatestRule
from dashfix.rules import backends as db

LATEST = LatestRule("ORDER BY timestamp DESC, checkpoint_id DESC", 1, tie_break=True)
"""get_latest and list (lib.rs:449-525): nanoseconds, ties broken by id."""


def _table_findings(source: PostgresSource, indexes: list[Indexes]) -> Iterator[Finding]:
    """The table and its indexes (put in ``indexes``); nothing more is read when the table
    is unusable."""
    columns = source.columns()
    table = source.table
    if columns is None:
        yield db.POSTGRES_TABLE.at(".", f"no table {table!r} on the search_path of this "
                                   "connection", expected=table)
        return
    missing = [column for column in COLUMNS if column not in columns]
    if missing:
        yield db.POSTGRES_TABLE.at(".", f"table {table} lacks column(s) {', '.join(missing)}",
                                   expected=", ".join(COLUMNS), actual=", ".join(columns))
        return
    indexes.append(source.indexes())
    for name, column in ((f"idx_{table}_thread_id", "thread_id"),
                         (f"idx_{table}_timestamp", "timestamp")):
        if not indexes[0].has(column):
            yield db.POSTGRES_INDEX_MISSING.at(
                ".", f"no index on {table}({column}) ({name} is what the checkpointer creates)",
                expected=name, fix_command=f"CREATE INDEX {name} ON {table}(\"{column}\")")
    if not indexes[0].has("thread_id", "timestamp"):
        yield db.POSTGRES_COMPOSITE_INDEX.at(
            ".", f"no index on {table}(thread_id, timestamp): get_latest and list sort each "
            "thread's rows", fix_command=f"CREATE INDEX ON {table}(thread_id, \"timestamp\" DESC)")


def _row_findings(row: PostgresRow, rel: str) -> Iterator[Finding]:
    """A row's own faults. Only called for a row that has one (``_suspect``)."""
    entry = row.entry
    assert entry is not None
    path = entry_path(rel, entry.name)
    ids = ids_of(entry)
    if row.metadata_type is None:
        yield db.POSTGRES_METADATA_NULL.at(
            path, f"{entry.checkpoint_id}: metadata is NULL; DashFlow fails to read this row",
            expected="a JSON object", actual="NULL", **ids)
    elif row.metadata_type != "object" or row.metadata is not None:
        shown = repr(row.metadata)
        yield db.POSTGRES_METADATA_NOT_OBJECT.at(
            path, f"{entry.checkpoint_id}: metadata is {row.metadata_type} "
            f"{shown[:80]}{'...' if len(shown) > 80 else ''}, not an object of strings; "
            "DashFlow fails to read this row", expected="a JSON object of strings",
            actual=row.metadata_type, **ids)
    if entry.timestamp_ns <= 0 or entry.timestamp_ns == I64_MAX:
        yield db.POSTGRES_TIMESTAMP_CLAMPED.at(
            path, f"{entry.checkpoint_id}: timestamp {entry.timestamp_ns} is a clamped value"
            + (": this row stays the thread's latest forever" if entry.timestamp_ns == I64_MAX
               else ": this row is never the thread's latest"),
            expected="nanoseconds since the epoch", actual=entry.timestamp_ns, **ids)


def _suspect(row: PostgresRow, timestamp_ns: int) -> bool:
    """Whether ``_row_findings`` may have something to say (cheap, for every row)."""
    return (row.metadata_type != "object" or row.metadata is not None
            or timestamp_ns <= 0 or timestamp_ns == I64_MAX)


def check(source: PostgresSource, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    indexes: list[Indexes] = []
    found = list(_table_findings(source, indexes))
    yield from found
    if any(finding.code == db.POSTGRES_TABLE.code for finding in found):
        return
    # DashFlow's checkpoint_id PRIMARY KEY: no id can be on two rows, so none is looked for.
    table = CheckpointTable(Place.ROW, source.row_name,
                            unique_ids=indexes[0].unique_on("checkpoint_id"))
    reading = TableReading(table, ctx, rel)
    for batch in source.batches():
        if isinstance(batch, PlainEntries):
            reading.plain(batch)
            continue
        for row in batch:
            reading.counted()
            entry = row.entry
            if entry is None:
                yield reading.unreadable_entry(source.row_name("", row.checkpoint_id),
                                               row.checkpoint_id, row.problem)
                continue
            yield from reading.keep(entry, row.framing)
            if _suspect(row, entry.timestamp_ns):
                yield from _row_findings(row, rel)
    yield from reading.finish(LATEST)
