"""The repair plan of spec section 8: what ``dashfix repair`` would do to each store entry.

The plan is made from the same scan ``dashfix verify`` uses, so every action carries the CK
code verify reports for that entry. Each entry gets at most one action:

- ``fix-magic`` (CK105): only the magic is damaged (version 1, exact length, CRC matches):
  the four magic bytes are rewritten; the original is kept in quarantine.
- ``promote`` (CK121): a checkpoint temp ``.{id}.bin.{uuid}.tmp`` that is a complete,
  CRC-valid DCHK file holding checkpoint ``{id}`` while ``{id}.bin`` is missing (or is corrupt
  and goes to quarantine): renamed to ``{id}.bin``.
- ``quarantine``: corrupt or undecodable checkpoints, foreign ``*.bin`` files, folders,
  symlinks, FIFOs, sockets and devices named like checkpoints or ``index.bin`` (moved by a
  rename, never opened), checkpoints stored under a name DashFlow never loads them
  from, temps that cannot be promoted, index temps, and Versioned/Compressed files among
  FileCheckpointer files (where ``delete_thread`` aborts on them, #7). Temps are quarantined,
  not deleted, so that nothing is lost: a partial temp is worthless, but a complete one whose
  target exists may hold a newer write than the target.

Entries that look wrong but that no file operation should touch are listed as ``kept`` with
the reason. The index is rebuilt afterwards, from the repaired files.

The plan reads the scan's rows: a healthy ``{id}.bin`` (a PLAIN row, nearly every file of a
store) needs no action and stays a row among the predicted candidates, so only the entries
kept as records are planned one by one and a store of 1,000,000 files never holds a record
or a candidate per file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from dashfix.checks.checkpoint_problems import problem_code
from dashfix.formats import dchk
from dashfix.formats.variants import READ_THROUGH_A_LINK, classify_name, parse_temp_name
from dashfix.inputs.checkpoint_files.scan import StoreScan, scan_store
from dashfix.inputs.checkpoint_record import (
    DCHK,
    DIRECTORY,
    GZIP,
    LEGACY,
    OTHER,
    PLAIN,
    SPECIAL,
    SYMLINK,
    TEMP_CHECKPOINT,
    TEMP_INDEX,
    VERSIONED,
    VERSIONED_GZ,
    FileProblem,
    FileRecord,
)
from dashfix.repair.index_rebuild import Candidate
from dashfix.repair.reading import read_entry
from dashfix.repair.scan_adapter import CandidateSet, candidate_from_dchk_bytes, candidate_of
from dashfix.rules import checkpoint as ck


class ActionKind(StrEnum):
    FIX_MAGIC = "fix-magic"
    PROMOTE = "promote"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    name: str
    code: str
    """The CK code verify reports for this entry."""
    reason: str
    target: str | None = None
    """For ``promote``: the checkpoint file name the temp becomes."""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind.value, "name": self.name, "code": self.code,
                "reason": self.reason, "target": self.target}


@dataclass
class RepairPlan:
    store: Path
    actions: list[Action] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """(name, why it is left alone) for entries that look wrong but get no action."""
    predicted: CandidateSet = field(default_factory=CandidateSet)
    """Loadable checkpoints once the file actions are done (for the index preview)."""

    def quarantine(self, record: FileRecord, code: str, reason: str) -> None:
        self.actions.append(Action(ActionKind.QUARANTINE, record.name, code, reason))


QUARANTINED_PROBLEMS = frozenset({
    FileProblem.ZERO_FILLED, FileProblem.TOO_SMALL, FileProblem.UNSUPPORTED_VERSION,
    FileProblem.LENGTH_MISMATCH, FileProblem.CHECKSUM_MISMATCH, FileProblem.LEGACY_TRUNCATED,
    FileProblem.LEGACY_TRAILING_GARBAGE, FileProblem.PAYLOAD_UNDECODABLE, FileProblem.FOREIGN,
    FileProblem.GZIP_CORRUPT, FileProblem.DECOMPRESSED_TOO_LARGE,
    FileProblem.VERSIONED_DATA_NOT_JSON,
})
"""Damage that makes DashFlow fail on the file: it goes to quarantine."""
_OTHER_CHECKPOINTERS = frozenset({GZIP, VERSIONED, VERSIONED_GZ})


def _fix_magic(plan: RepairPlan, row: int, record: FileRecord) -> None:
    plan.actions.append(Action(ActionKind.FIX_MAGIC, record.name, ck.DAMAGED_MAGIC.code, (
        f"magic is {record.actual} instead of DCHK while version, length and CRC prove the "
        "file; DashFlow reads it as legacy and fails")))
    read = read_entry(str(plan.store / record.name))
    if not isinstance(read, str):
        fixed = dchk.MAGIC + read[0][len(dchk.MAGIC):]
        predicted = candidate_from_dchk_bytes(record.name, fixed, record.mtime_ns)
        if isinstance(predicted, Candidate):
            plan.predicted.built[row] = predicted


def _plan_record(plan: RepairPlan, row: int, record: FileRecord,
                 file_checkpointer_store: bool) -> None:
    variant = record.variant
    if variant == SYMLINK:
        if classify_name(record.name) in READ_THROUGH_A_LINK:
            plan.quarantine(record, ck.SYMLINK_IN_STORE.code, (
                f"a symlink named like a checkpoint or index ({record.message}); DashFlow "
                "would follow it"))
    elif record.problem == FileProblem.LOCK_NOT_A_FILE:
        plan.kept.append((record.name, (
            f"{ck.LOCK_NOT_A_FILE.code}: {record.actual} where DashFlow takes its store lock: "
            "--apply cannot take that lock either; stop DashFlow and move it out of the store "
            "first")))
    elif record.problem == FileProblem.INDEX_NOT_A_FILE:
        plan.quarantine(record, ck.INDEX_NOT_A_FILE.code, (
            f"{record.actual} where index.bin belongs: DashFlow cannot read or replace it, "
            "and no new index can be written until it is moved aside"))
    elif variant == DIRECTORY:
        plan.quarantine(record, ck.BIN_DIRECTORY.code,
                        "a folder named like a checkpoint: DashFlow lists it and fails on it")
    elif variant == SPECIAL:
        plan.quarantine(record, ck.BIN_SPECIAL_FILE.code, (
            f"{record.actual} named like a checkpoint: DashFlow lists it and reads it whole "
            "(a FIFO never ends the read)"))
    elif variant == TEMP_INDEX:
        plan.quarantine(record, ck.TEMP_ORPHAN.code,
                        "orphan index temp from a save that never finished")
    elif record.problem == FileProblem.DAMAGED_MAGIC:
        _fix_magic(plan, row, record)
    elif record.problem in QUARANTINED_PROBLEMS and variant != TEMP_CHECKPOINT:
        code = problem_code(record.problem)
        plan.quarantine(record, code, f"{code}: {record.message}")
    elif record.problem is not None and variant != TEMP_CHECKPOINT:
        plan.kept.append((record.name, f"{problem_code(record.problem)}: {record.message}"))
    elif record.loadable:
        _plan_loadable(plan, row, record, file_checkpointer_store)


def _plan_loadable(plan: RepairPlan, row: int, record: FileRecord,
                   file_checkpointer_store: bool) -> None:
    result = candidate_of(record)
    if isinstance(result, str):
        plan.quarantine(record, ck.NAME_ID_MISMATCH.code, (
            f"{result}: DashFlow lists it but never loads it by id"))
    elif record.variant in _OTHER_CHECKPOINTERS and file_checkpointer_store:
        plan.quarantine(record, ck.DELETE_THREAD_BLOCKED.code, (
            f"{record.variant} file of another checkpointer among FileCheckpointer files: "
            "FileCheckpointer cannot read it and its delete_thread aborts on it (#7)"))
    else:
        plan.predicted.built[row] = result
        if record.variant == LEGACY:
            plan.kept.append((record.name, f"{ck.LEGACY_UNVERIFIABLE.code}: legacy file "
                                           "without DCHK header: unverifiable, kept"))


def _plan_temp(plan: RepairPlan, row: int, record: FileRecord, stays: Callable[[str], bool],
               promoted: set[str]) -> None:
    parsed = parse_temp_name(record.name)
    target = None if parsed is None or parsed[0] is None else f"{parsed[0]}.bin"
    read = read_entry(str(plan.store / record.name))
    if target is None or isinstance(read, str):
        why = "no target in its name" if target is None else read
        plan.quarantine(record, ck.TEMP_ORPHAN.code, f"orphan temp: {why}")
        return
    result = candidate_from_dchk_bytes(target, read[0], record.mtime_ns)
    if isinstance(result, str):
        plan.quarantine(record, ck.TEMP_ORPHAN.code,
                        f"orphan checkpoint temp that cannot be promoted: {result}")
    elif stays(target) or target in promoted:
        plan.quarantine(record, ck.TEMP_ORPHAN.code, (
            f"orphan checkpoint temp, complete, but {target} exists; kept in quarantine in "
            "case it holds a newer write"))
    else:
        promoted.add(target)
        plan.actions.append(Action(ActionKind.PROMOTE, record.name, ck.TEMP_PROMOTABLE.code,
                                   f"complete, CRC-valid temp whose target {target} is missing",
                                   target=target))
        plan.predicted.add(row, result)


def plan_from_scan(store: Path, scan: StoreScan) -> RepairPlan:
    rows = scan.rows
    kinds, others = rows.kinds, rows.others
    plan = RepairPlan(store, predicted=CandidateSet(rows))
    # The entries kept as records, by name; every PLAIN row is a loadable {id}.bin that
    # needs no action and is its own candidate.
    recorded = sorted((row for row in others if kinds[row] == OTHER),
                      key=rows.names.__getitem__)
    file_checkpointer_store = PLAIN in kinds or any(
        others[row].variant in (DCHK, LEGACY) for row in recorded)
    temps = [row for row in recorded if others[row].variant == TEMP_CHECKPOINT]
    for row in recorded:
        if others[row].variant != TEMP_CHECKPOINT:
            _plan_record(plan, row, others[row], file_checkpointer_store)
    plan.predicted.group()
    # Temps last: a temp can be promoted only if its target is missing once the files
    # planned for quarantine are gone.
    leaving = {a.name for a in plan.actions if a.kind is ActionKind.QUARANTINE}

    def stays(name: str) -> bool:
        row = rows.row_of.get(name)
        if row is None or name in leaving:
            return False
        kind = kinds[row]
        return kind == PLAIN or (kind == OTHER and others[row].variant != TEMP_CHECKPOINT)

    promoted: set[str] = set()
    for row in temps:
        _plan_temp(plan, row, others[row], stays, promoted)
    return plan


def plan_repair(store: Path) -> RepairPlan:
    return plan_from_scan(store, scan_store(store, read_index=False))
