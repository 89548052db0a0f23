"""Spec section 8 item 17: RedisCheckpointer keys, plus the lineage checks."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.lineage.backends import TableReading, entry_path, rebuild_command
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs.backends.redis import RedisSource, ThreadSet
from dashfix.inputs.checkpoint_model import (
    NS_PER_MS,
    NS_PER_SEC,
    CheckpointTable,
    Place,
    PlainEntries,
)
from dashfix.inputs.latest import LatestRule
from dashfix.rules import backends as db
from dashfix.rules.general import NOTHING_TO_CHECK

LATEST = LatestRule("ZREVRANGE {prefix}:thread:{thread}:checkpoints 0 0", NS_PER_MS,
                    tie_break=True)
"""get_latest: the highest millisecond score, ties to the greatest member string."""


def check(source: RedisSource, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    reading = TableReading(CheckpointTable(Place.KEY, source.hash_key), ctx, rel)
    table, unreadable = reading.table, reading.unreadable
    for page in source.pages():
        if isinstance(page, PlainEntries):
            reading.plain(page)
            continue
        for checkpoint in page:
            reading.counted()
            entry = checkpoint.entry
            if entry is None:
                yield reading.unreadable_entry(checkpoint.key, checkpoint.checkpoint_id,
                                               checkpoint.problem)
                continue
            yield from reading.keep(entry, checkpoint.framing,
                                    odd_name=entry.checkpoint_id != checkpoint.checkpoint_id)
    zsets = list(source.thread_sets())
    if not reading.read and not zsets and not source.threads():
        if not ctx.options.allow_empty:  # (--allow-empty: an empty store passes)
            yield NOTHING_TO_CHECK.at(rel, f"no RedisCheckpointer keys under prefix "
                                      f"{source.prefix!r} ({source.key('checkpoint')}:*, "
                                      f"{source.thread_key('*')}, {source.key('threads')})")
        return
    pointers = {zset.thread_id: (zset.key, max(zset.members, key=_rank)[0])
                for zset in zsets if zset.members}
    yield from reading.finish(LATEST, pointers, rebuild_command(source.label))
    yield from _zset_findings(source, table, zsets, unreadable, rel)
    yield from _thread_set_findings(source, zsets, rel)


def _rank(member: tuple[str, float]) -> tuple[float, str]:
    """ZREVRANGE's order (``LATEST``) of a (member, score) pair."""
    return LATEST.rank(member[1], member[0])


def _zset_findings(source: RedisSource, table: CheckpointTable, zsets: list[ThreadSet],
                   unreadable: set[str], rel: str) -> Iterator[Finding]:
    listed: set[str] = set()
    row_of, threads, secs, nanos = table.row_of, table.threads, table.secs, table.nanos
    for zset in zsets:
        top = max(zset.members, key=_rank)[0] if zset.members else None
        where = entry_path(rel, zset.key)
        for member, score in zset.members:
            listed.add(member)
            row = row_of(member)
            if row is None:
                if member != top and member not in unreadable:
                    yield db.REDIS_MEMBER_WITHOUT_HASH.at(
                        where, f"{zset.key} lists {member}, whose hash "
                        f"{source.key('checkpoint', member)} is gone; list skips it",
                        thread_id=zset.thread_id, checkpoint_id=member,
                        fix_command=rebuild_command(source.label))
                continue
            thread = threads[row]
            if thread != zset.thread_id:
                yield db.REDIS_THREAD_MISMATCH.at(
                    where, f"{zset.key} lists {member}, but its hash belongs to thread "
                    f"{thread!r}: another thread's save overwrote it",
                    thread_id=zset.thread_id, checkpoint_id=member,
                    expected=zset.thread_id, actual=thread,
                    fix_command=rebuild_command(source.label))
                continue
            expected = (secs[row] * NS_PER_SEC + nanos[row]) // NS_PER_MS
            if score != float(expected):
                yield db.REDIS_SCORE_MISMATCH.at(
                    where, f"{zset.key}: {member} has score {score:.0f}, but its timestamp "
                    f"is {table.timestamp_ns(row)} ns ({expected} ms)",
                    thread_id=zset.thread_id, checkpoint_id=member, expected=expected,
                    actual=f"{score:.0f}", fix_command=rebuild_command(source.label))
    for row, checkpoint_id in enumerate(table.ids):
        if checkpoint_id not in listed:
            thread = table.threads[row]
            yield db.REDIS_HASH_WITHOUT_MEMBER.at(
                entry_path(rel, table.names[row]), f"{table.names[row]} is in no thread's "
                f"ZSET (expected in {source.thread_key(str(thread))}): DashFlow never sees it",
                thread_id=thread, checkpoint_id=checkpoint_id,
                fix_command=rebuild_command(source.label))


def _thread_set_findings(source: RedisSource, zsets: list[ThreadSet],
                         rel: str) -> Iterator[Finding]:
    with_checkpoints = {zset.thread_id for zset in zsets if zset.members}
    threads_key = source.key("threads")
    for thread in sorted(source.threads() - with_checkpoints):
        yield db.REDIS_THREAD_WITHOUT_ZSET.at(
            entry_path(rel, threads_key), f"{threads_key} holds thread {thread!r}, which has "
            f"no checkpoints ({source.thread_key(thread)} is empty or missing): they are gone, "
            "get_latest returns None and list_threads leaves it out", thread_id=thread,
            fix_command=rebuild_command(source.label))
