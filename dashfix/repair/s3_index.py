"""``rebuild-index s3://bucket/prefix``: each ``threads/{thread}/index.json`` from the objects.

A thread's new index lists every checkpoint object DashFlow can load as that thread's
(``checkpoints/{id}`` holding checkpoint ``id`` of the thread), newest first by timestamp,
ties to the greater id, in S3Checkpointer's JSON shape (``serde_json::to_vec`` of
``ThreadIndex{checkpoints: Vec<CheckpointMetadata>}``: id, thread_id, node,
timestamp{secs,nanos}, parent_id, metadata). An index whose thread has no loadable object
becomes ``{"checkpoints":[]}``. No object is ever deleted or rewritten.

A writing run first records a manifest under ``{prefix}/dashfix-backups/{session}/``, then,
thread by thread, copies the old index there byte for byte (the bytes whose ETag the plan
read) and replaces it with a conditional PUT: ``If-Match`` on that ETag, or
``If-None-Match: *`` for a thread that had none. A DashFlow save in between changes the ETag:
S3 answers 412 and that thread is left as DashFlow wrote it (exit 4). DashFlow never reads
``dashfix-backups/``, and ``verify`` lists only ``checkpoints/`` and ``threads/``.

``restore_backup`` puts a session's old indexes back, each only while it still holds
exactly the bytes dashfix wrote (their SHA-256 is in the manifest; the PUT is conditional on
the ETag read with them); an index that had not existed is deleted the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import orjson

from dashfix.errors import InputError, UsageError, WriteError
from dashfix.inputs.backends.s3 import S3Source, decode_index
from dashfix.inputs.checkpoint_model import CheckpointEntry
from dashfix.repair.backup import utc_stamp
from dashfix.repair.remote_index import (
    Latest,
    RemoteRebuildOutcome,
    RemoteRestoreOutcome,
    ThreadDiff,
    ThreadState,
)

BACKUP_FOLDER = "dashfix-backups"
MANIFEST = "manifest.json"
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'
_CHANGED = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409",
            "404"}
"""Error codes of a conditional request whose condition failed: the object changed (412),
another conditional write raced this one (409), or the object an If-Match names is gone."""


def index_entry(entry: CheckpointEntry) -> dict[str, Any]:
    """DashFlow's ``CheckpointMetadata`` of a checkpoint, in its field order."""
    return {"id": entry.checkpoint_id, "thread_id": entry.thread_id, "node": entry.node,
            "timestamp": {"secs": entry.secs, "nanos": entry.nanos},
            "parent_id": entry.parent_id, "metadata": dict(entry.metadata or {})}


@dataclass
class ThreadPlan:
    thread_id: str
    key: str
    old: tuple[bytes, str] | None
    """The old index's bytes and ETag, None when the thread had no index."""
    new: bytes
    diff: ThreadDiff


@dataclass
class S3Plan:
    outcome: RemoteRebuildOutcome
    threads: list[ThreadPlan] = field(default_factory=list)
    """The threads whose index changes."""


def _old_ids(data: bytes, key: str, thread_id: str) -> tuple[list[str], Latest | None,
                                                                    str | None]:
    """The ids an old index lists, its first entry, and why it does not decode (or None)."""
    index = decode_index(key, thread_id, data)
    ids = [entry.checkpoint_id for entry in index.entries]
    first = index.entries[0] if index.entries and index.problem is None else None
    latest = None if first is None else Latest(first.checkpoint_id, first.timestamp_ns)
    return ids, latest, index.problem


def _diff(thread_id: str, old: tuple[bytes, str] | None, key: str,
          entries: list[CheckpointEntry]) -> ThreadDiff:
    new_ids = [entry.checkpoint_id for entry in entries]
    new_latest = Latest(entries[0].checkpoint_id, entries[0].timestamp_ns) if entries else None
    if old is None:
        return ThreadDiff(thread_id, None, new_latest, added=new_ids)
    old_ids, old_latest, problem = _old_ids(old[0], key, thread_id)
    kept, listed = set(new_ids), set(old_ids)
    added = [checkpoint_id for checkpoint_id in new_ids if checkpoint_id not in listed]
    removed, seen = [], set()
    for checkpoint_id in old_ids:  # gone, another thread's, or listed twice
        if checkpoint_id not in kept or checkpoint_id in seen:
            removed.append(checkpoint_id)
        seen.add(checkpoint_id)
    survivors = [checkpoint_id for checkpoint_id in dict.fromkeys(old_ids)
                 if checkpoint_id in kept]
    reordered = survivors != [checkpoint_id for checkpoint_id in new_ids
                              if checkpoint_id in listed]
    note = None if problem is None else f"old index {problem}"
    return ThreadDiff(thread_id, old_latest, new_latest, added, removed, reordered, note)


def plan_rebuild(source: S3Source, *, dry_run: bool) -> S3Plan:
    """Read every object and index (one at a time) and plan each thread's new index."""
    outcome = RemoteRebuildOutcome(source.label, "s3", dry_run)
    by_thread: dict[str, list[CheckpointEntry]] = {}
    for found in source.objects():
        entry = found.entry
        if entry is None:
            outcome.excluded.append((found.key, found.problem or "does not decode"))
        elif entry.checkpoint_id != found.key_id:
            outcome.excluded.append((found.key, f"holds checkpoint {entry.checkpoint_id} of "
                                     f"thread {entry.thread_id!r}, not {found.key_id}"))
        else:
            by_thread.setdefault(entry.thread_id, []).append(entry)
            outcome.candidates += 1
    old_indexes = {thread_id: (data, etag)
                   for _, thread_id, data, etag in source.raw_indexes()}
    plan = S3Plan(outcome)
    for thread_id in sorted(by_thread.keys() | old_indexes.keys()):
        entries = sorted(by_thread.get(thread_id, ()), reverse=True,
                         key=lambda entry: (entry.timestamp_ns, entry.checkpoint_id))
        new = orjson.dumps({"checkpoints": [index_entry(entry) for entry in entries]})
        old = old_indexes.get(thread_id)
        if old is not None and _same_document(old[0], new):
            outcome.unchanged += 1
            continue
        key = source.index_key(thread_id)
        diff = _diff(thread_id, old, key, entries)
        outcome.diffs.append(diff)
        plan.threads.append(ThreadPlan(thread_id, key, old, new, diff))
    return plan


def _same_document(old: bytes, new: bytes) -> bool:
    """Whether the old index says exactly what the new one would (metadata key order, which
    DashFlow's HashMap does not fix, aside)."""
    try:
        return bool(orjson.loads(old) == orjson.loads(new))
    except orjson.JSONDecodeError:
        return False


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code") or status)


class _Session:
    """A backup session: ``{prefix}/dashfix-backups/{name}/``, its manifest first."""

    def __init__(self, source: S3Source, name: str) -> None:
        self.source = source
        self.name = name
        self.folder = f"{source.prefix}/{BACKUP_FOLDER}/{name}"
        self.threads: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"s3://{self.source.bucket}/{self.folder}/"

    def backup_key(self, thread_id: str) -> str:
        return f"{self.folder}/threads/{thread_id}/index.json"

    def save_manifest(self, command: str, **condition: str) -> None:
        document = {"dashfix": command, "store": self.source.label,
                    "bucket": self.source.bucket, "prefix": self.source.prefix,
                    "session": self.name, "threads": self.threads}
        self.source.client.put_object(Bucket=self.source.bucket,
                                      Key=f"{self.folder}/{MANIFEST}",
                                      Body=orjson.dumps(document, option=orjson.OPT_INDENT_2),
                                      ContentType="application/json", **condition)

    def check_conditions_honoured(self) -> None:
        """The manifest was just created: writing it again under ``If-None-Match: *``, or
        under ``If-Match`` with an ETag it does not have, must be refused. A store that
        ignores the conditions would let a rebuild overwrite a concurrent DashFlow save, so
        nothing is written there."""
        for condition in ({"IfNoneMatch": "*"}, {"IfMatch": _NO_SUCH_ETAG}):
            try:
                self.save_manifest("rebuild-index", **condition)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) in _CHANGED:
                    continue
                raise
            name = "If-None-Match" if "IfNoneMatch" in condition else "If-Match"
            raise WriteError(
                f"{self.source.label}: the server ignores conditional writes ({name} on "
                "PutObject), so a DashFlow save during the rebuild could be lost: no index "
                f"written (the manifest is in {self.url}). Stop every DashFlow process "
                "using this prefix and rebuild on a store that honours If-Match.")


def _free_session_name(source: S3Source, stamp: str) -> str:
    """``stamp``, or ``stamp-N`` when a session of that name exists (runs within a second)."""
    head = f"{source.prefix}/{BACKUP_FOLDER}/"
    taken = {key[len(head):].split("/", 1)[0] for key in source.keys(head + stamp)}
    name, counter = stamp, 1
    while name in taken:
        name, counter = f"{stamp}-{counter}", counter + 1
    return name


def _write_failed(source: S3Source, what: str, exc: Exception) -> WriteError:
    return WriteError(f"{source.label}: cannot write {what}: {exc}")


def apply_plan(source: S3Source, plan: S3Plan, stamp: str | None = None) -> RemoteRebuildOutcome:
    """Keep each old index, then replace it under its ETag; a changed one is left alone."""
    outcome = plan.outcome
    if not plan.threads:
        return outcome
    client = source.client
    session = _Session(source, _free_session_name(source, stamp or utc_stamp()))
    session.threads = [{"thread_id": thread.thread_id, "index_key": thread.key,
                        "backup_key": None if thread.old is None else
                        session.backup_key(thread.thread_id),
                        "old_etag": None if thread.old is None else thread.old[1],
                        "new_sha256": _digest(thread.new), "new_etag": None,
                        "state": ThreadState.PLANNED.value}
                       for thread in plan.threads]
    outcome.backup = session.url
    outcome.restore_command = f"dashfix rebuild-index '{source.label}' --restore {session.name}"
    try:
        session.save_manifest("rebuild-index", IfNoneMatch="*")
        session.check_conditions_honoured()
        for thread, record in zip(plan.threads, session.threads, strict=True):
            if thread.old is not None:
                client.put_object(Bucket=source.bucket, Key=record["backup_key"],
                                  Body=thread.old[0], IfNoneMatch="*",
                                  ContentType="application/json")
            condition = ({"IfNoneMatch": "*"} if thread.old is None
                         else {"IfMatch": thread.old[1]})
            try:
                response = client.put_object(Bucket=source.bucket, Key=thread.key,
                                             Body=thread.new, ContentType="application/json",
                                             **condition)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) not in _CHANGED:
                    raise
                thread.diff.state = ThreadState.CHANGED
            else:
                thread.diff.state = ThreadState.WRITTEN
                record["new_etag"] = str(response["ETag"])
            record["state"] = thread.diff.state.value
        session.save_manifest("rebuild-index")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise _write_failed(source, f"the index or its backup under {session.url}", exc) \
            from None
    return outcome


def rebuild_index(source: S3Source, *, dry_run: bool = False,
                  stamp: str | None = None) -> RemoteRebuildOutcome:
    plan = plan_rebuild(source, dry_run=dry_run)
    return plan.outcome if dry_run else apply_plan(source, plan, stamp)


def list_sessions(source: S3Source) -> Iterator[dict[str, Any]]:
    """Every backup session under the prefix, oldest first: its name and thread states."""
    head = f"{source.prefix}/{BACKUP_FOLDER}/"
    for key in sorted(source.keys(head)):
        if key.endswith(f"/{MANIFEST}") and key.count("/", len(head)) == 1:
            manifest = _manifest(source, key)
            states = [thread["state"] for thread in manifest["threads"]]
            yield {"session": manifest["session"], "command": manifest["dashfix"],
                   "threads": len(states),
                   "states": {state: states.count(state) for state in sorted(set(states))}}


def _manifest(source: S3Source, key: str) -> dict[str, Any]:
    found = source.get_tagged(key)
    if found is None:
        raise InputError(f"{source.label}: no backup session manifest {key} "
                         f"(`dashfix rebuild-index URL --restore list` lists them)")
    try:
        document = orjson.loads(found[0])
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{source.label}: {key} is not a dashfix manifest: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("threads"), list):
        raise InputError(f"{source.label}: {key} is not a dashfix manifest")
    return document


def restore_backup(source: S3Source, name: str) -> RemoteRestoreOutcome:
    """Put the old indexes of session ``name`` back, each only if it still holds the bytes
    dashfix wrote (conditional on the ETag it has now); anything else is skipped and said
    so. A run killed before it recorded a write is covered too: what counts is the index's
    content (its SHA-256 in the manifest), not the recorded state."""
    if not name or "/" in name or name in (".", ".."):
        raise UsageError(f"--restore {name!r}: a backup session name (`--restore list` "
                         "lists them)")
    session = _Session(source, name)
    manifest = _manifest(source, f"{session.folder}/{MANIFEST}")
    session.threads = manifest["threads"]
    outcome = RemoteRestoreOutcome(source.label, session.url)
    pending = [record for record in session.threads
               if record["state"] in (ThreadState.WRITTEN.value, ThreadState.PLANNED.value)]
    if not any(record["state"] == ThreadState.WRITTEN.value for record in pending) and any(
            record["state"] == ThreadState.RESTORED.value for record in session.threads):
        outcome.already_restored = True
        return outcome
    try:
        for record in pending:
            why_not = _restore_thread(source, record)
            if why_not is None:
                record["state"] = ThreadState.RESTORED.value
                outcome.restored.append(record["index_key"])
            elif record["state"] == ThreadState.WRITTEN.value:
                outcome.skipped.append(f"{record['index_key']}: {why_not}")
        session.save_manifest(manifest["dashfix"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise _write_failed(source, f"an index of session {name}", exc) from None
    return outcome


def _restore_thread(source: S3Source, record: dict[str, Any]) -> str | None:
    """Put one old index back (or delete one dashfix created); why not, or None when done."""
    client = source.client
    changed = ("changed since dashfix wrote it (a DashFlow save?); left as it is"
               + ("" if record["backup_key"] is None else
                  f", the old bytes stay at {record['backup_key']}"))
    current = source.get_tagged(record["index_key"])
    if current is None or _digest(current[0]) != record["new_sha256"]:
        return changed
    try:
        if record["backup_key"] is None:
            client.delete_object(Bucket=source.bucket, Key=record["index_key"],
                                 IfMatch=current[1])
        else:
            old = source.get_tagged(record["backup_key"])
            if old is None:
                return f"its backup {record['backup_key']} is gone"
            client.put_object(Bucket=source.bucket, Key=record["index_key"], Body=old[0],
                              IfMatch=current[1], ContentType="application/json")
    except botocore.exceptions.ClientError as exc:
        if _error_code(exc) in _CHANGED:
            return changed
        raise
    return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
