"""Fuzz one target: ``python -m fuzz.run_target NAME [libFuzzer flags] [CORPUS_DIR ...]``.

dashfix is imported under atheris's instrumentation so that coverage guides the inputs.
An input that makes the target raise is a crash: libFuzzer writes it to
``-artifact_prefix`` and the process exits non-zero.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["dashfix"]):
    from fuzz.targets import RUNNABLE


def main() -> None:
    name, flags = sys.argv[1], sys.argv[2:]
    target = RUNNABLE[name]
    atheris.Setup([sys.argv[0], *flags], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
