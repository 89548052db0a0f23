"""Re-checks with ``--cache`` against a stat walk, ``--sample 1/10`` against a full run, and
the first ``--cache`` run against an uncached one (issues 11 and 12).

On the same two stores as ``checkpoint_verify`` (``benchmarks/stores.py``; ``--files=N``),
each command run ``--repeat`` times in interleaved rounds (best wall time, peak RSS):

- a ``--cache`` re-run of the unchanged store at most 1.3x
  `find STORE -printf '%i %s %T@\\n' > /dev/null` (which stats every file in C);
- ``--sample 1/10`` at most 0.25x the full verify (the target is set on 1,000,000 files);
- the first ``--cache`` run (an empty cache folder) at most 1.2x the uncached run;
- the peak RSS of every cached run inside the uncached run's target (300 MiB at 1,000,000
  files): the first, the second (its files answered by the rows the first kept, the whole
  result kept: started from a copy of the first run's cache folder) and the re-run.

Before timing, the cached runs' JSON must equal the uncached one's (a fast cache that
changes the answer would be worthless).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from benchmarks.checkpoint_verify import MIB_LIMITS, verify
from benchmarks.harness import machine, measure_interleaved, print_ratio
from benchmarks.stores import options, stores, warm

CACHED_LIMIT = 1.3
SAMPLE_LIMIT = 0.25
SAMPLE_TARGET_FILES = 1_000_000
FIRST_CACHED_LIMIT = 1.2


def _result(command: str) -> dict[str, Any] | None:
    done = subprocess.run(command.replace("> /dev/null", ""), shell=True, capture_output=True,
                          check=False)
    if done.returncode > 1:
        print(f"FAILED (exit {done.returncode}): {command}\n{done.stderr.decode()}")
        return None
    document: dict[str, Any] = orjson.loads(done.stdout)
    return document


def measure_store(label: str, store: Path, files: int, repeat: int, scratch: Path) -> bool:
    cache = scratch / f"cache-{label}"
    fresh = scratch / f"fresh-{label}"
    full = verify(store, "--no-cache")
    cached = verify(store, "--cache", str(cache))
    first = f"rm -rf {shlex.quote(str(fresh))} && " + verify(store, "--cache", str(fresh))
    after_first = scratch / f"after-first-{label}"
    second_dir = scratch / f"second-{label}"
    second = (f"rm -rf {shlex.quote(str(second_dir))} && cp -a {shlex.quote(str(after_first))}"
              f" {shlex.quote(str(second_dir))} && " + verify(store, "--cache", str(second_dir)))
    prepare = f"rm -rf {shlex.quote(str(after_first))} && " + verify(
        store, "--cache", str(after_first))
    sampled = verify(store, "--no-cache", "--sample", "1/10")
    runs = (full, cached, cached, first, prepare, second)
    results = [_result(command) for command in runs]
    if any(result is None for result in results) or _result(sampled) is None:
        return False
    differing = [command for command, result in zip(runs, results, strict=True)
                 if result != results[0]]
    if differing:
        print("FAILED: verify --cache gives another result than a run without the cache: "
              + "; ".join(differing))
        return False
    commands = {
        "stat walk (find -printf)": f"find {shlex.quote(str(store))} -printf '%i %s %T@\\n' "
                                    "> /dev/null",
        "verify, no cache": full,
        "verify --cache DIR (unchanged store)": cached,
        "verify --cache NEWDIR (first run)": first,
        "verify --cache DIR (second run, from a copy of the first's cache)": second,
        "verify --sample 1/10": sampled,
    }
    print(f"-- {label} store: {store} ({files} files), best of {repeat} interleaved rounds")
    walk, uncached, again, first_run, second_run, sample = measure_interleaved(
        commands, shell=True, repeat=repeat)
    ok = print_ratio(again, walk, CACHED_LIMIT)
    # The sample target is set on 1,000,000 files: below that, start-up and the listing of
    # every name are most of a full run, so the ratio is printed without a verdict.
    sample_limit = SAMPLE_LIMIT if files >= SAMPLE_TARGET_FILES else None
    ok = print_ratio(sample, uncached, sample_limit) and ok
    ok = print_ratio(first_run, uncached, FIRST_CACHED_LIMIT) and ok
    limit = MIB_LIMITS.get(files)
    for name, run in (("first", first_run), ("second", second_run), ("unchanged", again)):
        within = limit is None or run.peak_rss_mib <= limit
        print(f"  {name} cached run peak RSS {run.peak_rss_mib:.0f} MiB vs "
              f"{uncached.peak_rss_mib:.0f} MiB uncached = "
              f"{run.peak_rss_mib / uncached.peak_rss_mib:.2f}x"
              + ("" if limit is None else f" (limit {limit} MiB) {'OK' if within else 'OVER'}"))
        ok = ok and within
    return ok


def main(argv: list[str]) -> int:
    args = options(argv, "incremental")
    print(f"machine: {machine()}")
    ok = True
    with tempfile.TemporaryDirectory(prefix="dashfix-bench-cache-") as scratch:
        for label, store in stores(args):
            warm(store)
            ok = measure_store(label, store, args.files, args.repeat, Path(scratch)) and ok
    print(f"load after: {machine()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
