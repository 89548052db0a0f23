"""Spec section 8 item 19: DynamoDBCheckpointer tables, plus the lineage checks."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.lineage.backends import TableReading, entry_path
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs.backends.dynamodb import DynamoSource
from dashfix.inputs.checkpoint_model import CheckpointTable, Place
from dashfix.inputs.latest import LatestRule
from dashfix.rules import backends as db

LATEST = LatestRule("Query ScanIndexForward=false Limit=1 (the greatest checkpoint_id)", 0,
                    tie_break=True)
"""get_latest (lib.rs:489-520) orders by the sort key, the id string, not by time."""


def check(source: DynamoSource, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    first_page = source.first_page_keys()
    reading = TableReading(CheckpointTable(Place.ITEM, source.item_key), ctx, rel)
    table = reading.table
    beyond: dict[str, list[str]] = {}
    threads_of_id: dict[str, list[str]] = {}
    for item in source.items():
        reading.counted()
        threads_of_id.setdefault(item.checkpoint_id, []).append(item.thread_id)
        if (item.thread_id, item.checkpoint_id) not in first_page:
            beyond.setdefault(item.thread_id, []).append(item.checkpoint_id)
        entry = item.entry
        if entry is None:
            yield reading.unreadable_entry(item.key, item.checkpoint_id, item.problem,
                                           item.thread_id)
            continue
        table.add(entry)
        yield from reading.zstd_state(entry, item.zstd_state)
    for thread, ids in sorted(beyond.items()):
        yield db.DYNAMODB_BEYOND_FIRST_PAGE.at(
            entry_path(rel, f"{source.table}/{thread}"), f"thread {thread!r}: {len(ids)} "
            f"checkpoint(s) lie beyond the first 1 MB Scan page of {source.table} (first: "
            f"{min(ids)}): DashFlow's load returns None for them", thread_id=thread,
            actual=len(ids), details={"checkpoints": len(ids)})
    for checkpoint_id, threads in sorted(threads_of_id.items()):
        if len(threads) > 1:
            yield db.DYNAMODB_ID_TWO_THREADS.at(
                entry_path(rel, f"{source.table}/{sorted(threads)[0]}/{checkpoint_id}"),
                f"{checkpoint_id} is stored under threads {', '.join(sorted(threads))}: "
                "load returns whichever the Scan meets first", checkpoint_id=checkpoint_id,
                details={"threads": sorted(threads)})
    pointers = {owner: (table.names[row].rsplit("/", 1)[0], table.ids[row]) for owner, row in
                LATEST.latest_rows(table.threads, table.secs, table.nanos,
                                   table.checkpoint_id).items()}
    yield from reading.finish(LATEST, pointers)
