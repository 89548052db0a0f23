"""Run the fuzz targets one after another and print the inputs each took.

    python -m fuzz [--runs N] [--timeout SECONDS] [--work DIR] [TARGET ...]

Each target runs in its own process (``fuzz.run_target``), from a fresh corpus seeded with
valid encodings (``Target.seeds``), for ``--runs`` inputs (default 1,000,000). One at a
time: the fuzzer takes a core, and the machines this runs on are shared. A crash leaves its
input in ``WORK/crashes/`` (turn it into a regression test: fuzz/regressions/TARGET/);
the exit status is non-zero when any target crashed or was slower than ``--timeout`` on
one input.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz.targets import RUNNABLE, TARGETS

_DONE = re.compile(rb"Done (\d+) runs in (\d+) second")
_COVERAGE = re.compile(rb"cov: (\d+) ft: (\d+)")


@dataclass
class Outcome:
    name: str
    runs: int
    seconds: float
    coverage: int
    status: int

    @property
    def passed(self) -> bool:
        return self.status == 0


def fuzz_target(name: str, runs: int, timeout: int, work: Path,
                quiet: bool = True) -> Outcome:
    """Fuzz ``name`` for ``runs`` inputs in a child process; its log goes to WORK/NAME.log."""
    corpus = work / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(RUNNABLE[name].seeds()):
        (corpus / f"seed-{number}").write_bytes(seed)
    crashes = work / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    log = work / f"{name}.log"
    command = [sys.executable, "-m", "fuzz.run_target", name, f"-runs={runs}",
               f"-timeout={timeout}", f"-artifact_prefix={crashes}/{name}-",
               "-print_final_stats=1", str(corpus)]
    started = time.monotonic()
    with log.open("wb") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                check=False).returncode
    seconds = time.monotonic() - started
    text = log.read_bytes()
    done = _DONE.findall(text)
    coverage = _COVERAGE.findall(text)
    if not quiet or status != 0:
        sys.stdout.write(text[-4000:].decode("utf-8", "replace"))
    return Outcome(name, int(done[-1][0]) if done else 0, seconds,
                   int(coverage[-1][0]) if coverage else 0, status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help=f"targets to run (default: each of {', '.join(TARGETS)}; "
                        "'all' fuzzes every target in one process)")
    parser.add_argument("--runs", type=int, default=1_000_000,
                        help="inputs per target (default 1,000,000)")
    parser.add_argument("--timeout", type=int, default=10,
                        help="seconds one input may take before it counts as a hang")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for corpora, logs and crashes (default: a temp folder)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.targets if name not in RUNNABLE]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(RUNNABLE)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="dashfix-fuzz-"))
    print(f"fuzzing {args.runs:,} inputs per target; corpora, logs, crashes in {work}",
          flush=True)
    outcomes = []
    for name in args.targets or list(TARGETS):
        outcome = fuzz_target(name, args.runs, args.timeout, work)
        outcomes.append(outcome)
        verdict = "ok" if outcome.passed else f"FAILED (exit {outcome.status})"
        print(f"{name:20} {outcome.runs:>10,} inputs {outcome.seconds:8.1f} s "
              f"cov {outcome.coverage:>5}  {verdict}", flush=True)
    total = sum(outcome.runs for outcome in outcomes)
    print(f"{'total':20} {total:>10,} inputs "
          f"{sum(outcome.seconds for outcome in outcomes):8.1f} s", flush=True)
    return 0 if all(outcome.passed for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
