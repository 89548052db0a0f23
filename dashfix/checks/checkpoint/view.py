"""What every file checkpoint check family receives: the scan plus shared derived tables.

The tables hold rows of the scan's ``StoreRows`` (ints), not records: a store of 1,000,000
checkpoints is walked column by column, and a ``FileRecord`` is only built for a row that
a finding is about. The tables every store has (latest per thread, ids on several files,
rows by process) come from ``LineageView``; this adds the folder's own.
"""

from __future__ import annotations

import functools
import os
import shlex

from dashfix.checks.lineage.view import LineageView
from dashfix.inputs.checkpoint_files.scan import StoreScan
from dashfix.inputs.checkpoint_record import DCHK, LOAD_SUFFIXES, PLAIN, FileRecord
from dashfix.inputs.checkpoint_rows import StoreRows


def _store_argument(path: str) -> str:
    """The store as the user would type it from where verify ran."""
    relative = os.path.relpath(path)
    return shlex.quote(path if relative.startswith("..") else relative)


class StoreView(LineageView):
    rows: StoreRows

    def __init__(self, scan: StoreScan, rel: str) -> None:
        super().__init__(scan.rows, rel)
        self.scan = scan
        self.store_arg = _store_argument(str(scan.path))
        rows = scan.rows
        self.unusual: list[FileRecord] = [rows.others[row] for row in sorted(rows.others)]
        """The records of every row that is not PLAIN (not a healthy plain DCHK checkpoint):
        all that per-file checks need to look at, so they stay cheap on a big healthy store."""
        self.variants: set[str] = {record.variant for record in self.unusual
                                   if record.problem is None}
        """Variants of the records that read without a problem."""
        if PLAIN in rows.kinds:
            self.variants.add(DCHK)

    @classmethod
    def of(cls, scan: StoreScan, rel: str) -> StoreView:
        return cls(scan, rel)

    @functools.cached_property
    def latest(self) -> dict[str, FileRecord]:  # type: ignore[override]
        """Per thread, the record of the checkpoint DashFlow's file scan would pick."""
        record = self.rows.record
        return {thread: record(row) for thread, row in self.latest_rows.items()}

    def has(self, name: str) -> bool:
        """Whether the store has an entry ``name``."""
        return self.rows.present(name)

    def parent_unreadable(self, checkpoint_id: str) -> bool:
        # A file DashFlow loads the id from is there, but damaged: it has its own finding.
        return any(self.has(checkpoint_id + suffix) for suffix in LOAD_SUFFIXES)

    @property
    def repair(self) -> str:
        # The plan first: it lists every action and says to add --apply to carry them out.
        return f"dashfix repair {self.store_arg}"

    @property
    def rebuild(self) -> str:
        return f"dashfix rebuild-index {self.store_arg}"
