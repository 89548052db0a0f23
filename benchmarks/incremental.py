"""Re-verifying an unchanged store with ``--cache``, and ``--sample 1/10``, against a full run.

Targets (issue 4), on the checkpoint benchmark's generated 100,000-file store:
- re-verifying the unchanged store with ``--cache`` takes at most 1/5 of the wall time of a
  run without the cache;
- ``--sample 1/10`` takes at most 1/5 of a full run.

The store is the one the checkpoint benchmark keeps under ./bench-data (built here with the
same parameters when it is missing). Both ratios are against a full uncached run measured in
the same run. Before timing, the cached run's JSON must equal the uncached one's (a fast
cache that changes the answer would be worthless). ``--quick`` shrinks the store tenfold.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import measure_interleaved, print_ratio
from dashfix.formats.variants import INDEX_NAME
from dashfix.testing.checkpoints import build_large_store

FILES = 100_000
DATA = Path("bench-data")
LIMIT = 0.2
REPEAT = 5


def store_path(files: int) -> Path:
    """The checkpoint benchmark's store of ``files`` files, built once and kept."""
    path = DATA / f"store-{files // 1000}k"
    if not (path / INDEX_NAME).is_file():
        print(f"building {path} ({files} files)")
        build_large_store(path, files=files)
    return path


def _result(command: Sequence[str]) -> dict[str, Any] | None:
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        print(f"FAILED (exit {done.returncode}): {' '.join(command)}\n{done.stderr.decode()}")
        return None
    document: dict[str, Any] = orjson.loads(done.stdout)
    return document


def main(argv: list[str]) -> int:
    files = FILES // 10 if "--quick" in argv else FILES
    store = store_path(files)
    with tempfile.TemporaryDirectory(prefix="dashfix-bench-cache-") as scratch:
        base = [sys.executable, "-m", "dashfix", "verify", str(store), "--progress", "never",
                "-f", "json"]
        full = [*base, "--no-cache"]
        cached = [*base, "--cache", str(Path(scratch) / "cache")]
        sampled = [*base, "--no-cache", "--sample", "1/10"]
        uncached_result = _result(full)
        first = _result(cached)  # fills the cache
        again = _result(cached)
        if uncached_result is None or first is None or again is None or _result(sampled) is None:
            return 1
        if not uncached_result == first == again:
            print("FAILED: verify --cache gives another result than a run without the cache")
            return 1
        baseline, warm, sample = measure_interleaved({
            f"verify, no cache ({files} store files)": full,
            "verify --cache DIR (unchanged store)": cached,
            "verify --sample 1/10": sampled,
        }, repeat=REPEAT)
    cache_ok = print_ratio(warm, baseline, LIMIT)
    sample_ok = print_ratio(sample, baseline, LIMIT)
    return 0 if cache_ok and sample_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
