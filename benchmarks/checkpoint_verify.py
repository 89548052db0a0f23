"""`dashfix verify` on a large generated checkpoint store, against `cksum` of the same files.

Targets (issue 2): on 100,000 DCHK checkpoints with 2 KiB states across 1,000 threads, with a
warm cache, verify takes at most 2.0x the wall time of
`find STORE -name '*.bin' -print0 | xargs -0 cksum > /dev/null` and peaks at 150 MiB RSS;
with 1,000,000 files it peaks at 400 MiB: `--files=1000000` (one word: the runner passes
only words starting with `-` to a benchmark).

The store is built once and cached under ``--data-dir`` (default ./bench-data, gitignored).
Add further commands to ``MEASURED`` to compare them with the same baseline in the same run.
"""

from __future__ import annotations

import argparse
import atexit
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Measurement, measure, print_ratio
from dashfix.testing.checkpoints import build_large_store

MIB_LIMITS = {100_000: 150, 1_000_000: 400}
REPEAT = 3


@dataclass(frozen=True)
class Measured:
    label: str
    command: Callable[[Path], list[str]]
    time_limit: float
    """Allowed multiple of the cksum baseline."""


def _dashfix(*args: str) -> Callable[[Path], list[str]]:
    return lambda store: [sys.executable, "-m", "dashfix", args[0], str(store), *args[1:]]


def _rebuild_index_from_corrupt(store: Path) -> list[str]:
    """rebuild-index with a real write, on a private hard-linked copy of the store with its
    own index.bin and lock file (so verify on the original, or a concurrent run of this
    benchmark, never sees it). Each run cuts 5 bytes off the copy's index.bin (bug #17); the
    rebuild writes the same bytes back and its backup is removed, so every repetition
    starts from the same state."""
    copy = Path(tempfile.mkdtemp(prefix="rebuild-index-", dir=store.parent))
    atexit.register(shutil.rmtree, copy, True)
    subprocess.run(["cp", "-al", f"{store}/.", str(copy)], check=True)
    for name in ("index.bin", ".checkpoint.lock"):
        (copy / name).unlink()
        shutil.copyfile(store / name, copy / name)
    index, quoted = shlex.quote(str(copy / "index.bin")), shlex.quote(str(copy))
    return ["sh", "-c", f"truncate -s -5 {index} && {shlex.quote(sys.executable)} -m dashfix "
            f"rebuild-index {quoted} --format json && rm -f {quoted}/index.bin.dashfix-*.bak"]


MEASURED: list[Measured] = [
    Measured("dashfix verify --format json",
             _dashfix("verify", "--format", "json", "--progress", "never"), 2.0),
    Measured("dashfix rebuild-index (corrupt index.bin)", _rebuild_index_from_corrupt, 2.5),
]


def _store(data_dir: Path, files: int) -> Path:
    store = data_dir / f"checkpoints-{files}"
    marker = store / ".built"
    if not marker.exists():
        print(f"building {files} checkpoints in {store} (once; cached) ...", flush=True)
        build_large_store(store, files=files, threads=1_000, state_size=2048)
        marker.write_text("ok\n")
    return store


def _warm(store: Path) -> None:
    subprocess.run(f"find '{store}' -type f -print0 | xargs -0 cat > /dev/null", shell=True,
                   check=True)


def _ran_cleanly(command: list[str]) -> bool:
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        print(f"FAILED (exit {done.returncode}): {' '.join(command)}\n{done.stderr.decode()}")
    return done.returncode == 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks checkpoint_verify")
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--files", type=int, default=100_000)
    args, _unknown = parser.parse_known_args(argv)
    store = _store(args.data_dir, args.files)
    _warm(store)
    baseline = measure(f"cksum ({args.files} files)",
                       f"find '{store}' -name '*.bin' -print0 | xargs -0 cksum > /dev/null",
                       shell=True, repeat=REPEAT)
    ok = True
    rss_limit = MIB_LIMITS.get(args.files)
    for item in MEASURED:
        command = item.command(store)
        if not _ran_cleanly(command):
            ok = False
            continue
        result: Measurement = measure(item.label, command, repeat=REPEAT)
        ok = print_ratio(result, baseline, item.time_limit) and ok
        if rss_limit is not None:
            verdict = "OK" if result.peak_rss_mib <= rss_limit else "OVER"
            print(f"  peak RSS {result.peak_rss_mib:.0f} MiB (limit {rss_limit} MiB) {verdict}")
            ok = ok and result.peak_rss_mib <= rss_limit
    return 0 if ok else 1
