"""Spec section 8 item 19: DynamoDBCheckpointer tables, plus the lineage checks."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.lineage.backends import LatestRule, check_table, entry_path
from dashfix.checks.lineage.view import ids_of
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.formats.bincode import DecodeError
from dashfix.formats.compression import zstd_stream_size
from dashfix.inputs.backends.dynamodb import DynamoSource
from dashfix.inputs.checkpoint_model import CheckpointTable, Place
from dashfix.rules import backends as db

LATEST = LatestRule("Query ScanIndexForward=false Limit=1 (the greatest checkpoint_id)", 1,
                    tie_break=True)
"""get_latest (lib.rs:489-520) orders by the sort key, the id string, not by time."""
_PROGRESS_STEP = 1000


def check(source: DynamoSource, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    first_page = source.first_page_keys()
    table = CheckpointTable(Place.ITEM, source.item_key)
    unreadable: set[str] = set()
    beyond: dict[str, list[str]] = {}
    threads_of_id: dict[str, list[str]] = {}
    read = 0
    for item in source.items():
        read += 1
        if read % _PROGRESS_STEP == 0:
            ctx.progress.advance(_PROGRESS_STEP)
        threads_of_id.setdefault(item.checkpoint_id, []).append(item.thread_id)
        if (item.thread_id, item.checkpoint_id) not in first_page:
            beyond.setdefault(item.thread_id, []).append(item.checkpoint_id)
        entry = item.entry
        if entry is None:
            unreadable.add(item.checkpoint_id)
            yield db.ROW_UNDECODABLE.at(
                entry_path(rel, item.key), f"{item.key}: {item.problem}; DashFlow's load of "
                "it fails", thread_id=item.thread_id, checkpoint_id=item.checkpoint_id,
                actual=item.problem)
            continue
        table.add(entry)
        if item.zstd_state is not None:
            try:
                zstd_stream_size(item.zstd_state)
            except DecodeError as exc:
                yield db.STATE_UNDECOMPRESSABLE.at(
                    entry_path(rel, item.key), f"{item.key}: the zstd-compressed state "
                    f"{exc.reason} (byte {exc.offset} of {len(item.zstd_state)})",
                    offset=exc.offset, **ids_of(entry))
    ctx.progress.advance(read % _PROGRESS_STEP)
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
    pointers: dict[str, tuple[str, str]] = {}
    for row, (owner, checkpoint_id) in enumerate(zip(table.threads, table.ids, strict=True)):
        assert owner is not None
        current = pointers.get(owner)
        if current is None or checkpoint_id.encode() > current[1].encode():
            pointers[owner] = (table.names[row].rsplit("/", 1)[0], checkpoint_id)
    yield from check_table(table, rel, unreadable, LATEST, ctx, pointers)
