"""Spec section 8 item 15: SqliteCheckpointer databases, plus the lineage checks.

Also the input kind that finds these databases under a PATH (by their schema).
"""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.backends import check_source
from dashfix.checks.lineage.backends import TableReading, entry_path
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs import InputKind, Target
from dashfix.inputs.backends.sqlite import (
    CHECKPOINT_COLUMNS,
    CHECKPOINTS,
    INDEXES,
    METADATA,
    METADATA_COLUMNS,
    SCHEMA_VERSION,
    SQLITE_KIND,
    Schema,
    SqliteSource,
    row_name,
    sniff_file,
)
from dashfix.inputs.checkpoint_model import NS_PER_MS, CheckpointTable, Place
from dashfix.inputs.latest import LatestRule
from dashfix.rules import backends as db

LATEST = LatestRule("ORDER BY timestamp DESC", NS_PER_MS, tie_break=False)
"""get_latest and list (sqlite.rs): milliseconds, no tie-break."""
REPLACED_AFTER_MS = 60_000
"""``created_at`` this long after ``timestamp`` means the row was replaced later: DashFlow
saves a checkpoint right after making it (created_at is whole seconds, so allow slack)."""
_SHOWN_ORPHANS = 5


def _schema_findings(schema: Schema, where: str) -> Iterator[Finding]:
    for table, wanted in ((CHECKPOINTS, CHECKPOINT_COLUMNS), (METADATA, METADATA_COLUMNS)):
        missing = schema.missing_columns(table, wanted)
        if missing:
            what = (f"no {table} table" if table not in schema.tables
                    else f"{table} lacks column(s) {', '.join(missing)}")
            yield db.SQLITE_SCHEMA.at(where, f"{what}; DashFlow's queries on it fail",
                                      expected=", ".join(wanted), actual=what)
    for name in sorted(set(INDEXES) - schema.indexes):
        yield db.SQLITE_MISSING_INDEX.at(
            where, f"index {name} is missing: every get_latest/list scans the whole table",
            expected=name, fix_command=f"sqlite3 DATABASE '{INDEXES[name]}'")


def _version_findings(source: SqliteSource, schema: Schema, where: str) -> Iterator[Finding]:
    if SCHEMA_VERSION not in schema.tables:
        yield db.SQLITE_SCHEMA.at(where, f"no {SCHEMA_VERSION} table: DashFlow would run its "
                                  "migration again on this database", expected="version 1")
        return
    versions = source.schema_versions()
    if versions != [1]:
        yield db.SQLITE_SCHEMA.at(where, f"{SCHEMA_VERSION} holds {versions!r}; DashFlow "
                                  "writes one row, 1", expected=[1], actual=versions)


def check(source: SqliteSource, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    where = rel
    schema = source.schema()
    yield from _schema_findings(schema, where)
    if schema.missing_columns(CHECKPOINTS, CHECKPOINT_COLUMNS):
        return
    yield from _version_findings(source, schema, where)
    problems = source.integrity_problems()
    if problems:
        yield db.SQLITE_INTEGRITY.at(
            where, f"PRAGMA integrity_check: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            actual=len(problems), details={"messages": problems})
    reading = TableReading(CheckpointTable(Place.ROW, row_name), ctx, rel)
    for row in source.rows(with_metadata=not schema.missing_columns(METADATA, METADATA_COLUMNS)):
        reading.counted()
        entry = row.entry
        if entry is None:
            yield reading.unreadable_entry(row_name("", row.checkpoint_id), row.checkpoint_id,
                                           row.problem)
            continue
        reading.table.add(entry)
        timestamp_ms = entry.timestamp_ns // NS_PER_MS
        if row.created_at is not None and row.created_at * 1000 - timestamp_ms > REPLACED_AFTER_MS:
            yield db.SQLITE_REPLACED.at(
                entry_path(rel, entry.name), f"{entry.checkpoint_id} was written at created_at "
                f"{row.created_at} s, {(row.created_at * 1000 - timestamp_ms) // 1000} s after "
                f"its timestamp {timestamp_ms} ms: a later INSERT OR REPLACE overwrote it",
                thread_id=entry.thread_id, checkpoint_id=entry.checkpoint_id,
                expected=f"created_at near {timestamp_ms // 1000}", actual=row.created_at)
    yield from reading.finish(LATEST)
    if METADATA in schema.tables:
        yield from _orphans(source, where)


def _orphans(source: SqliteSource, where: str) -> Iterator[Finding]:
    orphans = source.orphan_metadata()
    if not orphans:
        return
    rows = sum(count for _, count in orphans)
    shown = ", ".join(checkpoint_id for checkpoint_id, _ in orphans[:_SHOWN_ORPHANS])
    more = f" and {len(orphans) - _SHOWN_ORPHANS} more" if len(orphans) > _SHOWN_ORPHANS else ""
    yield db.SQLITE_ORPHAN_METADATA.at(
        where, f"{rows} checkpoint_metadata row(s) of {len(orphans)} deleted checkpoint(s) "
        f"({shown}{more}): the ON DELETE CASCADE never fires", actual=rows,
        details={"checkpoints": len(orphans), "rows": rows})


def check_target(target: Target, ctx: CheckContext) -> Iterator[Finding]:
    return check_source(SqliteSource(target.path, target.rel), ctx, target.rel)


SQLITE_CHECKPOINTS = InputKind(
    name=SQLITE_KIND,
    check=check_target,
    sniff_file=sniff_file,
    description="DashFlow SqliteCheckpointer database (found by its schema)",
    caches_itself=True,
)
