"""Repair sessions: every change journaled before it happens, and kept so all can be undone.

Each ``dashfix repair --apply`` or ``rebuild-index`` run that changes a store gets one session
folder ``<store>/.dashfix-quarantine/<UTC stamp>/``. DashFlow only reads the store's top
level, and the folder name has no ``.bin`` in it, so nothing inside is ever listed, loaded or
deleted by DashFlow. Nothing is deleted by dashfix either. The folder holds:

- ``journal.jsonl``, the write-ahead journal, one JSON object per line. Before the first file
  changes, one ``intent`` line per planned step says what will happen to which file, where
  its original bytes will be and their sha256; the journal is fsynced and so is the folder.
  After each step a ``done`` (or ``failed``) line is appended and fsynced; ``end`` closes the
  session. ``settled`` marks a session a later run finished the bookkeeping of (the run
  that wrote it was killed), ``restored`` records each ``--restore``.
- ``manifest.json``: the steps that happened, for people and older dashfix versions; written
  when the session ends, or by the next run when it was interrupted.
- the files taken out of the store and the original bytes of the files rewritten.

A step is one of these operations, whatever plan action asked for it:

- ``moved``: the entry was renamed from the store into the session folder (``stored_as``);
- ``rewritten``: the file got new bytes in place (``new_sha256``); ``stored_as`` holds the
  original bytes (in the session folder, or the index backup beside ``index.bin``);
- ``renamed``: the file was renamed inside the store, to ``stored_as`` (a promoted temp);
- ``created``: the file did not exist and was written (``index.bin`` when there was none).

Because the intents are on disk before anything moves, a run killed at any moment leaves a
session whose every step is either visibly done or visibly not done: ``settle`` decides which
from the files themselves and ``restore`` undoes exactly the done ones.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dashfix.errors import InputError, UsageError
from dashfix.formats.dashfix_files import (
    JOURNAL_NAME,
    MANIFEST_NAME,
    QUARANTINE_DIR,
    TEMP_SUFFIX,
    is_temp_name,
)
from dashfix.repair import fsops
from dashfix.repair.atomic import atomic_write_bytes, fsync_dir
from dashfix.repair.backup import utc_stamp
from dashfix.repair.preflight import check_can_write

MANIFEST_VERSION = 2
JOURNAL_VERSION = 1
MOVED, REWRITTEN, RENAMED, CREATED = "moved", "rewritten", "renamed", "created"
_OPERATIONS = (MOVED, REWRITTEN, RENAMED, CREATED)


def sha256_of(path: Path) -> str:
    """The sha256 of the regular file ``path``. Every caller checked that it is one; opened
    without following a symlink and without waiting on a FIFO, in case it was replaced
    since (OSError then)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "no longer a regular file", str(path))
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _regular_sha(path: Path) -> str | None:
    """The sha256 of a regular file (never through a symlink); None for anything else."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return sha256_of(path) if stat.S_ISREG(info.st_mode) else None


@dataclass(frozen=True, slots=True)
class Step:
    step: int
    op: str
    name: str
    """The entry's name in the store before the step."""
    stored_as: str
    """Where the original bytes are once the step is done, relative to the store."""
    sha256: str
    """Of the original bytes ("" for a folder, a symlink or anything not a regular file)."""
    size: int
    mode: int
    mtime_ns: int
    code: str
    """The finding code (or repair step) that caused the step."""
    reason: str
    action: str
    """The plan action the step carries out (``quarantine``, ``fix-magic``, ...)."""
    new_sha256: str = ""
    """For ``rewritten`` and ``created``: the bytes the step writes."""

    def manifest_entry(self, time: str) -> dict[str, Any]:
        entry = {"name": self.name, "action": self.op, "stored_as": self.stored_as,
                 "sha256": self.sha256, "size": self.size, "mode": self.mode,
                 "mtime_ns": self.mtime_ns, "code": self.code, "reason": self.reason,
                 "time": time, "step": self.step, "plan_action": self.action,
                 "new_sha256": self.new_sha256}
        if self.op == RENAMED:
            entry["now"] = self.stored_as
        return entry


def _step_of_manifest(number: int, entry: dict[str, Any]) -> Step:
    """A step of a version-1 manifest (written before the journal existed)."""
    def text(key: str) -> str:
        value = entry.get(key, "")
        return value if isinstance(value, str) else ""

    def integer(key: str) -> int:
        value = entry.get(key, 0)
        return value if isinstance(value, int) else 0

    return Step(number, text("action"), text("name"), text("stored_as"), text("sha256"),
                integer("size"), integer("mode"), integer("mtime_ns"), text("code"),
                text("reason"), text("action"), text("new_sha256"))


@dataclass
class SessionRecord:
    """What a session folder's journal (or, for an old session, its manifest) says."""

    name: str
    folder: Path
    command: str = ""
    steps: dict[int, Step] = field(default_factory=dict)
    done: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    ended: bool = False
    settled: bool = False
    restores: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.ended or self.settled

    @property
    def restored_steps(self) -> set[int]:
        return {n for record in self.restores for n in record.get("steps", [])
                if isinstance(n, int)}

    @property
    def state(self) -> str:
        if self.restores and not set(self.done) - self.restored_steps:
            return "restored"
        if self.restores:
            return "partly restored"
        if self.ended:
            return "complete" if len(self.done) == len(self.steps) else "stopped early"
        return "interrupted" if self.settled else "interrupted (not settled yet)"

    def summary(self) -> dict[str, Any]:
        return {"session": self.name, "command": self.command, "state": self.state,
                "steps": len(self.steps), "done": len(self.done), "failed": len(self.failed),
                "restored": self.restores[-1].get("time") if self.restores else None}


def _journal_lines(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_bytes().decode("utf-8", "replace")
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):  # an append cut short by a crash: never acted upon
                return
            raise InputError(f"{path}: line {number} is not JSON; the journal is damaged, "
                             "restore by hand from manifest.json or the kept files") from None
        if isinstance(record, dict):
            yield record


def read_session(store: Path, name: str) -> SessionRecord | None:
    """The session's record, or None when its folder has neither journal nor manifest."""
    folder = store / QUARANTINE_DIR / name
    journal, manifest = folder / JOURNAL_NAME, folder / MANIFEST_NAME
    session = SessionRecord(name, folder)
    has_journal = journal.is_file()
    if has_journal:
        for record in _journal_lines(journal):
            _apply_record(session, record)
    if not session.steps and manifest.is_file():
        entries = _load_manifest(manifest)
        session.steps = {n: _step_of_manifest(n, e) for n, e in enumerate(entries)}
        session.done = {n: {} for n in session.steps}
        session.ended = True
    elif not has_journal:
        return None
    return session


def _apply_record(session: SessionRecord, record: dict[str, Any]) -> None:
    kind, number = record.get("record"), record.get("step")
    if kind == "begin":
        session.command = str(record.get("command", ""))
    elif kind == "intent" and isinstance(number, int):
        fields = {key: record[key] for key in Step.__slots__ if key in record}
        try:
            session.steps[number] = Step(**fields)
        except TypeError:
            raise InputError(f"{session.folder / JOURNAL_NAME}: step {number} lacks fields "
                             "(written by another tool?)") from None
    elif kind == "done" and isinstance(number, int):
        session.done[number] = record
    elif kind == "failed" and isinstance(number, int):
        session.failed[number] = str(record.get("error", ""))
    elif kind == "end":
        session.ended = True
    elif kind == "settled":
        session.settled = True
    elif kind == "restored":
        session.restores.append(record)


def _load_manifest(manifest: Path) -> list[dict[str, Any]]:
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read quarantine manifest {manifest}: {exc}") from None
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{manifest} has no 'entries' list")
    return [entry for entry in entries if isinstance(entry, dict)]


def _encode(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(record, sort_keys=True).encode() + b"\n" for record in records)


def _append(journal: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append whole lines and fsync: a crash leaves at most a cut last line, ignored."""
    fd = fsops.open_append(journal)
    try:
        fsops.write_all(fd, _encode(records), journal)
        fsops.fsync(fd, journal)
    finally:
        os.close(fd)


def _write_manifest(store: Path, session: SessionRecord) -> None:
    done = [session.steps[n].manifest_entry(str(session.done[n].get("time", "")))
            for n in sorted(session.done) if n in session.steps]
    document = {
        "manifest_version": MANIFEST_VERSION,
        "store": os.path.abspath(store),
        "command": session.command,
        "state": session.state,
        "restore": f"dashfix repair {os.path.abspath(store)} --restore {session.name}",
        "entries": done,
        "failed": [{"step": n, "name": session.steps[n].name, "error": error}
                   for n, error in sorted(session.failed.items()) if n in session.steps],
    }
    atomic_write_bytes(session.folder / MANIFEST_NAME,
                       json.dumps(document, indent=2).encode() + b"\n")


class QuarantineSession:
    """One writing run's session folder and journal, created when the first step is planned.

    ``plan`` describes a step (nothing changes yet), ``commit`` writes the planned steps to the
    journal before any of them runs, then ``move``/``rewrite``/``rename``/``create`` carry one
    out and record it done. ``finish`` ends the session and writes ``manifest.json``.
    """

    def __init__(self, store: Path, stamp: str | None = None, *, command: str = "repair") -> None:
        self.store = store
        base = store / QUARANTINE_DIR
        stamp = stamp or utc_stamp()
        folder = base / stamp
        counter = 1
        while folder.exists() or folder.is_symlink():
            folder = base / f"{stamp}-{counter}"
            counter += 1
        self.folder = folder
        self.record = SessionRecord(folder.name, folder, command)
        self._pending: list[Step] = []
        self._slots: set[str] = set()
        self._started = False
        self._running: Step | None = None

    @property
    def journal_path(self) -> Path:
        return self.folder / JOURNAL_NAME

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @property
    def started(self) -> bool:
        """Whether the session folder and journal exist (some step was committed)."""
        return self._started

    def slot(self, name: str) -> str:
        """A free name for ``name``'s original bytes in the session folder (store-relative)."""
        candidate, counter = name, 1
        while candidate in self._slots or candidate in (JOURNAL_NAME, MANIFEST_NAME):
            candidate = f"{name}.{counter}"
            counter += 1
        self._slots.add(candidate)
        return (self.folder / candidate).relative_to(self.store).as_posix()

    def plan(self, op: str, name: str, *, code: str, reason: str, action: str,
             stored_as: str | None = None, new_data: bytes | None = None) -> Step:
        """Describe one step; ``stored_as`` defaults to a slot in the session folder."""
        assert op in _OPERATIONS, op
        path = self.store / name
        try:
            info: os.stat_result | None = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is None and op != CREATED:
            raise InputError(f"{path} disappeared since the plan was made")
        regular = info is not None and stat.S_ISREG(info.st_mode)
        step = Step(
            step=len(self.record.steps) + len(self._pending), op=op, name=name,
            stored_as=stored_as if stored_as is not None else self.slot(name),
            sha256=sha256_of(path) if regular else "",
            size=info.st_size if regular and info is not None else 0,
            mode=stat.S_IMODE(info.st_mode) if info is not None else 0o644,
            mtime_ns=info.st_mtime_ns if info is not None else 0,
            code=code, reason=reason, action=action,
            new_sha256="" if new_data is None else hashlib.sha256(new_data).hexdigest(),
        )
        self._pending.append(step)
        return step

    def commit(self) -> None:
        """Write the planned steps to the journal (fsynced, and the folder) before any runs."""
        if not self._pending:
            return
        intents = [{"record": "intent", **asdict(step)} for step in self._pending]
        if not self._started:
            base = self.folder.parent
            if not base.is_dir():
                fsops.mkdir(base)
                fsync_dir(self.store)
            fsops.mkdir(self.folder)
            fsync_dir(base)
            begin = {"record": "begin", "journal_version": JOURNAL_VERSION,
                     "command": self.record.command, "store": os.path.abspath(self.store),
                     "time": utc_stamp()}
            atomic_write_bytes(self.journal_path, _encode([begin, *intents]))
            self._started = True
        else:
            _append(self.journal_path, intents)
        for step in self._pending:
            self.record.steps[step.step] = step
        self._pending.clear()

    def _done(self, step: Step, **details: Any) -> None:
        record = {"record": "done", "step": step.step, "time": utc_stamp(), **details}
        _append(self.journal_path, [record])
        self.record.done[step.step] = record
        self._running = None

    def failed(self, step: Step, error: str) -> None:
        _append(self.journal_path, [{"record": "failed", "step": step.step, "error": error}])
        self.record.failed[step.step] = error
        self._running = None

    def abandon(self, error: str) -> None:
        """End a session that stops on a write error: the step under way failed, the
        steps not started are left as intents. Best effort: on a full or read-only disk
        this fails too, and the next run settles the session from the files instead."""
        if not self._started:
            return
        try:
            if self._running is not None:
                running = self._running
                if _found_done(self.store, running):
                    self._done(running, found=True)
                else:
                    self.failed(running, error)
            self.finish()
        except OSError:
            pass

    def move(self, step: Step) -> None:
        """Move a store entry (a file, or a folder named like a checkpoint) into the session
        folder. ``rename`` keeps bytes, mode and mtime and never copies: the quarantine is
        inside the store, on the same filesystem."""
        self._running = step
        source, slot = self.store / step.name, self.store / step.stored_as
        fsops.rename(source, slot)
        fsync_dir(self.store)
        fsync_dir(slot.parent)
        self._done(step)

    def rewrite(self, step: Step, new_content: Callable[[bytes], bytes], *,
                keep_times: bool) -> None:
        """Keep the original bytes at ``stored_as`` (same mode and times), then replace the
        file with ``new_content(original)``, keeping its mode, and its times if
        ``keep_times``. Refuses a file that changed since the step was planned."""
        self._running = step
        path = self.store / step.name
        info = os.stat(path, follow_symlinks=False)
        original = path.read_bytes()
        if hashlib.sha256(original).hexdigest() != step.sha256:
            raise InputError(f"{step.name} changed since the plan was made; not touched")
        data = new_content(original)
        times = (info.st_atime_ns, info.st_mtime_ns)
        atomic_write_bytes(self.store / step.stored_as, original, mode=step.mode, times_ns=times)
        atomic_write_bytes(path, data, mode=step.mode, times_ns=times if keep_times else None)
        self._done(step)

    def create(self, step: Step, data: bytes) -> None:
        self._running = step
        atomic_write_bytes(self.store / step.name, data, mode=0o644)
        self._done(step)

    def rename(self, step: Step) -> None:
        """Rename inside the store by link + unlink, which never replaces a file that
        appeared meanwhile (DashFlow writes checkpoint files without taking the lock)."""
        self._running = step
        source, target = self.store / step.name, self.store / step.stored_as
        fsops.link(source, target)
        fsops.unlink(source)
        fsync_dir(self.store)
        self._done(step)

    def finish(self) -> None:
        if not self._started:
            return
        _append(self.journal_path, [{"record": "end", "time": utc_stamp()}])
        self.record.ended = True
        _write_manifest(self.store, self.record)


# -- after a crash ---------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samestat(os.stat(a, follow_symlinks=False),
                                os.stat(b, follow_symlinks=False))
    except FileNotFoundError:
        return False


def _found_done(store: Path, step: Step) -> bool:
    """Whether a step the journal does not call done happened before the crash, judged by
    the files; a promote cut between its link and unlink is finished here."""
    name, stored = store / step.name, store / step.stored_as
    if step.op == MOVED:
        return os.path.lexists(stored)
    if step.op in (REWRITTEN, CREATED):
        return bool(step.new_sha256) and _regular_sha(name) == step.new_sha256
    if step.op == RENAMED:
        if _same_file(name, stored):
            fsops.unlink(name)
            fsync_dir(store)
        return os.path.lexists(stored) and not os.path.lexists(name)
    return False


def settle(store: Path, session: SessionRecord) -> None:
    """Finish the bookkeeping of a session whose run was killed: record which steps
    happened, mark it settled and write its manifest. The caller holds the store lock."""
    found = [step for n, step in sorted(session.steps.items())
             if n not in session.done and n not in session.failed and _found_done(store, step)]
    now = utc_stamp()
    done: dict[int, dict[str, Any]] = {
        step.step: {"record": "done", "step": step.step, "time": now, "found": True}
        for step in found}
    _append(session.folder / JOURNAL_NAME, [*done.values(), {"record": "settled", "time": now}])
    session.done.update(done)
    session.settled = True
    _write_manifest(store, session)


def _session_names(store: Path) -> list[str]:
    base = store / QUARANTINE_DIR
    if base.is_symlink() or not base.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(base)
                  if entry.is_dir(follow_symlinks=False))


def _temp_files(folder: Path, names: Iterable[str] | None = None) -> list[str]:
    """The regular files of ``folder`` named like dashfix temps, in listing order (of
    ``names`` when the caller listed the folder). A store holds up to millions of names and
    rarely a temp: the names are listed bare and only a temp's name is stat-ed."""
    found = []
    for name in os.listdir(folder) if names is None else names:
        if name[-len(TEMP_SUFFIX):] == TEMP_SUFFIX and is_temp_name(name):
            try:
                if stat.S_ISREG(os.lstat(folder / name).st_mode):
                    found.append(name)
            except FileNotFoundError:
                pass  # gone since the listing
    return found


def tidy(store: Path, store_temps: Iterable[str] | None = None) -> list[str]:
    """Clean up after dashfix runs that were killed: remove their temp files (copies of
    bytes that exist elsewhere), settle their sessions and remove session folders left
    empty. Returns what was done; a store with nothing to clean is not touched (not even
    probed). The caller holds the store lock; ``store_temps`` are the temps of a listing
    of the store folder it made under that lock (it is not listed again)."""
    base = store / QUARANTINE_DIR
    names = _session_names(store)
    folders = [base] if names else []
    folders += [base / name for name in names]
    temps = {store: _temp_files(store, store_temps)}
    temps.update((folder, _temp_files(folder)) for folder in folders)
    notes: list[str] = []
    sessions: dict[str, SessionRecord | None] = {}
    for name in names:
        try:
            sessions[name] = read_session(store, name)
        except InputError as exc:
            notes.append(f"left session {name} alone: {exc}")
    unsettled = [s for s in sessions.values() if s is not None and not s.finished]
    # Killed while writing the manifest of a session that had ended.
    unlisted = [s for s in sessions.values() if s is not None and s.finished
                and not (s.folder / MANIFEST_NAME).is_file()]
    empty = [name for name, s in sessions.items() if s is None]
    if not (any(temps.values()) or unsettled or unlisted or empty):
        return notes
    check_can_write(store)
    for folder, removed in temps.items():
        for name in removed:
            fsops.unlink(folder / name)
        if removed:
            fsync_dir(folder)
            where = folder.relative_to(store).as_posix()
            notes.append(f"removed {len(removed)} temp file(s) of an interrupted dashfix run "
                         f"from {where if where != '.' else 'the store'}")
    for session in unsettled:
        settle(store, session)
        notes.append(f"settled the interrupted session {session.name}: {len(session.done)} of "
                     f"{len(session.steps)} step(s) had happened (undo: --restore "
                     f"{session.name})")
    for session in unlisted:
        _write_manifest(store, session)
    for name in empty:
        if not any((base / name).iterdir()):
            fsops.rmdir(base / name)
            fsync_dir(base)
            notes.append(f"removed the empty session folder {name} of a run killed before "
                         "it changed anything")
    return notes


# -- restore -------------------------------------------------------------------------------


@dataclass
class RestoreOutcome:
    session: str
    restored: list[str]
    skipped: list[str]
    already_restored: str | None = None
    """When every step was undone by an earlier restore: that restore's time."""
    notes: list[str] = field(default_factory=list)
    """Clean-up done first (leftovers of killed runs, settling this session)."""


def list_sessions(store: Path) -> list[dict[str, Any]]:
    sessions = (read_session(store, name) for name in _session_names(store))
    return [session.summary() for session in sessions if session is not None]


def _undo(store: Path, session: SessionRecord, step: Step) -> str | None:
    """Put one done step back; None when done (or found already undone), else why not."""
    name, stored = store / step.name, store / step.stored_as
    sha = str(session.done.get(step.step, {}).get("sha256") or step.sha256)
    if step.op == MOVED:
        if not os.path.lexists(stored):
            back = os.path.lexists(name) and (not sha or _regular_sha(name) == sha)
            return None if back else f"kept copy {stored} is gone"
        if os.path.lexists(name):
            return "a file of that name is back in the store"
        if sha and _regular_sha(stored) != sha:
            return f"{stored} no longer matches its sha256"
        fsops.rename(stored, name)
    elif step.op == RENAMED:
        if _same_file(name, stored):  # an undo cut between link and unlink
            fsops.unlink(stored)
        elif not os.path.lexists(stored):
            return None if os.path.lexists(name) else f"{stored} is gone"
        elif os.path.lexists(name):
            return "a file of that name is back in the store"
        elif sha and _regular_sha(stored) != sha:
            return f"{stored} no longer matches its sha256"
        else:
            fsops.link(stored, name)
            fsops.unlink(stored)
    elif step.op == REWRITTEN:
        current = _regular_sha(name)
        if sha and current == sha:
            return None
        if step.new_sha256 and current != step.new_sha256:
            return f"{name} changed since the repair; not overwritten"
        if not stored.is_file() or stored.is_symlink():
            return f"kept copy {stored} is gone"
        if sha and sha256_of(stored) != sha:
            return f"{stored} no longer matches its sha256"
        atomic_write_bytes(name, stored.read_bytes(), mode=step.mode,
                           times_ns=(step.mtime_ns, step.mtime_ns) if step.mtime_ns else None)
    elif step.op == CREATED:
        current = _regular_sha(name)
        if current is None:
            return None
        if current != step.new_sha256:
            return f"{name} changed since the repair; not moved away"
        if os.path.lexists(stored):
            return f"{stored} exists; {name} not moved there"
        # Nothing is deleted: the file the session created goes to its slot in the session.
        fsops.rename(name, stored)
    else:
        return f"unknown action {step.op!r}"
    return None


def check_session_name(store: Path, name: str) -> None:
    if "/" in name or name in ("", ".", "..") or "\0" in name:
        raise UsageError(f"{name!r} is not a session name (see --restore list)")
    folder = store / QUARANTINE_DIR / name
    if folder.is_symlink() or not folder.is_dir():
        known = ", ".join(_session_names(store)) or "none"
        raise UsageError(f"no repair session {name!r} in {store / QUARANTINE_DIR} "
                         f"(sessions: {known}; see --restore list)")


def restore_session(store: Path, name: str) -> RestoreOutcome:
    """Undo one session's done steps, newest first. The caller holds the store lock.

    A file is put back only if its kept bytes still match the recorded sha256, a moved file
    never overwrites a file that has since appeared under its name, and a rewritten file is
    only given back its old bytes if it still holds the ones the session wrote. A restore
    cut short by a crash can be run again: every step checks what is on disk first.
    """
    check_session_name(store, name)
    session = read_session(store, name)
    if session is None:
        raise UsageError(f"{store / QUARANTINE_DIR / name} holds no journal or manifest: "
                         "not a repair session")
    notes: list[str] = []
    if not session.finished:
        settle(store, session)
        notes.append(f"settled the interrupted session {name} first")
    already = session.restored_steps
    todo = [n for n in sorted(session.done, reverse=True) if n not in already
            and n in session.steps]
    if session.restores and not todo:
        return RestoreOutcome(name, [], [], str(session.restores[-1].get("time", "")), notes)
    restored: list[str] = []
    skipped: list[str] = []
    undone: list[int] = []
    for number in todo:
        step = session.steps[number]
        if "/" in step.name or step.name in ("", ".", ".."):
            skipped.append(f"{step.name!r}: not a plain file name")
            continue
        stored_as = Path(step.stored_as)
        if stored_as.is_absolute() or ".." in stored_as.parts or not stored_as.parts:
            skipped.append(f"{step.name}: stored_as {step.stored_as!r} leaves the store")
            continue
        why_not = _undo(store, session, step)
        if why_not is None:
            restored.append(step.name)
            undone.append(number)
        else:
            skipped.append(f"{step.name}: {why_not}")
    fsync_dir(store)
    record = {"record": "restored", "time": utc_stamp(), "steps": undone, "skipped": skipped}
    journal = session.folder / JOURNAL_NAME
    if journal.is_file():
        _append(journal, [record])
    else:  # a session of an older dashfix: its journal starts here
        atomic_write_bytes(journal, _encode([record]))
    return RestoreOutcome(name, restored, skipped, None, notes)
