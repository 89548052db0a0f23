"""Artifact folders that give a known number of scan findings, for gate tests and benchmarks.

Dangling symlinks are the cheapest finding that exists in every input mix: discovery
reports each one as DF002 without reading anything, whatever input kinds are registered.
A folder of nothing but links has nothing to check (DF003, exit code 3), so each farm
also holds one healthy store, which adds no finding.
"""

from __future__ import annotations

import os
from pathlib import Path

from dashfix.testing.checkpoints import StoreBuilder

HEALTHY_STORE = "store"
"""The healthy store folder inside every farm."""


def symlink_farm(folder: Path, count: int, per_folder: int = 1000) -> list[str]:
    """Create ``count`` dangling symlinks and a healthy store under ``folder``; return the
    links' root-relative paths."""
    rels = []
    for number in range(count):
        sub = folder / f"part{number // per_folder:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        name = f"link{number:06d}"
        os.symlink(f"../missing/{name}", sub / name)
        rels.append(f"{sub.name}/{name}")
    store = StoreBuilder(folder / HEALTHY_STORE)
    store.checkpoint("healthy")
    store.index()
    return rels
