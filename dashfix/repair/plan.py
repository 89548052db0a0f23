"""The repair plan of spec section 8: what ``dashfix repair`` would do to each store entry.

Every top-level entry of the store is looked at once and gets at most one action:

- ``fix-magic``: a ``*.bin`` whose magic alone is damaged (version 1, exact length, CRC
  matches): the four magic bytes are rewritten; the original is kept in quarantine.
- ``promote``: a checkpoint temp ``.{id}.bin.{uuid}.tmp`` that is a complete, CRC-valid DCHK
  file holding checkpoint ``{id}`` while ``{id}.bin`` is missing: renamed to ``{id}.bin``.
- ``quarantine``: corrupt checkpoints, foreign or undecodable ``*.bin`` files, folders and
  symlinks named ``*.bin``, temps that cannot be promoted, index temps, and variant files
  (``.v.bin``, ``.bin.gz``) sitting among FileCheckpointer files, where they make
  ``delete_thread`` abort (#7). Temps are quarantined rather than deleted so that nothing is
  lost: a partial temp is usually worthless, but a complete one whose target exists may
  hold a newer write than the target.

Entries that need no action or that no file operation can fix are listed as ``kept`` with
the reason (legacy files without a header, name/id mismatches, ...). The index is rebuilt
after the file actions, from the repaired files.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import parse_tail, read_head
from dashfix.formats.variants import Variant, classify, classify_name, parse_temp_name
from dashfix.repair.backup import is_backup_name
from dashfix.repair.index_rebuild import Candidate
from dashfix.repair.quarantine import QUARANTINE_DIR
from dashfix.repair.reading import read_entry
from dashfix.repair.scan_adapter import candidate_from_bytes

HEAD_BYTES = 64


class ActionKind(StrEnum):
    FIX_MAGIC = "fix-magic"
    PROMOTE = "promote"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    name: str
    reason: str
    target: str | None = None
    """For ``promote``: the checkpoint file name the temp becomes."""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind.value, "name": self.name, "reason": self.reason,
                "target": self.target}


@dataclass
class RepairPlan:
    store: Path
    actions: list[Action] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """(name, why it is left alone) for entries that look wrong but get no action."""
    predicted: list[Candidate] = field(default_factory=list)
    """Loadable checkpoints once the file actions are done (for the index preview)."""

    def of_kind(self, kind: ActionKind) -> list[Action]:
        return [action for action in self.actions if action.kind is kind]


_VARIANTS_OF_OTHER_CHECKPOINTERS = (Variant.VERSIONED, Variant.VERSIONED_GZ, Variant.GZIP_BIN)


def _is_dashfix_own(name: str) -> bool:
    return name == QUARANTINE_DIR or is_backup_name(name) or name.endswith(".dashfix.tmp")


def _plan_checkpoint(plan: RepairPlan, name: str, data: bytes, mtime_ns: int) -> None:
    """A top-level ``*.bin`` (not ``.v.bin``, not ``index.bin``) regular file."""
    if not dchk.is_wrapped(data) and dchk.has_damaged_magic(data):
        fixed = dchk.MAGIC + data[4:]
        plan.actions.append(Action(ActionKind.FIX_MAGIC, name, (
            f"magic is {data[:4].hex()} instead of DCHK while version, length and CRC "
            "prove the file; DashFlow reads it as legacy and fails")))
        result = candidate_from_bytes(name, fixed, mtime_ns)
        if isinstance(result, Candidate):
            plan.predicted.append(result)
        return
    if dchk.is_wrapped(data) and (problem := dchk.verify(data)) is not None:
        plan.actions.append(Action(ActionKind.QUARANTINE, name,
                                   f"corrupt ({problem.kind.value}): {problem.message}"))
        return
    result = candidate_from_bytes(name, data, mtime_ns)
    if isinstance(result, Candidate):
        plan.predicted.append(result)
        if not dchk.is_wrapped(data):
            plan.kept.append((name, "legacy file without DCHK header: unverifiable, kept"))
        return
    payload = dchk.payload_of(data) if dchk.is_wrapped(data) else memoryview(data)
    try:
        head = read_head(payload)
    except DecodeError as exc:
        plan.actions.append(Action(ActionKind.QUARANTINE, name, (
            f"not a checkpoint DashFlow can read: payload does not decode ({exc}); "
            "it makes delete_thread abort (#7)")))
        return
    if not dchk.is_wrapped(data) and parse_tail(payload, head).unique is None:
        plan.actions.append(Action(ActionKind.QUARANTINE, name, (
            "foreign file: no DCHK header, its name does not match the id it would "
            f"hold ({head.checkpoint_id!r}) and no checkpoint tail parses")))
        return
    plan.kept.append((name, f"{result}; DashFlow lists it but cannot load it by id "
                            "(rename or remove it by hand)"))


def _plan_temp(plan: RepairPlan, name: str, data: bytes, mtime_ns: int,
               targets_present: set[str], promoted: set[str]) -> None:
    parsed = parse_temp_name(name)
    target_id = None if parsed is None else parsed[0]
    if target_id is None:
        plan.actions.append(Action(ActionKind.QUARANTINE, name,
                                   "orphan index temp from a save that never finished"))
        return
    target = f"{target_id}.bin"
    problem = dchk.verify(data) if dchk.is_wrapped(data) else None
    if not dchk.is_wrapped(data) or problem is not None:
        why = "not a DCHK file" if problem is None else f"incomplete ({problem.kind.value})"
        plan.actions.append(Action(ActionKind.QUARANTINE, name,
                                   f"orphan checkpoint temp that cannot be promoted: {why}"))
        return
    result = candidate_from_bytes(target, data, mtime_ns)
    if not isinstance(result, Candidate):
        plan.actions.append(Action(ActionKind.QUARANTINE, name,
                                   f"orphan checkpoint temp that cannot be promoted: {result}"))
        return
    if target in targets_present or target in promoted:
        plan.actions.append(Action(ActionKind.QUARANTINE, name, (
            f"orphan checkpoint temp, complete, but {target} exists; kept in quarantine in "
            "case it holds a newer write")))
        return
    promoted.add(target)
    plan.actions.append(Action(ActionKind.PROMOTE, name,
                               f"complete, CRC-valid temp whose target {target} is missing",
                               target=target))
    plan.predicted.append(result)


def _plan_entry(plan: RepairPlan, entry: os.DirEntry[str], has_file_checkpoints: bool,
                checkpoint_names: set[str], promoted: set[str]) -> None:
    name = entry.name
    by_name = classify_name(name)
    if _is_dashfix_own(name) or by_name in (Variant.LOCK, Variant.BACKUP):
        return
    info = entry.stat(follow_symlinks=False)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        if by_name in (Variant.DCHK, Variant.INDEX, Variant.VERSIONED):
            what = "symlink" if stat.S_ISLNK(info.st_mode) else "folder or special file"
            plan.actions.append(Action(ActionKind.QUARANTINE, name, (
                f"a {what} named like a checkpoint or index: DashFlow reads it and fails")))
        return
    if by_name is Variant.INDEX:
        return
    read = read_entry(entry.path)
    if isinstance(read, str):
        plan.kept.append((name, f"{read}; fix its permissions and run repair again"))
        return
    data, _info = read
    if by_name is Variant.DCHK:
        _plan_checkpoint(plan, name, data, info.st_mtime_ns)
    elif by_name in (Variant.TEMP_CHECKPOINT, Variant.TEMP_INDEX):
        _plan_temp(plan, name, data, info.st_mtime_ns, checkpoint_names, promoted)
    elif by_name in _VARIANTS_OF_OTHER_CHECKPOINTERS and has_file_checkpoints:
        variant = classify(name, data[:HEAD_BYTES])
        plan.actions.append(Action(ActionKind.QUARANTINE, name, (
            f"{variant.value} file of another checkpointer among FileCheckpointer files: "
            "FileCheckpointer's delete_thread aborts on it (#7)")))


def plan_repair(store: Path) -> RepairPlan:
    plan = RepairPlan(store)
    with os.scandir(store) as scanned:
        entries = sorted(scanned, key=lambda entry: entry.name)
    checkpoint_names = {e.name for e in entries if classify_name(e.name) is Variant.DCHK}
    has_file_checkpoints = bool(checkpoint_names)
    is_temp = {e.name for e in entries
               if classify_name(e.name) in (Variant.TEMP_CHECKPOINT, Variant.TEMP_INDEX)}
    promoted: set[str] = set()
    for entry in entries:
        if entry.name not in is_temp:
            _plan_entry(plan, entry, has_file_checkpoints, checkpoint_names, promoted)
    # Temps last: a temp can be promoted only if its target is missing once the checkpoint
    # files planned for quarantine are gone.
    staying = checkpoint_names - {a.name for a in plan.of_kind(ActionKind.QUARANTINE)}
    for entry in entries:
        if entry.name in is_temp:
            _plan_entry(plan, entry, has_file_checkpoints, staying, promoted)
    return plan
