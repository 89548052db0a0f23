"""Item 12: evidence that unlocked variants wrote the store (several processes on one
thread: ``dashfix.checks.lineage.writers``, for every store)."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.lineage import writers as lineage_writers
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_record import DCHK, GZIP, LEGACY, VERSIONED, VERSIONED_GZ
from dashfix.rules import checkpoint as ck


def check(view: StoreView) -> Iterator[Finding]:
    yield from lineage_writers.check(view)
    variants = view.variants
    unlocked = sorted(variants & {GZIP, VERSIONED, VERSIONED_GZ})
    if unlocked and variants & {DCHK, LEGACY}:
        yield ck.UNLOCKED_VARIANT.at(
            view.path("."), f"store holds {', '.join(unlocked)} files next to FileCheckpointer "
            "files; those writers never take .checkpoint.lock", details={"variants": unlocked})
