"""Spec section 8 item 18: S3Checkpointer objects and thread indexes, plus the lineage
checks."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.lineage.backends import TableReading, entry_path, rebuild_command
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs.backends.s3 import IndexEntry, S3Source, ThreadIndex
from dashfix.inputs.checkpoint_model import CheckpointTable, Place
from dashfix.inputs.latest import LatestRule
from dashfix.rules import backends as db
from dashfix.rules.general import NOTHING_TO_CHECK

LATEST = LatestRule("the first entry of threads/{thread}/index.json", 1, tie_break=True)
"""get_latest: the index's first entry, whatever its time (lib.rs:638-646)."""


def check(source: S3Source, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    reading = TableReading(CheckpointTable(Place.OBJECT, source.object_key), ctx, rel)
    threads_of: dict[str, str] = {}  # key id -> the thread its object names
    for found in source.objects():
        reading.counted()
        entry = found.entry
        if entry is None:
            yield reading.unreadable_entry(found.key, found.key_id, found.problem)
            continue
        reading.table.add(entry, odd_name=entry.checkpoint_id != found.key_id)
        threads_of[found.key_id] = entry.thread_id
        if entry.checkpoint_id != found.key_id:
            yield db.S3_OBJECT_MISMATCH.at(
                entry_path(rel, found.key), f"{found.key} holds checkpoint "
                f"{entry.checkpoint_id} of thread {entry.thread_id!r}: loading {found.key_id} "
                "gives another checkpoint", thread_id=entry.thread_id,
                checkpoint_id=found.key_id, expected=found.key_id, actual=entry.checkpoint_id)
    indexes = list(source.indexes())
    if not reading.read and not indexes:
        if not ctx.options.allow_empty:  # (--allow-empty: an empty store passes)
            yield NOTHING_TO_CHECK.at(rel, f"no S3Checkpointer object under "
                                      f"s3://{source.bucket}/{source.prefix}/ (checkpoints/, "
                                      "threads/*/index.json)")
        return
    indexed: set[str] = set()
    pointers: dict[str, tuple[str, str]] = {}
    for index in indexes:
        yield from _index_findings(index, threads_of, reading.unreadable, rel,
                                   rebuild_command(source.label))
        indexed.update(entry.checkpoint_id for entry in index.entries)
        if index.entries and index.problem is None:
            pointers[index.thread_id] = (index.key, index.entries[0].checkpoint_id)
    for key_id in sorted(set(threads_of) - indexed):
        thread = threads_of[key_id]
        yield db.S3_OBJECT_NOT_INDEXED.at(
            entry_path(rel, source.checkpoint_key(key_id)), f"{source.checkpoint_key(key_id)} "
            f"is not in {source.index_key(thread)}: DashFlow never lists or resumes it (a lost "
            "index update or a crash between the two writes)", thread_id=thread,
            checkpoint_id=key_id, fix_command=rebuild_command(source.label))
    yield from reading.finish(LATEST, pointers, rebuild_command(source.label))


def _index_findings(index: ThreadIndex, threads_of: dict[str, str], unreadable: set[str],
                    rel: str, fix: str) -> Iterator[Finding]:
    where = entry_path(rel, index.key)
    thread = index.thread_id
    if index.problem is not None:
        yield db.S3_INDEX_UNDECODABLE.at(
            where, f"{index.key} {index.problem}: DashFlow's get_latest, list and save of "
            f"thread {thread!r} fail", thread_id=thread, actual=index.problem, fix_command=fix)
        return
    seen: set[str] = set()
    firsts: list[IndexEntry] = []  # entries at their first occurrence, in index order
    for position, entry in enumerate(index.entries):
        checkpoint_id = entry.checkpoint_id
        if checkpoint_id in seen:
            yield db.S3_INDEX_DUPLICATE.at(
                where, f"{index.key} lists {checkpoint_id} more than once", thread_id=thread,
                checkpoint_id=checkpoint_id, key=str(position), fix_command=fix)
            continue
        seen.add(checkpoint_id)
        firsts.append(entry)
        owner = threads_of.get(checkpoint_id)
        if owner is None:
            if position and checkpoint_id not in unreadable:
                yield db.S3_INDEX_ENTRY_MISSING.at(
                    where, f"{index.key} lists {checkpoint_id}, whose object is gone: list "
                    "shows it, load returns None", thread_id=thread, checkpoint_id=checkpoint_id,
                    fix_command=fix)
            continue
        if owner != thread or (entry.thread_id is not None and entry.thread_id != thread):
            yield db.S3_OBJECT_MISMATCH.at(
                where, f"{index.key} lists {checkpoint_id}, whose object belongs to thread "
                f"{owner!r}", thread_id=thread, checkpoint_id=checkpoint_id, expected=thread,
                actual=owner)
    # Order among first occurrences (a duplicate has its own finding); a first entry that
    # is not the newest is the lineage check's DB502.
    for position in range(2, len(firsts)):
        earlier, later = firsts[position - 1].timestamp_ns, firsts[position].timestamp_ns
        if earlier is not None and later is not None and later > earlier:
            yield db.S3_INDEX_ORDER.at(
                where, f"{index.key}: {firsts[position].checkpoint_id} is newer than "
                f"{firsts[position - 1].checkpoint_id}, listed before it; DashFlow keeps the "
                "index newest first", thread_id=thread,
                checkpoint_id=firsts[position].checkpoint_id, fix_command=fix)
            return
