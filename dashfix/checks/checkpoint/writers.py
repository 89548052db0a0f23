"""Item 12: evidence that several processes or unlocked variants wrote the store."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_record import DCHK, GZIP, LEGACY, VERSIONED, VERSIONED_GZ
from dashfix.rules import checkpoint as ck


def _overlapping_procs(view: StoreView) -> Iterator[Finding]:
    named: dict[str, list[str]] = {}
    for thread_id, proc in view.by_thread_proc:
        if proc:  # only current-scheme ids name their process
            named.setdefault(thread_id, []).append(proc)
    windows: dict[str, dict[str, list[int]]] = {}
    for thread_id, proc_names in named.items():
        if len(proc_names) > 1:
            windows[thread_id] = {proc: _window(view, view.by_thread_proc[(thread_id, proc)])
                                  for proc in proc_names}
    for thread_id, procs in windows.items():
        ordered = sorted(procs.items(), key=lambda item: item[1][0])
        overlaps = [
            (a, b) for (a, wa), (b, wb) in itertools.pairwise(ordered) if wb[0] < wa[1]
        ]
        if overlaps:
            first, second = overlaps[0]
            yield ck.CONCURRENT_WRITERS.at(
                view.path("."), f"thread {thread_id!r}: processes {first} and {second} wrote "
                "checkpoints during overlapping time windows", thread_id=thread_id,
                details={"procs": {p: w for p, w in procs.items()}},
                fix_command=view.rebuild, key=thread_id)


def _window(view: StoreView, rows: Iterable[int]) -> list[int]:
    secs, nanos = view.rows.secs, view.rows.nanos
    moments = [secs[row] * 1_000_000_000 + nanos[row] for row in rows]
    return [min(moments), max(moments)]


def check(view: StoreView) -> Iterator[Finding]:
    yield from _overlapping_procs(view)
    variants = view.variants
    unlocked = sorted(variants & {GZIP, VERSIONED, VERSIONED_GZ})
    if unlocked and variants & {DCHK, LEGACY}:
        yield ck.UNLOCKED_VARIANT.at(
            view.path("."), f"store holds {', '.join(unlocked)} files next to FileCheckpointer "
            "files; those writers never take .checkpoint.lock", details={"variants": unlocked})
