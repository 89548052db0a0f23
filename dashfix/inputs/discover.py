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


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def _sniff(path: Path, rel: str, root: Path, kinds: Sequence[InputKind], out: Discovery) -> None:
    sniffers = [kind for kind in kinds if kind.sniff_file is not None]
    try:
        head = _read_head(path)
    except OSError as exc:
        out.findings.append(UNREADABLE_PATH.at(rel, f"cannot read file: {exc.strerror or exc}"))
        return
    for kind in sniffers:
        assert kind.sniff_file is not None
        input_format = kind.sniff_file(path, head)
        if input_format is not None:
            out.targets.append(Target(kind.name, path, rel, root, input_format))
            return
    out.skipped.append(Skipped(rel, "not a recognised store, log or dump"))


def _claiming_kind(path: Path, kinds: Sequence[InputKind]) -> InputKind | None:
    for kind in kinds:
        if kind.claims_dir is not None and kind.claims_dir(path):
            return kind
    return None


def _walk_dir(directory: Path, rel: str, root: Path, kinds: Sequence[InputKind],
              out: Discovery) -> None:
    """Discover under ``directory`` (``rel`` from ``root``). Relative paths are built as
    strings: a folder of 10,000 unclaimed entries made a Path and ``relative_to`` costly."""
    claimer = _claiming_kind(directory, kinds)
    if claimer is not None:
        out.targets.append(Target(claimer.name, directory, rel, root))
        return
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        out.findings.append(UNREADABLE_PATH.at(rel, f"cannot list folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        entry_rel = _child(rel, entry.name)
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
            _walk_dir(Path(entry.path), entry_rel, root, kinds, out)
        elif stat.S_ISREG(mode):
            _sniff(Path(entry.path), entry_rel, root, kinds, out)
        else:
            out.skipped.append(Skipped(entry_rel, "not a regular file or folder"))


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
            resolved = Path(os.path.realpath(given))
            if resolved.is_dir():
                _walk_dir(resolved, ".", resolved, kinds, out)
                yield resolved, out
            else:
                _sniff(resolved, resolved.name, resolved.parent, kinds, out)
                yield resolved.parent, out
        else:
            out.skipped.append(Skipped(".", "not a regular file or folder"))
            yield absolute, out
