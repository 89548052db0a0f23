"""Items 6, 8 and 9: index.bin decodes, names safe ids, and agrees with the files."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.lineage.view import Ids, describe_time, timestamp_ns
from dashfix.findings import Finding
from dashfix.formats.ids import is_path_unsafe
from dashfix.formats.index import IndexEntry, duplicate_threads
from dashfix.formats.variants import INDEX_NAME
from dashfix.inputs.checkpoint_record import LOAD_SUFFIXES, FileRecord
from dashfix.inputs.latest import FILE_SCAN
from dashfix.rules import checkpoint as ck
from dashfix.timefmt import format_utc


def _loaded_file(view: StoreView, checkpoint_id: str) -> FileRecord | None:
    """The file DashFlow loads for the id: the first of its load names that exists (its
    embedded id may differ, or it may not decode)."""
    rows = view.rows
    for suffix in LOAD_SUFFIXES:
        name = checkpoint_id + suffix
        if rows.present(name):
            return rows.record(rows.row_of[name])
    return None


def _entry_findings(view: StoreView, thread_id: str, entry: IndexEntry,
                    threads_with_files: set[str]) -> Iterator[Finding]:
    path = view.path(INDEX_NAME)
    ids: Ids = {"thread_id": thread_id, "checkpoint_id": entry.checkpoint_id}
    indexed = f"{entry.checkpoint_id} at {format_utc(entry.secs, entry.nanos)}"
    if thread_id not in threads_with_files:
        yield ck.INDEX_THREAD_WITHOUT_FILES.at(
            path, f"index entry for thread {thread_id!r} ({indexed}): the thread has no "
            "checkpoint files", fix_command=view.rebuild, **ids)
        return
    record = _loaded_file(view, entry.checkpoint_id)
    if record is None:
        yield ck.INDEX_ENTRY_FILE_MISSING.at(
            path, f"index entry for thread {thread_id!r} names {entry.checkpoint_id}, which "
            "has no file; DashFlow falls back to a file scan", fix_command=view.rebuild, **ids)
        return
    if record.problem is not None:
        yield ck.INDEX_ENTRY_CORRUPT_FILE.at(
            path, f"index entry for thread {thread_id!r} names {record.name}, which fails to "
            f"load ({record.message}); resume errors and ResumeRunner restarts from scratch",
            actual=record.name, fix_command=view.repair, **ids)
        return
    latest = view.latest.get(thread_id)
    if latest is not None and latest.checkpoint_id != entry.checkpoint_id and (
        record.secs < 0
        or FILE_SCAN.rank(timestamp_ns(latest), latest.checkpoint_id or "")
        > FILE_SCAN.rank(timestamp_ns(record), entry.checkpoint_id)
    ):
        yield ck.INDEX_ENTRY_STALE.at(
            path, f"index entry for thread {thread_id!r} names {entry.checkpoint_id}, but the "
            f"newest checkpoint is {latest.checkpoint_id} ({describe_time(latest)}); "
            "DashFlow resumes from the older one", expected=latest.checkpoint_id,
            actual=entry.checkpoint_id, fix_command=view.rebuild, **ids)
        return
    if record.secs < 0 or (record.secs, record.nanos) == (entry.secs, entry.nanos):
        return
    file_newer = (record.secs, record.nanos) > (entry.secs, entry.nanos)
    if file_newer and latest is not None and latest.name == record.name:
        # update_state re-saves the latest checkpoint under its id with a new time (spec 3.3).
        return
    yield ck.INDEX_TIMESTAMP_MISMATCH.at(
        path, f"index entry for thread {thread_id!r} says {entry.checkpoint_id} is from "
        f"{format_utc(entry.secs, entry.nanos)}, but the file's embedded time is "
        f"{describe_time(record)} ({'newer' if file_newer else 'older'})",
        expected=describe_time(record), actual=format_utc(entry.secs, entry.nanos),
        fix_command=view.rebuild, **ids)


def check(view: StoreView) -> Iterator[Finding]:
    scan = view.scan
    path = view.path(INDEX_NAME)
    # The thread column holds the thread of every checkpoint-variant row.
    threads_with_files = {thread for thread in set(view.rows.threads) if thread is not None}
    if scan.index_unreadable is not None:
        yield ck.FILE_UNREADABLE.at(path, f"{INDEX_NAME}: {scan.index_unreadable}")
        return
    if scan.index_error is not None:
        yield ck.INDEX_CORRUPT.at(
            path, f"{INDEX_NAME} does not decode at byte {scan.index_error.offset}: "
            f"{scan.index_error.reason}. DashFlow will silently start with an empty index and "
            "overwrite this file on next save", offset=scan.index_error.offset,
            actual=f"{scan.index_size} bytes", fix_command=view.rebuild)
        return
    if scan.index_entries is None:
        # An index.bin that is not a regular file is its own finding (CK126), not "no index".
        if threads_with_files and INDEX_NAME not in view.rows.row_of:
            yield ck.INDEX_MISSING.at(
                path, f"no {INDEX_NAME} although {len(threads_with_files)} thread(s) have "
                "checkpoint files; list_threads shows none of them", fix_command=view.rebuild)
        return
    for thread_id, entries in duplicate_threads(scan.index_entries).items():
        yield ck.INDEX_DUPLICATE_THREAD.at(
            path, f"{INDEX_NAME} holds thread {thread_id!r} {len(entries)} times; DashFlow "
            f"keeps the last ({entries[-1].checkpoint_id})", thread_id=thread_id,
            actual=len(entries), expected=1, fix_command=view.rebuild)
    indexed: dict[str, IndexEntry] = {}
    for thread_id, entry in scan.index_entries:
        reason = is_path_unsafe(thread_id) or is_path_unsafe(entry.checkpoint_id)
        if reason is not None:
            yield ck.PATH_UNSAFE_INDEX_ENTRY.at(
                path, f"{INDEX_NAME} entry {thread_id!r} -> {entry.checkpoint_id!r}: the name "
                f"{reason}; not followed", thread_id=thread_id,
                checkpoint_id=entry.checkpoint_id, fix_command=view.rebuild)
            continue
        indexed[thread_id] = entry
    for thread_id, entry in indexed.items():
        yield from _entry_findings(view, thread_id, entry, threads_with_files)
    # A path-unsafe thread already has its own finding (CK119/CK120): no CK130 on top.
    for thread_id in sorted(t for t in view.latest
                            if t not in indexed and is_path_unsafe(t) is None):
        latest = view.latest[thread_id]
        yield ck.INDEX_THREAD_MISSING.at(
            path, f"thread {thread_id!r} has checkpoint files (newest {latest.checkpoint_id}) "
            f"but no {INDEX_NAME} entry; list_threads does not show it", thread_id=thread_id,
            checkpoint_id=latest.checkpoint_id, fix_command=view.rebuild)
