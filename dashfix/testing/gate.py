"""Artifact folders that give a known number of scan findings, for gate tests and benchmarks.

Dangling symlinks are the cheapest finding that exists in every input mix: discovery
reports each one as DF002 without reading anything, whatever input kinds are registered.
"""

from __future__ import annotations

import os
from pathlib import Path


def symlink_farm(folder: Path, count: int, per_folder: int = 1000) -> list[str]:
    """Create ``count`` dangling symlinks under ``folder``; return their root-relative paths."""
    rels = []
    for number in range(count):
        sub = folder / f"part{number // per_folder:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        name = f"link{number:06d}"
        os.symlink(f"../missing/{name}", sub / name)
        rels.append(f"{sub.name}/{name}")
    return rels
