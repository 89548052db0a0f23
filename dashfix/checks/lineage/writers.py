"""Item 12: several processes wrote one thread at once, seen in the process part of the
ids (current scheme) and the times of their checkpoints. For every store."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from dashfix.checks.lineage.view import LineageView
from dashfix.findings import Finding
from dashfix.rules import checkpoint as ck


def _overlapping_procs(view: LineageView) -> Iterator[Finding]:
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


def _window(view: LineageView, rows: Iterable[int]) -> list[int]:
    secs, nanos = view.rows.secs, view.rows.nanos
    moments = [secs[row] * 1_000_000_000 + nanos[row] for row in rows]
    return [min(moments), max(moments)]


def check(view: LineageView) -> Iterator[Finding]:
    yield from _overlapping_procs(view)
