"""Items 1-2 and 20: what a readable checkpoint's payload says about itself."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.lineage.view import ids_of
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_record import (
    CHECKPOINT_VARIANTS,
    DCHK,
    FLAG_VERSION_ZERO,
    GZIP,
    LEGACY,
)
from dashfix.rules import checkpoint as ck


def check(view: StoreView) -> Iterator[Finding]:
    for record in view.unusual:
        if record.problem is not None or record.variant not in CHECKPOINT_VARIANTS:
            continue
        path = view.path(record.name)
        ids = ids_of(record)
        if record.flags & FLAG_VERSION_ZERO:
            yield ck.VERSION_ZERO.at(path, f"{record.name}: DCHK header version is 0",
                                     offset=4, expected=1, actual=0, **ids)
        if record.variant == LEGACY:
            yield ck.LEGACY_UNVERIFIABLE.at(
                path, f"{record.name}: legacy checkpoint without DCHK header; no CRC, so "
                "damage inside the state cannot be detected", **ids)
        if record.variant not in (DCHK, GZIP, LEGACY) or record.secs >= 0:
            continue
        if record.tail_ambiguous:
            yield ck.TAIL_AMBIGUOUS.at(
                path, f"{record.name}: node, timestamp and parent can be read in more than "
                "one way; left out of latest and chain checks", **ids)
        else:
            yield ck.TAIL_UNPARSED.at(
                path, f"{record.name}: no plausible node/timestamp/parent/metadata ends at the "
                "end of the payload; left out of latest and chain checks", **ids)
