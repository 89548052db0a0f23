"""Which checkpoint of a thread DashFlow takes as its latest: one rule, parameterised by the
order each checkpointer's ``get_latest`` and ``list`` use.

The file checkpointers scan the folder and take the greatest embedded timestamp, ties to
the greater id *string* (so ``chkpt9`` beats ``chkpt10``): ``FILE_SCAN``. It is also what
"newest" means for every store: a database's own ``get_latest`` is checked against it. The
database and object stores' rules (SQL ``ORDER BY``, Redis scores, DynamoDB's sort key) are
``LatestRule`` values next to their checks in ``dashfix.checks.backends``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dashfix.inputs.checkpoint_record import CHECKPOINT_VARIANTS, FileRecord


@dataclass(frozen=True, slots=True)
class LatestRule:
    """How a checkpointer orders a thread's checkpoints: ``get_latest`` takes the greatest,
    ``list`` goes down from it."""

    query: str
    """The ordering as DashFlow writes it, quoted in findings."""
    unit_ns: int = 1
    """The unit of the ordered timestamp (1_000_000 for milliseconds); 0 when the time is not
    ordered at all (DynamoDB's sort key is the id alone)."""
    tie_break: bool = True
    """Whether checkpoints in the same unit are ordered by their id string (the greater
    later); without one, tied checkpoints come in any order."""

    def rank(self, time: float, checkpoint_id: str) -> tuple[float, str]:
        """Where a checkpoint whose timestamp is ``time`` (in ``unit_ns``) stands in the
        order: the greater rank is the later checkpoint."""
        return (time if self.unit_ns else 0, checkpoint_id if self.tie_break else "")

    def latest_rows(self, threads: Sequence[str | None], secs: Sequence[int],
                    nanos: Sequence[int], checkpoint_id: Callable[[int], str | None],
                    ) -> dict[str, int]:
        """Per thread, the row of the columns ``threads``, ``secs`` and ``nanos`` whose
        checkpoint ``rank`` puts last (of rows it cannot tell apart, the first). A row
        with no thread takes no part, nor, when the rule orders by time, a row with no
        time (``secs`` < 0). ``checkpoint_id(row)`` is only read to break a tie.

        The same order as ``rank`` (a test compares them), without building a key per row:
        the lineage view runs this over every checkpoint of a store."""
        unit = self.unit_ns
        tie_break = self.tie_break
        latest: dict[str, int] = {}
        for row, thread in enumerate(threads):
            moment = secs[row]
            if thread is None or (moment < 0 and unit):
                continue
            best = latest.get(thread)
            if best is None:
                latest[thread] = row
                continue
            if unit:
                top = secs[best]
                if moment != top:
                    if moment > top:
                        latest[thread] = row
                    continue
                part, top_part = nanos[row] // unit, nanos[best] // unit
                if part != top_part:
                    if part > top_part:
                        latest[thread] = row
                    continue
            if tie_break and (checkpoint_id(row) or "") > (checkpoint_id(best) or ""):
                latest[thread] = row
        return latest


FILE_SCAN = LatestRule("the greatest embedded timestamp, ties to the greater id string")
"""DashFlow's file checkpointers, and what "newest" means for every store."""


def latest_per_thread(records: Iterable[FileRecord]) -> dict[str, FileRecord]:
    """Per thread, the checkpoint DashFlow's file scan picks (``FILE_SCAN``).

    Only loadable checkpoints with a known timestamp take part; a corrupt file is never chosen.
    """
    loadable = [record for record in records
                if record.secs >= 0 and record.problem is None and record.thread_id is not None
                and record.variant in CHECKPOINT_VARIANTS]
    rows = FILE_SCAN.latest_rows([record.thread_id for record in loadable],
                                 [record.secs for record in loadable],
                                 [record.nanos for record in loadable],
                                 lambda row: loadable[row].checkpoint_id)
    return {thread: loadable[row] for thread, row in rows.items()}
