"""Item 14: Compressed and Versioned stores (gzip damage is found per file while reading)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_record import VERSIONED, VERSIONED_GZ
from dashfix.rules import checkpoint as ck


def check(view: StoreView) -> Iterator[Finding]:
    records = view.unusual
    plain = sum(1 for r in records if r.variant == VERSIONED)
    compressed = sum(1 for r in records if r.variant == VERSIONED_GZ)
    if plain and compressed:
        yield ck.COMPRESSION_MISMATCH.at(
            view.path("."), f"{plain} .v.bin and {compressed} .v.bin.gz files: load only finds "
            "the ones matching the current compression setting",
            details={"v.bin": plain, "v.bin.gz": compressed})
    versions = Counter(r.schema_version for r in records if r.schema_version >= 0)
    if len(versions) > 1:
        spread = ", ".join(f"v{v}: {n}" for v, n in sorted(versions.items()))
        yield ck.VERSIONED_SCHEMA_VERSIONS.at(
            view.path("."), f"Versioned checkpoints of {len(versions)} schema versions ({spread})",
            details={"versions": {str(v): n for v, n in sorted(versions.items())}})
