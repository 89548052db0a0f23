"""Items 4 and 6 (ids): file name vs embedded id, id vs thread, path-unsafe ids, JSON files.

The per-file facts are computed where each file is read (``identity_flags``, in parallel for
large stores); this family turns the flagged records into findings.
"""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.lineage.view import ids_of
from dashfix.findings import Finding
from dashfix.formats.ids import is_path_unsafe
from dashfix.inputs.checkpoint_files.identity import expected_name
from dashfix.inputs.checkpoint_record import (
    FLAG_FOREIGN_ID,
    FLAG_NAME_MISMATCH,
    IDENTITY_FLAGS,
    JSON,
    FileRecord,
)
from dashfix.rules import checkpoint as ck


def check(view: StoreView) -> Iterator[Finding]:
    for record in view.unusual:
        if record.variant == JSON:
            yield ck.LEGACY_JSON.at(
                view.path(record.name), f"{record.name}: legacy JSON checkpoint; current "
                "DashFlow ignores .json files", thread_id=record.thread_id,
                checkpoint_id=record.checkpoint_id)
        elif record.flags & IDENTITY_FLAGS and record.problem is None:
            yield from _identity_findings(view, record)


def _identity_findings(view: StoreView, record: FileRecord) -> Iterator[Finding]:
    checkpoint_id, thread_id = record.checkpoint_id, record.thread_id
    assert checkpoint_id is not None and thread_id is not None
    path = view.path(record.name)
    ids = ids_of(record)
    for what, value in (("id", checkpoint_id), ("thread_id", thread_id)):
        reason = is_path_unsafe(value)
        if reason is not None:
            yield ck.PATH_UNSAFE_ID.at(
                path, f"{record.name}: embedded {what} {value!r} {reason}", key=what,
                actual=value, **ids)
    if record.flags & FLAG_NAME_MISMATCH:
        expected = expected_name(record)
        yield ck.NAME_ID_MISMATCH.at(
            path, f"{record.name}: the embedded id is {checkpoint_id!r}, so DashFlow "
            f"looks for it as {expected!r}", expected=expected,
            actual=record.name, fix_command=view.repair, **ids)
    if record.flags & FLAG_FOREIGN_ID:
        yield ck.ID_THREAD_MISMATCH.at(
            path, f"{record.name}: id {checkpoint_id!r} does not start with the embedded "
            f"thread_id {thread_id!r} + '_'", expected=f"{thread_id}_...",
            actual=checkpoint_id, **ids)
