"""Item 7: temp files left by a writer that died between write and rename: DashFlow's, and
dashfix's own (with the repair sessions a killed dashfix run left unsettled)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_files.scan import TEMP_LEFTOVER
from dashfix.inputs.checkpoint_record import TEMP_CHECKPOINT, TEMP_INDEX, FileRecord
from dashfix.rules import checkpoint as ck


def describe_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _why_not_promotable(record: FileRecord, view: StoreView) -> str | None:
    if record.variant == TEMP_INDEX:
        return "an index temp is never promoted (the index is rebuilt from the files)"
    if record.problem is not None:
        return f"it is not a complete, valid DCHK file ({record.message})"
    if view.has(f"{record.checkpoint_id}.bin"):
        return f"its target {record.checkpoint_id}.bin exists"
    return None


def check(view: StoreView) -> Iterator[Finding]:
    now_ns = time.time_ns()
    for record in view.unusual:
        if record.variant not in (TEMP_CHECKPOINT, TEMP_INDEX):
            continue
        age_seconds = (now_ns - record.mtime_ns) / 1e9
        details = {"age_seconds": int(age_seconds)}
        path = view.path(record.name)
        reason = _why_not_promotable(record, view)
        if reason is None:
            yield ck.TEMP_PROMOTABLE.at(
                path, f"{record.name}: orphan temp, {describe_age(age_seconds)} old; complete "
                f"and CRC-valid, and {record.checkpoint_id}.bin is missing: it can be promoted",
                checkpoint_id=record.checkpoint_id, fix_command=view.repair, details=details)
        else:
            yield ck.TEMP_ORPHAN.at(
                path, f"{record.name}: orphan temp, {describe_age(age_seconds)} old; not "
                f"promotable: {reason}", checkpoint_id=record.checkpoint_id,
                offset=record.offset, fix_command=view.repair, details=details)
    yield from _dashfix_leftovers(view)


def _dashfix_leftovers(view: StoreView) -> Iterator[Finding]:
    for where, kind in view.scan.dashfix_leftovers:
        if kind == TEMP_LEFTOVER:
            message = (f"{where}: temp file of a dashfix write that a killed run never "
                       "finished; it holds a copy of bytes that exist elsewhere, and the "
                       "next repair, rebuild-index or restore removes it")
        else:
            session = where.rsplit("/", 1)[-1]
            message = (f"{where}: repair session interrupted before it ended (journal.jsonl "
                       "without manifest.json); the next repair, rebuild-index or restore "
                       f"settles it, and `--restore {session}` undoes what it did")
        yield ck.DASHFIX_LEFTOVER.at(view.path(where), message, fix_command=view.repair)
