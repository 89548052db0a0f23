"""`dashfix verify` and `dashfix rebuild-index` against `cksum` of the same files (issue 11).

On the benchmark store (``--files=N`` DCHK checkpoints, default 100,000, with 2 KiB states
across 1,000 threads; ``--files=1000000`` for the large one) and on a store like it with no
index.bin and one corrupt file (``benchmarks/stores.py``), warm page cache, each command run
``--repeat`` times in interleaved rounds (best wall time, peak RSS from ``wait4``):

- verify at most 1.0x `find STORE -name '*.bin' -print0 | xargs -0 cksum` with both CPUs,
  and at most 2.0x when both are pinned to one CPU (``taskset -c 0``);
- rebuild-index at most 1.2x that cksum;
- the Python twins (``DASHFIX_PURE_PYTHON=1``, an install without a compiler) at most 2.0x;
- peak RSS at most 300 MiB for verify and rebuild-index at 1,000,000 files (150 MiB at
  100,000).

The cache and sample ratios are in ``benchmarks/incremental.py``.
"""

from __future__ import annotations

import atexit
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Measurement, machine, measure_interleaved, print_ratio
from benchmarks.stores import options, stores, warm
from dashfix.formats.variants import INDEX_NAME, LOCK_NAME

MIB_LIMITS = {100_000: 150, 1_000_000: 300}
VERIFY_LIMIT = 1.0
PINNED_LIMIT = 2.0
REBUILD_LIMIT = 1.2
TWIN_LIMIT = 2.0


def cksum(store: Path) -> str:
    return f"find {shlex.quote(str(store))} -name '*.bin' -print0 | xargs -0 cksum > /dev/null"


def dashfix(*args: str, pure: bool = False) -> str:
    env = "DASHFIX_PURE_PYTHON=1 " if pure else ""
    return f"{env}exec {shlex.quote(sys.executable)} -m dashfix {shlex.join(args)} > /dev/null"


def pinned(command: str) -> str:
    return f"taskset -c 0 sh -c {shlex.quote(command)}"


def verify(store: Path, *extra: str, pure: bool = False) -> str:
    return dashfix("verify", str(store), "--format", "json", "--progress", "never", *extra,
                   pure=pure)


def rebuild_index(store: Path) -> str:
    """rebuild-index with a real write, on a private hard-linked copy of the store with its
    own index.bin and lock file (so other runs never see it). Each run first cuts 5 bytes
    off the copy's index.bin (bug #17) or, for a store without one, removes the index the
    previous run wrote; the rebuild writes it and its backup is removed, so every
    repetition starts from the same state."""
    copy = Path(tempfile.mkdtemp(prefix="rebuild-index-", dir=store.parent))
    atexit.register(shutil.rmtree, copy, True)
    subprocess.run(["cp", "-al", f"{store}/.", str(copy)], check=True)
    for name in (INDEX_NAME, LOCK_NAME):
        if (store / name).exists():
            (copy / name).unlink()
            shutil.copyfile(store / name, copy / name)
    index, quoted = shlex.quote(str(copy / INDEX_NAME)), shlex.quote(str(copy))
    prepare = (f"truncate -s -5 {index}" if (store / INDEX_NAME).exists()
               else f"rm -f {index}")
    return (f"{prepare} && {shlex.quote(sys.executable)} -m dashfix rebuild-index {quoted} "
            f"--format json > /dev/null; status=$?; rm -f {quoted}/index.bin.dashfix-*.bak; "
            f"exit $status")


def _ran(command: str) -> bool:
    done = subprocess.run(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    # verify exits 1 on findings (the faulty store); anything above is a failure.
    if done.returncode > 1:
        print(f"FAILED (exit {done.returncode}): {command}\n{done.stderr.decode()}")
    return done.returncode <= 1


def measure_store(label: str, store: Path, files: int, repeat: int) -> bool:
    commands = {
        "cksum": cksum(store),
        "cksum, one CPU": pinned(cksum(store)),
        "verify": verify(store, "--no-cache"),
        "verify, one CPU": pinned(verify(store, "--no-cache")),
        "rebuild-index": rebuild_index(store),
        "verify, Python twins": verify(store, "--no-cache", pure=True),
    }
    if not all(_ran(command) for command in commands.values()):
        return False
    print(f"-- {label} store: {store} ({files} files), best of {repeat} interleaved rounds")
    measured = dict(zip(commands, measure_interleaved(commands, shell=True, repeat=repeat),
                        strict=True))
    base, base_pinned = measured["cksum"], measured["cksum, one CPU"]
    ok = print_ratio(measured["verify"], base, VERIFY_LIMIT)
    ok = print_ratio(measured["verify, one CPU"], base_pinned, PINNED_LIMIT) and ok
    ok = print_ratio(measured["rebuild-index"], base, REBUILD_LIMIT) and ok
    ok = print_ratio(measured["verify, Python twins"], base, TWIN_LIMIT) and ok
    limit = MIB_LIMITS.get(files)
    if limit is not None:
        for name in ("verify", "rebuild-index"):
            ok = _rss(measured[name], limit) and ok
    return ok


def _rss(result: Measurement, limit: float) -> bool:
    verdict = "OK" if result.peak_rss_mib <= limit else "OVER"
    print(f"  {result.label}: peak RSS {result.peak_rss_mib:.0f} MiB (limit {limit} MiB) "
          f"{verdict}")
    return result.peak_rss_mib <= limit


def main(argv: list[str]) -> int:
    args = options(argv, "checkpoint_verify")
    print(f"machine: {machine()}")
    ok = True
    for label, store in stores(args):
        warm(store)
        ok = measure_store(label, store, args.files, args.repeat) and ok
    print(f"load after: {machine()}")
    return 0 if ok else 1
