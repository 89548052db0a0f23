"""Telling a checkpoint store folder or a single checkpoint file apart from other inputs."""

from __future__ import annotations

import os
from pathlib import Path

from dashfix.formats import dchk
from dashfix.formats.variants import INDEX_NAME, LOCK_NAME, Variant, classify, classify_name
from dashfix.inputs.checkpoint_files.file_reader import READ_FLAGS

_CLAIMING = frozenset(
    {Variant.DCHK, Variant.LEGACY_BINCODE, Variant.GZIP_BIN, Variant.VERSIONED,
     Variant.VERSIONED_GZ}
)


def _head(dir_fd: int, name: str) -> bytes:
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return b""
    try:
        return os.read(fd, dchk.HEADER_SIZE)
    except OSError:
        return b""
    finally:
        os.close(fd)


def claims_dir(path: Path) -> bool:
    """A store has index.bin or .checkpoint.lock, or a file that classifies as a checkpoint."""
    try:
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        for marker in (INDEX_NAME, LOCK_NAME):
            try:
                os.stat(marker, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            return True  # no need to list a folder of 100,000 files to know it is a store
        with os.scandir(dir_fd) as entries:
            candidates = []
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    continue
                if classify_name(entry.name) in _CLAIMING:
                    candidates.append(entry.name)
        return any(
            classify(name, _head(dir_fd, name)) in _CLAIMING or
            dchk.has_damaged_magic(_head(dir_fd, name))
            for name in candidates
        )
    except OSError:
        return False
    finally:
        os.close(dir_fd)


def sniff_file(path: Path, head: bytes) -> str | None:
    """A single checkpoint file given as PATH."""
    return "checkpoint-file" if classify(path.name, head[:dchk.HEADER_SIZE]) in _CLAIMING else None


CHECKPOINT_STORE_KIND = "checkpoint-store"
