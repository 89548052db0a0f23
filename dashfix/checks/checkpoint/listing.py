"""Item 13: files that another variant lists but cannot read, which abort delete_thread."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_record import DCHK, GZIP, LEGACY, VERSIONED, VERSIONED_GZ
from dashfix.rules import checkpoint as ck

_SHOWN = 20

# Which readable files each writer lists but cannot decode (spec 4.3): FileCheckpointer lists
# every `*.bin` (so `X.v.bin`); Compressed lists `*.bin` and `*.bin.gz` (DCHK and Versioned).
_BLOCKERS = (
    ("FileCheckpointer", frozenset({DCHK, LEGACY}), frozenset({VERSIONED})),
    ("CompressedFileCheckpointer", frozenset({GZIP}), frozenset({DCHK, VERSIONED, VERSIONED_GZ})),
)


def check(view: StoreView) -> Iterator[Finding]:
    variants = view.variants
    for writer, own, unreadable in _BLOCKERS:
        if not variants & own:
            continue
        blocking = [r.name for r in view.unusual
                    if r.variant in unreadable and r.problem is None]
        if DCHK in unreadable:
            # Healthy plain DCHK files are rows, not in view.unusual: listed only when they block.
            blocking += view.rows.plain_names()
        blocking.sort()
        if blocking:
            yield ck.DELETE_THREAD_BLOCKED.at(
                view.path("."), f"{len(blocking)} file(s) that {writer} lists but cannot "
                f"read (e.g. {blocking[0]}): its delete_thread aborts for every thread",
                actual=len(blocking), expected=0, key=writer, fix_command=view.repair,
                details={"writer": writer, "files": blocking[:_SHOWN], "count": len(blocking)})
