"""The compression cases every backend that stores states runs (spec 4.11): healthy stores
in each of dashflow-compression's framings, stores of lz4_flex- and snap-written states
(fixtures/compression), a damaged lz4 state, and a store whose compression setting changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dashfix.formats.compression import Compression
from dashfix.testing.backends import CheckpointWriter, compressed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compression"
RUST_STATES = {
    Compression.LZ4: [path.read_bytes() for path in sorted(FIXTURES.glob("*.state.lz4"))],
    Compression.SNAPPY: [path.read_bytes() for path in sorted(FIXTURES.glob("*.state.snappy"))],
}
"""States as lz4_flex and snap wrote them, stored as they are."""

Writer = TypeVar("Writer", bound=CheckpointWriter)
Case = tuple[str, Callable[[Writer], None], int, set[str]]


def compression_cases(healthy: Callable[[Writer], None], codes: frozenset[str] = frozenset(),
                      *, columns: bool = True) -> list[Case[Writer]]:
    """(id, builder, exit code, codes) of each case, ``healthy`` building the store and
    ``codes`` what it gives anyway. ``columns``: the writer stores states in a column (so
    it can be given states, as lz4_flex wrote them or damaged); S3 compresses objects and
    has cases of its own."""

    def using(compression: Compression) -> Callable[[Writer], None]:
        def build(db: Writer) -> None:
            db.compression = compression
            healthy(db)
        return build

    def rust(compression: Compression) -> Callable[[Writer], None]:
        def build(db: Writer) -> None:
            db.states = RUST_STATES[compression]
            healthy(db)
        return build

    def damaged(db: Writer) -> None:
        db.compression = Compression.LZ4
        healthy(db)
        state = compressed(db.states[0], Compression.LZ4)
        db.save("alpha", state=state[:-1])  # type: ignore[call-arg]

    def switched(db: Writer) -> None:
        healthy(db)
        db.compression = Compression.SNAPPY
        db.save("alpha")

    cases: list[Case[Writer]] = [
        ("lz4-healthy", using(Compression.LZ4), 0, set(codes)),
        ("snappy-healthy", using(Compression.SNAPPY), 0, set(codes)),
        ("compression-switched", switched, 1, {"DB507", *codes}),
    ]
    if columns:
        cases += [
            ("lz4-flex-written", rust(Compression.LZ4), 0, set(codes)),
            ("snap-written", rust(Compression.SNAPPY), 0, set(codes)),
            ("lz4-state-damaged", damaged, 1, {"DB507", *codes}),
        ]
    return cases
