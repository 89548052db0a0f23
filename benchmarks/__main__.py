"""``python -m benchmarks [NAME ...]``: run the named benchmarks (default: all)."""

from __future__ import annotations

import importlib
import sys

from benchmarks.harness import precompile

# Each name is a module in this package with ``main(argv: list[str]) -> int``.
BENCHMARKS: tuple[str, ...] = (
    "checkpoint_verify", "decoder_linearity", "gate_outputs", "incremental",
    "kafka_validate", "postgres_verify", "redis_verify", "replay", "s3_verify",
    "stream_validate",
)


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    flags = [a for a in argv if a.startswith("-")]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    precompile()
    status = 0
    for name in names:
        print(f"== {name}")
        status |= importlib.import_module(f"benchmarks.{name}").main(flags)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
