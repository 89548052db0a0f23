"""Checks of a file checkpoint store (spec section 8, items 1-14), one module per family.

``check_store`` runs every family over one ``StoreScan``; each family sees the same
``StoreView`` (records, latest checkpoint per thread, id table) and yields findings only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from dashfix.checks.checkpoint import (
    index,
    integrity,
    listing,
    names,
    payload,
    temps,
    variants,
    writers,
)
from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.lineage import chains
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_files.scan import StoreScan
from dashfix.inputs.checkpoint_record import (
    ABSENT,
    DIRECTORY,
    SPECIAL,
    SYMLINK,
    TEMP_CHECKPOINT,
    TEMP_INDEX,
)

_PER_FILE: tuple[Callable[[StoreView], Iterator[Finding]], ...] = (
    integrity.check, payload.check, names.check,
)
_PER_STORE: tuple[Callable[[StoreView], Iterator[Finding]], ...] = (
    temps.check, index.check, chains.check, writers.check, listing.check, variants.check,
)
_NOT_CHECKPOINTS = frozenset({TEMP_CHECKPOINT, TEMP_INDEX, SYMLINK, DIRECTORY, SPECIAL})


def check_store(scan: StoreScan, ctx: CheckContext, rel: str, *,
                single_file: bool = False, unread: int = 0) -> Iterator[Finding]:
    """Every finding for one scanned store (or, with ``single_file``, one checkpoint file).

    ``unread`` store files were left out (sample, time limit): then the cross-file checks
    do not run, since an unread file would look missing (index entries, parents, latest
    per thread) and the result would be wrong, not merely incomplete.
    """
    view = StoreView.of(scan, rel)
    rows = scan.rows
    # Every PLAIN row is a checkpoint file, with its thread in the thread column.
    not_files = [r for r in view.unusual if r.variant in _NOT_CHECKPOINTS]
    ctx.stats["files"] += len(rows) - rows.kinds.count(ABSENT) - len(not_files)
    threads = set(rows.threads)
    threads.update(r.thread_id for r in view.unusual if r.variant not in _NOT_CHECKPOINTS)
    threads.discard(None)
    ctx.stats["threads"] += len(threads)
    if not single_file:
        ctx.stats["stores"] += 1
    if unread and not single_file:
        ctx.not_checked.append(
            f"{rel}: cross-file checks (index, chains, temps, writers, listing, variants) "
            f"were not run because {unread} of its files were not read"
        )
    for family in _PER_FILE if single_file or unread else _PER_FILE + _PER_STORE:
        yield from family(view)
