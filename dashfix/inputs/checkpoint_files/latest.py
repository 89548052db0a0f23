"""The latest checkpoint per thread (DashFlow's rule)."""

from __future__ import annotations

from collections.abc import Iterable

from dashfix.inputs.checkpoint_record import CHECKPOINT_VARIANTS, FileRecord


def latest_per_thread(records: Iterable[FileRecord]) -> dict[str, FileRecord]:
    """Per thread, the checkpoint DashFlow's file scan picks: the greatest embedded
    timestamp, ties broken by the greater id *string* (so ``chkpt9`` beats ``chkpt10``).

    Only loadable checkpoints with a known timestamp take part; a corrupt file is never chosen.
    """
    best: dict[str, FileRecord] = {}
    for record in records:
        if record.secs < 0 or record.problem is not None or record.thread_id is None or (
            record.variant not in CHECKPOINT_VARIANTS
        ):
            continue
        current = best.get(record.thread_id)
        if current is None or record.secs > current.secs or (
            record.secs == current.secs
            and (record.nanos, record.checkpoint_id or "")
            > (current.nanos, current.checkpoint_id or "")
        ):
            best[record.thread_id] = record
    return best
