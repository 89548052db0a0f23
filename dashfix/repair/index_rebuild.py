"""Plan a new ``index.bin`` from the checkpoint files: the latest checkpoint per thread.

DashFlow's own rule (``get_latest_by_file_scan`` and the index update in ``save``) is:
greatest embedded timestamp, ties broken by the greater id *string* (``FILE_SCAN`` in
``dashfix.inputs.latest``, the rule every check uses). ``--order`` chooses the time each
file is ranked by:

- ``embedded``: the timestamp inside the checkpoint, exactly DashFlow's rule. Files whose tail
  parse is ambiguous have no known timestamp and are not ranked.
- ``mtime``: the file's modification time.
- ``auto`` (default): the embedded timestamp where known, the mtime elsewhere.

A corrupt file is never a candidate (the caller only passes readable checkpoints whose file
name DashFlow would load for their id). The index value is the embedded timestamp when it
is known, because DashFlow compares every later save against it, and the mtime otherwise.
A thread whose entry would hold an mtime before 1970 is left out (``IndexPlan.pre_epoch``):
the index stores u64 seconds, and DashFlow never writes such a time (serde refuses a
``SystemTime`` before the epoch); without an entry DashFlow falls back to its file scan.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from dashfix.formats.bincode import DecodeError
from dashfix.formats.index import IndexEntry, IndexStream
from dashfix.inputs.checkpoint_record import entry_kind
from dashfix.inputs.latest import FILE_SCAN
from dashfix.timefmt import format_utc

NANOS_PER_SECOND = 1_000_000_000


class Order(StrEnum):
    AUTO = "auto"
    EMBEDDED = "embedded"
    MTIME = "mtime"


class Basis(StrEnum):
    EMBEDDED = "embedded"
    MTIME = "mtime"


class Candidate(NamedTuple):
    """One readable checkpoint file that DashFlow could load under its embedded id.

    A NamedTuple: a large store makes one per file, and tuples build several times faster
    than frozen dataclasses."""

    name: str
    checkpoint_id: str
    thread_id: str
    embedded: tuple[int, int] | None
    """(secs, nanos) from an unambiguous tail parse, else None."""
    mtime_ns: int

    @property
    def mtime(self) -> tuple[int, int]:
        return divmod(self.mtime_ns, NANOS_PER_SECOND)


@dataclass(frozen=True, slots=True)
class ThreadChoice:
    thread_id: str
    value: IndexEntry
    ranked_by: Basis
    """The time the chosen file was ranked by."""
    value_from: Basis
    """Where the index value's timestamp comes from."""
    files: int
    by_embedded: str | None
    """Winner by embedded timestamp alone (None when no file has one)."""
    by_mtime: str
    """Winner by mtime alone."""

    @property
    def orders_disagree(self) -> bool:
        return self.by_embedded is not None and self.by_embedded != self.by_mtime


@dataclass(frozen=True, slots=True)
class Change:
    thread_id: str
    old: IndexEntry | None
    new: IndexEntry | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "dropped"
        return "changed"


DROPPED_LISTED = 1000
"""Entries of threads that have no checkpoint file any more are listed up to this many; the
rest are counted, so an index far larger than its store is never held in memory."""


@dataclass(frozen=True, slots=True)
class OldIndex:
    """The index on disk before the rebuild."""

    size: int | None
    """Its size in bytes; None when there is no index.bin."""
    entries: Mapping[str, IndexEntry]
    """The entries held (see ``read_old_index``)."""
    problem: str | None
    """Why it could not be decoded (its entries then count as absent), else None."""
    unlisted: int = 0
    """Entries not held: of threads the caller did not ask for, past ``DROPPED_LISTED``."""

    @property
    def state(self) -> str:
        if self.size is None:
            return "missing"
        return "ok" if self.problem is None else "corrupt"

    @property
    def total(self) -> int:
        return len(self.entries) + self.unlisted


_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def read_old_index(index_path: Path, keep: Callable[[str], bool] | None = None) -> OldIndex:
    """Decode ``index.bin`` strictly, streaming it; a symlink is reported, never followed,
    and anything else that is not a regular file is never opened.

    With ``keep``, only the entries of the threads it accepts are held, and the first
    ``DROPPED_LISTED`` others; the rest are counted in ``unlisted``. Memory then follows the
    store, whatever the size of the index: the file itself is never held.
    """
    try:
        mode = os.lstat(index_path).st_mode
    except FileNotFoundError:
        return OldIndex(None, {}, None)
    except OSError as exc:
        return OldIndex(0, {}, f"index.bin: unreadable: {exc.strerror or exc}")
    if not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
        # Never opened: a FIFO would wait for a writer, a device could do anything.
        return OldIndex(0, {}, f"index.bin: {entry_kind(mode)}, not a regular file")
    try:
        fd = os.open(index_path, _OPEN_FLAGS)
    except FileNotFoundError:
        return OldIndex(None, {}, None)
    except OSError as exc:
        why = "a symlink" if exc.errno == errno.ELOOP else f"unreadable: {exc.strerror or exc}"
        return OldIndex(0, {}, f"index.bin: {why}")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return OldIndex(0, {}, f"index.bin: {entry_kind(info.st_mode)}, not a regular file")
    with os.fdopen(fd, "rb", buffering=0) as handle:
        entries: dict[str, IndexEntry] = {}
        others = unlisted = 0
        try:
            for thread_id, entry in IndexStream(handle, info.st_size):
                if keep is None or keep(thread_id) or thread_id in entries:
                    entries[thread_id] = entry
                elif others < DROPPED_LISTED:
                    entries[thread_id] = entry
                    others += 1
                else:
                    unlisted += 1
        except DecodeError as exc:
            return OldIndex(info.st_size, {}, f"index.bin does not decode: {exc}")
        except OSError as exc:
            return OldIndex(info.st_size, {}, f"index.bin: unreadable: {exc.strerror or exc}")
    return OldIndex(info.st_size, entries, None, unlisted)


@dataclass
class IndexPlan:
    order: Order
    choices: list[ThreadChoice] = field(default_factory=list)
    unranked_threads: list[str] = field(default_factory=list)
    """Threads left out under ``--order embedded``: no file has a known embedded timestamp.
    DashFlow falls back to its own file scan for a thread without an index entry."""
    pre_epoch: list[ThreadChoice] = field(default_factory=list)
    """Threads left out because the chosen file's only time is an mtime before 1970, which
    the index's u64 seconds cannot hold; DashFlow falls back to its file scan for them."""
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    old_index: OldIndex = field(default_factory=lambda: OldIndex(None, {}, None))

    @property
    def entries(self) -> dict[str, IndexEntry]:
        return {choice.thread_id: choice.value for choice in self.choices}

    def changes_of(self, kind: str) -> list[Change]:
        return [change for change in self.changes if change.kind == kind]

    @property
    def writes_something(self) -> bool:
        old = self.old_index
        return bool(self.changes) or old.problem is not None or old.unlisted > 0


def _time_ns(candidate: Candidate, rank: str) -> int | None:
    """The time ``rank`` ranks the candidate by, in nanoseconds (None: not ranked). Every
    candidate's nanos are below 1e9 (the tail parse requires it of an embedded time), so
    this orders like (secs, nanos)."""
    if rank == "mtime" or (rank == "auto" and candidate.embedded is None):
        return candidate.mtime_ns
    if candidate.embedded is None:
        return None
    secs, nanos = candidate.embedded
    return secs * NANOS_PER_SECOND + nanos


def _latest(candidates: Iterable[Candidate], rank: str) -> Candidate | None:
    """The candidate DashFlow's file scan takes as the latest (``FILE_SCAN``: the greatest
    time, ties to the greater id string; the first of equals), ``rank`` picking the time."""
    latest: Candidate | None = None
    top: tuple[float, str] | None = None
    for candidate in candidates:
        time = _time_ns(candidate, rank)
        if time is None:
            continue
        key = FILE_SCAN.rank(time, candidate.checkpoint_id)
        if top is None or key > top:
            latest, top = candidate, key
    return latest


def choose(thread_id: str, candidates: list[Candidate], order: Order,
           files: int | None = None) -> ThreadChoice | None:
    """The thread's index entry by ``order``; ``files`` counts the thread's candidates when
    ``candidates`` holds only those that can win (``CandidateSet.contenders``)."""
    by_embedded = _latest(candidates, "embedded")
    by_mtime = _latest(candidates, "mtime")
    assert by_mtime is not None, "choose() needs at least one candidate"
    chosen = by_embedded if order is Order.EMBEDDED else (
        by_mtime if order is Order.MTIME else _latest(candidates, "auto")
    )
    if chosen is None:
        return None
    value_from = Basis.EMBEDDED if chosen.embedded is not None else Basis.MTIME
    secs, nanos = chosen.embedded or chosen.mtime
    return ThreadChoice(
        thread_id=thread_id,
        value=IndexEntry(chosen.checkpoint_id, secs, nanos),
        ranked_by=Basis.MTIME if order is Order.MTIME else value_from,
        value_from=value_from,
        files=len(candidates) if files is None else files,
        by_embedded=by_embedded.checkpoint_id if by_embedded else None,
        by_mtime=by_mtime.checkpoint_id,
    )


def pre_epoch_reason(choice: ThreadChoice) -> str:
    """Why a thread of ``IndexPlan.pre_epoch`` has no entry, naming the file and its time."""
    value = choice.value
    return (f"{value.checkpoint_id}.bin, its latest file, has no unambiguous embedded "
            f"timestamp and its mtime {format_utc(value.secs, value.nanos)} "
            f"({value.secs}s) is before 1970, which index.bin (u64 seconds since 1970) "
            "cannot hold")


def diff_index(
    old: Mapping[str, IndexEntry], new: Mapping[str, IndexEntry]
) -> tuple[list[Change], int]:
    changes: list[Change] = []
    unchanged = 0
    for thread_id in sorted(old.keys() | new.keys()):
        before, after = old.get(thread_id), new.get(thread_id)
        if before == after:
            unchanged += 1
        else:
            changes.append(Change(thread_id, before, after))
    return changes, unchanged


def plan_index(
    candidates: Iterable[Candidate], old_index: OldIndex, order: Order = Order.AUTO
) -> IndexPlan:
    by_thread: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_thread.setdefault(candidate.thread_id, []).append(candidate)
    return plan_threads(by_thread, lambda thread: (by_thread[thread], len(by_thread[thread])),
                        old_index, order)


def plan_threads(
    thread_ids: Iterable[str], contenders: Callable[[str], tuple[list[Candidate], int]],
    old_index: OldIndex, order: Order = Order.AUTO,
) -> IndexPlan:
    """``plan_index`` with the candidates asked for one thread at a time (each thread has
    at least one), so a large store never holds them all: ``contenders(thread)`` gives the
    thread's candidates that can win (in the order of all of them) and how many it has."""
    plan = IndexPlan(order=order, old_index=old_index)
    for thread_id in sorted(thread_ids):
        candidates, files = contenders(thread_id)
        choice = choose(thread_id, candidates, order, files)
        if choice is None:
            plan.unranked_threads.append(thread_id)
        elif choice.value.secs < 0:
            plan.pre_epoch.append(choice)
        else:
            plan.choices.append(choice)
    plan.changes, plan.unchanged = diff_index(old_index.entries, plan.entries)
    return plan
