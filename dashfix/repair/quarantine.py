"""Quarantine: files a repair takes out of the store or rewrites, kept so all can be undone.

Each ``dashfix repair --apply`` run gets one session folder
``<store>/.dashfix-quarantine/<UTC stamp>/`` with a ``manifest.json``. DashFlow only reads the
store's top level, and the folder name has no ``.bin`` in it, so nothing inside is ever
listed, loaded or deleted by DashFlow. Nothing is deleted by dashfix either: every entry
records where the original bytes are now and their sha256, and ``restore`` puts them back.

Manifest entry actions:

- ``moved``: the file was moved out of the store into the session folder;
- ``rewritten``: the file was rewritten in place; ``stored_as`` holds the original bytes;
- ``renamed``: the file was renamed inside the store (``now`` is its new name);
- ``created``: the repair wrote a file where there was none (an ``index.bin`` written after
  an odd entry of that name was moved aside); ``stored_as`` is where ``restore`` moves it, so
  that the moved entry can come back and nothing is deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dashfix.errors import InputError
from dashfix.repair.atomic import atomic_write_bytes, fsync_dir
from dashfix.repair.backup import utc_stamp

QUARANTINE_DIR = ".dashfix-quarantine"
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    name: str
    """The file's name in the store before the repair."""
    action: str
    stored_as: str
    """Where the original bytes are now, relative to the store."""
    sha256: str
    size: int
    mode: int
    mtime_ns: int
    code: str
    """The finding code (or repair step) that caused the action."""
    reason: str
    time: str
    now: str | None = None
    """For ``renamed``: the file's new name in the store."""


class QuarantineSession:
    """One repair run's quarantine folder and manifest, created on first use."""

    def __init__(self, store: Path, stamp: str | None = None) -> None:
        self.store = store
        base = store / QUARANTINE_DIR
        stamp = stamp or utc_stamp()
        folder = base / stamp
        counter = 1
        while folder.exists():
            folder = base / f"{stamp}-{counter}"
            counter += 1
        self.folder = folder
        self.entries: list[ManifestEntry] = []

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.store).as_posix()

    def _ensure_folder(self) -> None:
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            fsync_dir(self.folder.parent)
            fsync_dir(self.store)

    def _slot(self, name: str) -> Path:
        slot = self.folder / name
        counter = 1
        while slot.exists() or slot.is_symlink():
            slot = self.folder / f"{name}.{counter}"
            counter += 1
        return slot

    def _record(self, source: Path, action: str, stored: Path, code: str, reason: str,
                now: str | None = None) -> ManifestEntry:
        info = os.stat(stored, follow_symlinks=False)
        entry = ManifestEntry(
            name=source.name, action=action, stored_as=self._rel(stored), sha256=sha256_of(stored),
            size=info.st_size, mode=info.st_mode & 0o7777, mtime_ns=info.st_mtime_ns, code=code,
            reason=reason, time=utc_stamp(), now=now,
        )
        self.entries.append(entry)
        self._write_manifest()
        return entry

    def _write_manifest(self) -> None:
        document = {
            "manifest_version": MANIFEST_VERSION,
            "store": os.path.abspath(self.store),
            "restore": f"dashfix repair {os.path.abspath(self.store)} --restore {self.folder.name}",
            "entries": [asdict(entry) for entry in self.entries],
        }
        atomic_write_bytes(self.manifest_path, json.dumps(document, indent=2).encode() + b"\n")

    def move(self, path: Path, code: str, reason: str) -> ManifestEntry:
        """Move ``path`` (a store entry: file, or folder named ``*.bin``) into quarantine."""
        self._ensure_folder()
        slot = self._slot(path.name)
        # rename keeps the bytes, mode and mtime; the store and the quarantine are one
        # filesystem, so this is atomic and never copies.
        os.rename(path, slot)
        fsync_dir(self.store)
        fsync_dir(self.folder)
        if not stat.S_ISREG(os.lstat(slot).st_mode):
            return self._record_unhashed(path, slot, code, reason)
        return self._record(path, "moved", slot, code, reason)

    def _record_unhashed(self, source: Path, slot: Path, code: str, reason: str) -> ManifestEntry:
        # A folder, symlink, FIFO, socket or device: moved as a whole, nothing to hash (and
        # never opened: opening a FIFO waits for a writer).
        info = os.stat(slot, follow_symlinks=False)
        entry = ManifestEntry(
            name=source.name, action="moved", stored_as=self._rel(slot), sha256="",
            size=0, mode=info.st_mode & 0o7777, mtime_ns=info.st_mtime_ns, code=code,
            reason=reason, time=utc_stamp(),
        )
        self.entries.append(entry)
        self._write_manifest()
        return entry

    def keep_original(self, path: Path, code: str, reason: str) -> ManifestEntry:
        """Copy ``path`` into quarantine before the caller rewrites it in place."""
        self._ensure_folder()
        slot = self._slot(path.name)
        shutil.copy2(path, slot, follow_symlinks=False)
        with open(slot, "rb+") as handle:
            os.fsync(handle.fileno())
        fsync_dir(self.folder)
        return self._record(path, "rewritten", slot, code, reason)

    def record_backup(self, original: Path, backup: Path, code: str,
                      reason: str) -> ManifestEntry:
        """Note a backup made elsewhere in the store (the index backup) in this manifest."""
        self._ensure_folder()
        return self._record(original, "rewritten", backup, code, reason)

    def record_created(self, path: Path, code: str, reason: str) -> ManifestEntry:
        """Note a file the repair wrote where there was none, so ``restore`` moves it aside."""
        self._ensure_folder()
        info = os.stat(path, follow_symlinks=False)
        entry = ManifestEntry(
            name=path.name, action="created", stored_as=self._rel(self._slot(path.name)),
            sha256=sha256_of(path), size=info.st_size, mode=info.st_mode & 0o7777,
            mtime_ns=info.st_mtime_ns, code=code, reason=reason, time=utc_stamp(),
        )
        self.entries.append(entry)
        self._write_manifest()
        return entry

    def record_rename(self, old: Path, new: Path, code: str, reason: str) -> ManifestEntry:
        """Note a rename inside the store (a promoted temp) so it can be undone."""
        self._ensure_folder()
        return self._record(old, "renamed", new, code, reason, now=new.name)


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    restored: list[str]
    skipped: list[str]


def _load_manifest(folder: Path) -> list[dict[str, Any]]:
    manifest = folder / MANIFEST_NAME
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read quarantine manifest {manifest}: {exc}") from None
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{manifest} has no 'entries' list")
    return [entry for entry in entries if isinstance(entry, dict)]


def list_sessions(store: Path) -> list[str]:
    base = store / QUARANTINE_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / MANIFEST_NAME).is_file())


def restore_session(store: Path, session: str) -> RestoreOutcome:
    """Undo one repair session, newest action first. The caller holds the store lock.

    A file is put back only if its kept bytes still match the manifest's sha256, and a
    moved file never overwrites a file that has since appeared under its name.
    """
    folder = store / QUARANTINE_DIR / session
    if not folder.is_dir() or "/" in session or session in ("", ".", ".."):
        raise InputError(f"no quarantine session {session!r} in {store / QUARANTINE_DIR}")
    restored: list[str] = []
    skipped: list[str] = []
    for entry in reversed(_load_manifest(folder)):
        name, action = str(entry.get("name", "")), entry.get("action")
        stored_as = Path(str(entry.get("stored_as", "")))
        stored, target = store / stored_as, store / name
        if not name or "/" in name or name in (".", ".."):
            skipped.append(f"{name!r}: not a plain file name")
            continue
        if stored_as.is_absolute() or ".." in stored_as.parts or not stored_as.parts:
            skipped.append(f"{name}: stored_as {str(stored_as)!r} leaves the store")
            continue
        if action == "created":
            _undo_created(entry, target, stored, restored, skipped)
            continue
        if not (stored.exists() or stored.is_symlink()):
            skipped.append(f"{name}: kept copy {stored} is gone")
            continue
        hashed = entry.get("sha256") and stored.is_file() and not stored.is_symlink()
        if hashed and sha256_of(stored) != entry["sha256"]:
            skipped.append(f"{name}: {stored} no longer matches its sha256")
            continue
        if action in ("moved", "renamed"):
            if target.exists() or target.is_symlink():
                skipped.append(f"{name}: a file of that name is back in the store")
                continue
            os.rename(stored, target)
        elif action == "rewritten":
            data = stored.read_bytes()
            atomic_write_bytes(target, data, mode=int(entry.get("mode", 0o644)))
            if isinstance(entry.get("mtime_ns"), int):
                os.utime(target, ns=(entry["mtime_ns"], entry["mtime_ns"]))
        else:
            skipped.append(f"{name}: unknown action {action!r}")
            continue
        restored.append(name)
    fsync_dir(store)
    return RestoreOutcome(restored, skipped)


def _undo_created(entry: dict[str, Any], target: Path, stored: Path, restored: list[str],
                  skipped: list[str]) -> None:
    """Move a file the repair created into the session folder (never delete it), unless it
    changed since."""
    name = target.name
    if not target.is_file() or target.is_symlink():
        skipped.append(f"{name}: the {name} this repair wrote is gone; nothing to move aside")
    elif sha256_of(target) != entry.get("sha256"):
        skipped.append(f"{name}: changed since this repair wrote it; left in place")
    elif stored.exists() or stored.is_symlink():
        skipped.append(f"{name}: {stored} is taken; {name} left in place")
    else:
        os.rename(target, stored)
        restored.append(f"{name} (the one this repair wrote, moved to {stored.name})")
