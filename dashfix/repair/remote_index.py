"""What ``rebuild-index`` plans and does on a store whose index lives beside its checkpoints
on a server: S3 (``threads/{thread}/index.json``) and Redis (the per-thread ZSETs and the
threads SET). The backends are ``dashfix.repair.s3_index`` and ``dashfix.repair.redis_index``;
this module holds what they share: the per-thread diff, the outcome and its JSON.

Both rebuild a thread's index from the checkpoints themselves (objects, hashes), never
delete a checkpoint, keep the old index first (S3: a backup key under the prefix; Redis: a
local file) and write each thread under a condition on what the plan read (S3: the old
ETag; Redis: WATCH/MULTI/EXEC), so a DashFlow save in between is never lost: that thread is
left alone and the run exits 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from dashfix.errors import ExitCode
from dashfix.inputs.checkpoint_model import NS_PER_SEC

RUNNING_DASHFLOW_NOTE = (
    "A DashFlow process may keep saving while this runs: each thread's index is replaced "
    "only if it is still exactly what the plan read (S3: the old ETag; Redis: WATCH); a "
    "thread changed underneath is left alone and the run exits 4 (run it again)."
)


LISTED = 5
"""Ids of each kind the text diff names per thread."""


class Latest(NamedTuple):
    """A thread's latest entry: the checkpoint DashFlow resumes from, and its time."""

    checkpoint_id: str
    timestamp_ns: int | None

    def to_dict(self) -> dict[str, Any]:
        if self.timestamp_ns is None:
            return {"checkpoint_id": self.checkpoint_id, "secs": None, "nanos": None}
        secs, nanos = divmod(self.timestamp_ns, NS_PER_SEC)
        return {"checkpoint_id": self.checkpoint_id, "secs": secs, "nanos": nanos}


class ThreadState(StrEnum):
    PLANNED = "planned"
    """A dry run, or not reached yet."""
    WRITTEN = "written"
    CHANGED = "changed-underneath"
    """The index changed since the plan read it (a concurrent save): not written."""
    RESTORED = "restored"
    """Written, then put back from the backup by ``--restore``."""


@dataclass
class ThreadDiff:
    """One thread's index before and after the rebuild."""

    thread_id: str
    old_latest: Latest | None
    new_latest: Latest | None
    added: list[str] = field(default_factory=list)
    """Checkpoints the new index lists and the old one did not."""
    removed: list[str] = field(default_factory=list)
    """Entries the old index held and the new one drops (their checkpoint is gone, belongs
    to another thread, or the entry was a duplicate); never the checkpoints themselves."""
    reordered: bool = False
    """S3: the same entries in another order. Redis: a member's score set to its time."""
    note: str | None = None
    """Anything else that changes (an old index that did not decode, the threads SET)."""
    state: ThreadState = ThreadState.PLANNED

    @property
    def kind(self) -> str:
        """As for a folder's index: by the thread's latest entry before and after."""
        if self.new_latest is None:
            return "dropped"
        return "added" if self.old_latest is None else "changed"

    def summary(self) -> str:
        """One line for the text diff: at most ``LISTED`` ids of each kind (JSON has all)."""
        parts = []
        for sign, ids in (("+", self.added), ("-", self.removed)):
            if ids:
                more = f", ... {len(ids) - LISTED} more" if len(ids) > LISTED else ""
                parts.append(f"{sign}{len(ids)} " + ", ".join(ids[:LISTED]) + more)
        if self.reordered:
            parts.append("reordered")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "old": None if self.old_latest is None else self.old_latest.to_dict(),
            "new": None if self.new_latest is None else self.new_latest.to_dict(),
            "entries_added": self.added,
            "entries_removed": self.removed,
            "reordered": self.reordered,
            "note": self.note,
            "state": self.state.value,
        }


@dataclass
class RemoteRebuildOutcome:
    """The plan (a dry run) or the result of ``rebuild-index URL``."""

    store: str
    """The URL without its password."""
    backend: str
    dry_run: bool
    candidates: int = 0
    """Checkpoints DashFlow can load, which the new indexes list."""
    excluded: list[tuple[str, str]] = field(default_factory=list)
    """(key, why) of checkpoints left out of every index (and never touched)."""
    diffs: list[ThreadDiff] = field(default_factory=list)
    unchanged: int = 0
    backup: str | None = None
    """Where the old indexes were kept: an S3 URL of the backup session, a local file."""
    restore_command: str | None = None

    @property
    def written(self) -> list[ThreadDiff]:
        return [diff for diff in self.diffs if diff.state is ThreadState.WRITTEN]

    @property
    def conflicts(self) -> list[ThreadDiff]:
        return [diff for diff in self.diffs if diff.state is ThreadState.CHANGED]

    def exit_code(self) -> ExitCode:
        return ExitCode.LOCKED if self.conflicts else ExitCode.CLEAN

    def changes_of(self, kind: str) -> list[ThreadDiff]:
        return [diff for diff in self.diffs if diff.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "backend": self.backend,
            "dry_run": self.dry_run,
            "warning": RUNNING_DASHFLOW_NOTE,
            "candidates": self.candidates,
            "excluded": [{"name": name, "reason": reason} for name, reason in self.excluded],
            "changes": {kind: [diff.to_dict() for diff in self.changes_of(kind)]
                        for kind in ("added", "changed", "dropped")},
            "unchanged": self.unchanged,
            "written": bool(self.written),
            "conflicts": [diff.thread_id for diff in self.conflicts],
            "backup": self.backup,
            "restore": self.restore_command,
            "exit_code": int(self.exit_code()),
        }


@dataclass
class RemoteRestoreOutcome:
    """What ``rebuild-index URL --restore BACKUP`` put back."""

    store: str
    backup: str
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    already_restored: bool = False

    def exit_code(self) -> ExitCode:
        return ExitCode.FAILURE if self.skipped else ExitCode.CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "backup": self.backup, "restored": self.restored,
                "skipped": self.skipped, "already_restored": self.already_restored,
                "exit_code": int(self.exit_code())}

