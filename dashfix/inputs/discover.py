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


def _rel(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel or "."


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def _sniff(path: Path, root: Path, kinds: Sequence[InputKind], out: Discovery) -> None:
    sniffers = [kind for kind in kinds if kind.sniff_file is not None]
    try:
        head = _read_head(path)
    except OSError as exc:
        out.findings.append(
            UNREADABLE_PATH.at(_rel(path, root), f"cannot read file: {exc.strerror or exc}")
        )
        return
    for kind in sniffers:
        assert kind.sniff_file is not None
        input_format = kind.sniff_file(path, head)
        if input_format is not None:
            out.targets.append(Target(kind.name, path, _rel(path, root), root, input_format))
            return
    out.skipped.append(Skipped(_rel(path, root), "not a recognised store, log or dump"))


def _claiming_kind(path: Path, kinds: Sequence[InputKind]) -> InputKind | None:
    for kind in kinds:
        if kind.claims_dir is not None and kind.claims_dir(path):
            return kind
    return None


def _walk_dir(directory: Path, root: Path, kinds: Sequence[InputKind], out: Discovery) -> None:
    claimer = _claiming_kind(directory, kinds)
    if claimer is not None:
        out.targets.append(Target(claimer.name, directory, _rel(directory, root), root))
        return
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        out.findings.append(
            UNREADABLE_PATH.at(_rel(directory, root), f"cannot list folder: {exc.strerror or exc}")
        )
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError as exc:
            out.findings.append(
                UNREADABLE_PATH.at(_rel(path, root), f"cannot stat: {exc.strerror or exc}")
            )
            continue
        if stat.S_ISLNK(mode):
            out.findings.append(
                SYMLINK_NOT_FOLLOWED.at(
                    _rel(path, root),
                    f"symlink to {os.readlink(path)!r} was not followed",
                    actual=os.readlink(path),
                )
            )
        elif stat.S_ISDIR(mode):
            _walk_dir(path, root, kinds, out)
        elif stat.S_ISREG(mode):
            _sniff(path, root, kinds, out)
        else:
            out.skipped.append(Skipped(_rel(path, root), "not a regular file or folder"))


def discover(paths: Sequence[Path], kinds: Sequence[InputKind]) -> Iterator[tuple[Path, Discovery]]:
    """Yield ``(root, discovery)`` for each PATH, in the order given."""
    for given in paths:
        out = Discovery()
        try:
            mode = os.stat(given, follow_symlinks=False).st_mode
        except OSError as exc:
            out.findings.append(
                UNREADABLE_PATH.at(str(given), f"cannot read {str(given)!r}: {exc.strerror or exc}")
            )
            yield given, out
            continue
        absolute = Path(os.path.abspath(given))
        if stat.S_ISDIR(mode):
            _walk_dir(absolute, absolute, kinds, out)
            yield absolute, out
        elif stat.S_ISREG(mode):
            _sniff(absolute, absolute.parent, kinds, out)
            yield absolute.parent, out
        elif stat.S_ISLNK(mode):
            # A PATH the user typed is followed once: they named it, so it is the root.
            resolved = Path(os.path.realpath(given))
            if resolved.is_dir():
                _walk_dir(resolved, resolved, kinds, out)
                yield resolved, out
            else:
                _sniff(resolved, resolved.parent, kinds, out)
                yield resolved.parent, out
        else:
            out.skipped.append(Skipped(str(given), "not a regular file or folder"))
            yield absolute, out
