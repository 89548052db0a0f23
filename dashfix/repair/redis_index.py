"""``rebuild-index redis://...``: each thread's ZSET, and the threads SET, from the hashes.

A thread's ZSET ``{prefix}:thread:{thread}:checkpoints`` should hold every checkpoint hash
DashFlow can load as that thread's (``{prefix}:checkpoint:{id}`` with its own id in
``checkpoint_id``), scored ``timestamp_ns / 1_000_000`` as RedisCheckpointer's save does.
The rebuild re-adds the members a lost ZADD left out, sets a wrong score right, and takes
out members whose hash is gone or belongs to another thread. A member whose hash exists but
cannot be read is left where it is. ``{prefix}:threads`` gets every thread that has
checkpoints and loses those that have none. No hash is ever deleted or written.

Before any change, every touched thread's old ZSET (members and scores) and threads-SET
membership go to a local JSON backup file, written atomically. Each thread is then changed
in one MULTI/EXEC under WATCH of its ZSET, the threads SET and the hashes the change relies
on, and only if they still hold what the plan read; a change between that check and EXEC
(WatchError) makes it check again, up to ``ATTEMPTS`` times. A thread changed underneath
(a DashFlow save) is left alone and the run exits 4.

``restore_backup`` puts each thread's old ZSET and SET membership back, under WATCH, only
while they still hold exactly what the rebuild wrote (so a run killed before it recorded a
write is undone too).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis

from dashfix.errors import InputError, UsageError, WriteError
from dashfix.inputs.backends.redis import RedisSource
from dashfix.inputs.checkpoint_model import NS_PER_MS
from dashfix.repair.atomic import atomic_write_bytes
from dashfix.repair.backup import utc_stamp
from dashfix.repair.remote_index import (
    Latest,
    RemoteRebuildOutcome,
    RemoteRestoreOutcome,
    ThreadDiff,
    ThreadState,
)

ATTEMPTS = 5
"""Times a thread's transaction is tried when a watched key changes without changing what
the plan read (another client's write that left it as it was)."""
BACKUP_KIND = "dashfix rebuild-index redis backup"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

Members = dict[str, float]
HashFacts = tuple[str, int] | None
"""(thread_id, timestamp_ns) of a loadable hash, or None when there is none to load."""


def default_backup_path(source: RedisSource, stamp: str) -> Path:
    """``./dashfix-redis-backup-{prefix}-{stamp}.json`` in the current folder."""
    return Path(f"dashfix-redis-backup-{_UNSAFE.sub('_', source.prefix)}-{stamp}.json")


@dataclass
class ThreadPlan:
    thread_id: str
    old: Members
    new: Members
    old_in_set: bool
    new_in_set: bool
    facts: dict[str, HashFacts]
    """What the change relies on for each added, rescored or removed member's hash."""
    diff: ThreadDiff

    def record(self) -> dict[str, Any]:
        return {"thread_id": self.thread_id, "old_members": sorted(self.old.items()),
                "new_members": sorted(self.new.items()), "old_in_threads_set": self.old_in_set,
                "new_in_threads_set": self.new_in_set, "state": self.diff.state.value}


@dataclass
class RedisPlan:
    outcome: RemoteRebuildOutcome
    threads: list[ThreadPlan] = field(default_factory=list)


def _latest(members: Members) -> Latest | None:
    """ZREVRANGE's first: the highest score, then the greatest member."""
    if not members:
        return None
    member, score = max(members.items(), key=lambda item: (item[1], item[0].encode()))
    return Latest(member, int(score) * NS_PER_MS)


def plan_rebuild(source: RedisSource, *, dry_run: bool) -> RedisPlan:
    outcome = RemoteRebuildOutcome(source.label, "redis", dry_run)
    facts: dict[str, HashFacts] = {}
    unreadable: set[str] = set()
    wanted: dict[str, Members] = {}
    for checkpoint in source.checkpoints():
        entry = checkpoint.entry
        if entry is None or entry.checkpoint_id != checkpoint.checkpoint_id:
            why = checkpoint.problem or (f"holds checkpoint {entry.checkpoint_id}, not "
                                         f"{checkpoint.checkpoint_id}" if entry else "")
            outcome.excluded.append((checkpoint.key, f"{why}; its members are left alone"))
            unreadable.add(checkpoint.checkpoint_id)
            continue
        outcome.candidates += 1
        facts[entry.checkpoint_id] = (entry.thread_id, entry.timestamp_ns)
        wanted.setdefault(entry.thread_id, {})[entry.checkpoint_id] = float(
            entry.timestamp_ns // NS_PER_MS)
    zsets = {zset.thread_id: dict(zset.members) for zset in source.thread_sets()}
    in_set = source.threads()
    plan = RedisPlan(outcome)
    for thread_id in sorted(wanted.keys() | zsets.keys() | in_set):
        old = zsets.get(thread_id, {})
        new = dict(wanted.get(thread_id, {}))
        new.update({member: score for member, score in old.items() if member in unreadable})
        old_in, new_in = thread_id in in_set, bool(new)
        if old == new and old_in == new_in:
            outcome.unchanged += 1
            continue
        added = sorted(new.keys() - old.keys())
        removed = sorted(old.keys() - new.keys())
        rescored = sorted(member for member in old.keys() & new.keys()
                          if old[member] != new[member])
        notes = []
        if rescored:
            notes.append("score set to the timestamp in ms: " + ", ".join(rescored))
        if old_in != new_in:
            notes.append(("added to " if new_in else "removed from ") + source.key("threads"))
        diff = ThreadDiff(thread_id, _latest(old), _latest(new), added, removed,
                          note="; ".join(notes) or None)
        touched = [*added, *removed, *rescored]
        plan.threads.append(ThreadPlan(thread_id, old, new, old_in, new_in,
                                       {member: facts.get(member) for member in touched},
                                       diff))
        outcome.diffs.append(diff)
    return plan


def _facts_now(pipe: Any, source: RedisSource, members: list[str]) -> dict[str, HashFacts]:
    found: dict[str, HashFacts] = {}
    for member in members:
        thread, stamp, own_id = pipe.hmget(source.key("checkpoint", member),
                                           [b"thread_id", b"timestamp", b"checkpoint_id"])
        try:
            found[member] = (thread.decode(), int(stamp)) if own_id == member.encode() else None
        except (AttributeError, UnicodeDecodeError, ValueError, TypeError):
            found[member] = None
    return found


def _members_now(pipe: Any, key: str) -> Members:
    return {member.decode("utf-8", "replace"): float(score)
            for member, score in pipe.zrange(key, 0, -1, withscores=True)}


def _apply_thread(source: RedisSource, thread: ThreadPlan) -> ThreadState:
    """One thread's MULTI/EXEC under WATCH; CHANGED when its keys no longer hold what the
    plan read."""
    zset_key, threads_key = source.thread_key(thread.thread_id), source.key("threads")
    hash_keys = [source.key("checkpoint", member) for member in thread.facts]
    pipe: Any  # redis-py's Pipeline.watch is untyped
    with source.client.pipeline(transaction=True) as pipe:
        for _ in range(ATTEMPTS):
            try:
                pipe.watch(zset_key, threads_key, *hash_keys)
                same = (_members_now(pipe, zset_key) == thread.old
                        and bool(pipe.sismember(threads_key, thread.thread_id))
                        == thread.old_in_set
                        and _facts_now(pipe, source, list(thread.facts)) == thread.facts)
                if not same:
                    pipe.unwatch()
                    return ThreadState.CHANGED
                pipe.multi()
                gone = [member for member in thread.old if member not in thread.new]
                if gone:
                    pipe.zrem(zset_key, *gone)
                changed = {member: score for member, score in thread.new.items()
                           if thread.old.get(member) != score}
                if changed:
                    pipe.zadd(zset_key, changed)
                if thread.new_in_set and not thread.old_in_set:
                    pipe.sadd(threads_key, thread.thread_id)
                elif thread.old_in_set and not thread.new_in_set:
                    pipe.srem(threads_key, thread.thread_id)
                pipe.execute()
                return ThreadState.WRITTEN
            except redis.WatchError:
                continue
    return ThreadState.CHANGED


def _write_backup(path: Path, document: dict[str, Any]) -> None:
    atomic_write_bytes(path, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n",
                       mode=0o600)


def _backup_document(source: RedisSource, threads: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dashfix": BACKUP_KIND, "store": source.label, "prefix": source.prefix,
            "threads_key": source.key("threads"),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "threads": threads}


def _free_path(path: Path) -> Path:
    candidate, counter = path, 1
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.stem}-{counter}{path.suffix}")
        counter += 1
    return candidate


def apply_plan(source: RedisSource, plan: RedisPlan, backup: Path | None = None,
               stamp: str | None = None) -> RemoteRebuildOutcome:
    outcome = plan.outcome
    if not plan.threads:
        return outcome
    if backup is None:
        backup = _free_path(default_backup_path(source, stamp or utc_stamp()))
    elif os.path.lexists(backup):
        raise UsageError(f"--backup {backup}: exists; a backup is never overwritten")
    records = [thread.record() for thread in plan.threads]
    try:
        _write_backup(backup, _backup_document(source, records))
    except OSError as exc:
        raise WriteError(f"cannot write the backup {backup}: {exc.strerror or exc}") from None
    outcome.backup = str(backup)
    outcome.restore_command = (f"dashfix rebuild-index '{source.label}' --restore "
                               f"{backup}")
    try:
        for thread, record in zip(plan.threads, records, strict=True):
            thread.diff.state = _apply_thread(source, thread)
            record["state"] = thread.diff.state.value
    except redis.RedisError as exc:
        raise WriteError(f"{source.label}: cannot write: {source.secret_free(exc)} (the "
                         f"threads done so far are in {backup})") from None
    finally:
        _write_backup(backup, _backup_document(source, records))
    return outcome


def rebuild_index(source: RedisSource, *, dry_run: bool = False, backup: Path | None = None,
                  stamp: str | None = None) -> RemoteRebuildOutcome:
    plan = plan_rebuild(source, dry_run=dry_run)
    return plan.outcome if dry_run else apply_plan(source, plan, backup, stamp)


def _read_backup(path: Path, source: RedisSource) -> dict[str, Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read the backup {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path} is not a dashfix Redis backup: {exc}") from None
    if not isinstance(document, dict) or document.get("dashfix") != BACKUP_KIND:
        raise InputError(f"{path} is not a dashfix Redis backup")
    if document.get("prefix") != source.prefix:
        raise UsageError(f"{path} holds prefix {document.get('prefix')!r}, not "
                         f"{source.prefix!r}: name the same store as the rebuild did")
    return document


def _restore_thread(source: RedisSource, record: dict[str, Any]) -> bool:
    """Whether the thread's old ZSET and SET membership were put back."""
    thread_id = record["thread_id"]
    zset_key, threads_key = source.thread_key(thread_id), source.key("threads")
    old = {member: float(score) for member, score in record["old_members"]}
    new = {member: float(score) for member, score in record["new_members"]}
    pipe: Any  # redis-py's Pipeline.watch is untyped
    with source.client.pipeline(transaction=True) as pipe:
        for _ in range(ATTEMPTS):
            try:
                pipe.watch(zset_key, threads_key)
                if (_members_now(pipe, zset_key) != new
                        or bool(pipe.sismember(threads_key, thread_id))
                        != record["new_in_threads_set"]):
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.delete(zset_key)
                if old:
                    pipe.zadd(zset_key, old)
                if record["old_in_threads_set"]:
                    pipe.sadd(threads_key, thread_id)
                else:
                    pipe.srem(threads_key, thread_id)
                pipe.execute()
                return True
            except redis.WatchError:
                continue
    return False


def restore_backup(source: RedisSource, path: Path) -> RemoteRestoreOutcome:
    document = _read_backup(path, source)
    outcome = RemoteRestoreOutcome(source.label, str(path))
    records: list[dict[str, Any]] = document["threads"]
    # A thread still "planned" may have been written by a run killed before it said so:
    # what counts is whether it holds what the rebuild writes.
    pending = [record for record in records
               if record["state"] in (ThreadState.WRITTEN.value, ThreadState.PLANNED.value)]
    if not any(record["state"] == ThreadState.WRITTEN.value for record in pending) and any(
            record["state"] == ThreadState.RESTORED.value for record in records):
        outcome.already_restored = True
        return outcome
    try:
        for record in pending:
            zset_key = source.thread_key(record["thread_id"])
            if _restore_thread(source, record):
                record["state"] = ThreadState.RESTORED.value
                outcome.restored.append(zset_key)
            elif record["state"] == ThreadState.WRITTEN.value:
                outcome.skipped.append(f"{zset_key}: changed since dashfix wrote it (a "
                                       f"DashFlow save?); left as it is")
    except redis.RedisError as exc:
        raise WriteError(f"{source.label}: cannot write: {source.secret_free(exc)}") from None
    finally:
        try:
            _write_backup(path, document)
        except OSError as exc:
            raise WriteError(f"cannot update the backup {path}: {exc.strerror or exc}") \
                from None
    return outcome
