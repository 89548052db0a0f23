"""Walk the PATHs given to ``verify`` and find the targets under them.

Read-only and confined: symlinks are never followed, so nothing outside a scanned
root is ever opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dashfix.findings import Finding
from dashfix.inputs import HEAD_BYTES, InputKind, Skipped, Target
from dashfix.rules.general import SYMLINK_NOT_FOLLOWED, UNREADABLE_PATH


@dataclass
class Discovery:
    targets: list[Target] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _child(rel: str, name: str) -> str:
    """The relative path of ``name`` inside the folder at ``rel`` (``.`` for the root)."""
    return name if rel == "." else f"{rel}/{name}"


_HEAD_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
NOT_A_FILE = "not a regular file or folder"


def _read_head(path: Path) -> bytes | None:
    """The first bytes of ``path``; None when it is no longer a regular file (replaced by a
    FIFO since it was listed: O_NONBLOCK, so opening one never waits for a writer)."""
    fd = os.open(path, _HEAD_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, HEAD_BYTES)
    finally:
        os.close(fd)


def _sniff(path: Path, rel: str, root: Path, kinds: Sequence[InputKind], out: Discovery) -> None:
    sniffers = [kind for kind in kinds if kind.sniff_file is not None]
    try:
        head = _read_head(path)
    except OSError as exc:
        out.findings.append(UNREADABLE_PATH.at(rel, f"cannot read file: {exc.strerror or exc}"))
        return
    if head is None:
        out.skipped.append(Skipped(rel, NOT_A_FILE))
        return
    for kind in sniffers:
        assert kind.sniff_file is not None
        input_format = kind.sniff_file(path, head)
        if input_format is not None:
            out.targets.append(Target(kind.name, path, rel, root, input_format))
            return
    out.skipped.append(Skipped(rel, _unrecognised(path)))


_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def _unrecognised(path: Path) -> str:
    """Why a file is skipped: a SQLite database's sidecar is read with its database."""
    for suffix in _SQLITE_SIDECARS:
        if path.name.endswith(suffix) and path.with_name(path.name[: -len(suffix)]).is_file():
            return f"SQLite {suffix[1:]} file of {path.name[: -len(suffix)]} (read with it)"
    return "not a recognised store, log or dump"


def _claiming_kind(path: Path, kinds: Sequence[InputKind]) -> InputKind | None:
    for kind in kinds:
        if kind.claims_dir is not None and kind.claims_dir(path):
            return kind
    return None


def _walk_dir(directory: Path, rel: str, root: Path, kinds: Sequence[InputKind],
              out: Discovery) -> None:
    """Discover under ``directory`` (``rel`` from ``root``), depth first in name order. A
    stack of listings, not recursion: a tree thousands of folders deep is a folder like any
    other. Relative paths are built as strings: a folder of 10,000 unclaimed entries made a
    Path and ``relative_to`` costly."""
    stack: list[Iterator[os.DirEntry[str]]] = []
    rels: list[str] = []
    _enter(directory, rel, root, kinds, out, stack, rels)
    while stack:
        for entry in stack[-1]:
            entry_rel = _child(rels[-1], entry.name)
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:
                out.findings.append(
                    UNREADABLE_PATH.at(entry_rel, f"cannot stat: {exc.strerror or exc}")
                )
                continue
            if stat.S_ISLNK(mode):
                _symlink(entry.path, entry_rel, out)
            elif stat.S_ISDIR(mode):
                if _enter(Path(entry.path), entry_rel, root, kinds, out, stack, rels):
                    break  # its entries first; this listing resumes after them
            elif stat.S_ISREG(mode):
                _sniff(Path(entry.path), entry_rel, root, kinds, out)
            else:
                out.skipped.append(Skipped(entry_rel, NOT_A_FILE))
        else:
            stack.pop()
            rels.pop()


def _enter(directory: Path, rel: str, root: Path, kinds: Sequence[InputKind], out: Discovery,
           stack: list[Iterator[os.DirEntry[str]]], rels: list[str]) -> bool:
    """A folder claimed by a kind is a target; any other's sorted listing goes on the
    stack (True), unless it cannot be listed (a finding)."""
    claimer = _claiming_kind(directory, kinds)
    if claimer is not None:
        out.targets.append(Target(claimer.name, directory, rel, root))
        return False
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        out.findings.append(UNREADABLE_PATH.at(rel, f"cannot list folder: {exc.strerror or exc}"))
        return False
    stack.append(iter(entries))
    rels.append(rel)
    return True


def _symlink(path: str, rel: str, out: Discovery) -> None:
    try:
        destination = os.readlink(path)
    except OSError as exc:  # replaced or removed since it was listed
        out.findings.append(UNREADABLE_PATH.at(rel, f"cannot read link: {exc.strerror or exc}"))
        return
    out.findings.append(SYMLINK_NOT_FOLLOWED.at(
        rel, f"symlink to {destination!r} was not followed", actual=destination))


def discover(paths: Sequence[Path], kinds: Sequence[InputKind]) -> Iterator[tuple[Path, Discovery]]:
    """Yield ``(root, discovery)`` for each PATH, in the order given."""
    for given in paths:
        out = Discovery()
        try:
            mode = os.stat(given, follow_symlinks=False).st_mode
        except OSError as exc:
            # "." is the PATH itself: verify puts the PATH before it.
            out.findings.append(
                UNREADABLE_PATH.at(".", f"cannot read {str(given)!r}: {exc.strerror or exc}")
            )
            yield given, out
            continue
        absolute = Path(os.path.abspath(given))
        if stat.S_ISDIR(mode):
            _walk_dir(absolute, ".", absolute, kinds, out)
            yield absolute, out
        elif stat.S_ISREG(mode):
            _sniff(absolute, absolute.name, absolute.parent, kinds, out)
            yield absolute.parent, out
        elif stat.S_ISLNK(mode):
            # A PATH the user typed is followed once: they named it, so it is the root.
            # What it names is checked as a PATH given directly would be: a FIFO, socket
            # or device is skipped, never opened (a FIFO would block until a writer came).
            resolved = Path(os.path.realpath(given))
            if resolved.is_dir():
                _walk_dir(resolved, ".", resolved, kinds, out)
                yield resolved, out
            elif resolved.is_file() or not resolved.exists():  # dangling: _sniff says so
                _sniff(resolved, resolved.name, resolved.parent, kinds, out)
                yield resolved.parent, out
            else:
                out.skipped.append(Skipped(".", NOT_A_FILE))
                yield resolved, out
        else:
            out.skipped.append(Skipped(".", NOT_A_FILE))
            yield absolute, out
