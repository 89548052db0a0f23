"""The stores the checkpoint benchmarks measure: the generated benchmark store, and a store
like it with no index.bin and one corrupt file (issue 11 asks for both).

The store is built once and kept under ``--data-dir`` (default ./bench-data, gitignored):
``files`` DCHK checkpoints with 2 KiB states across 1,000 threads. The faulty one is a
hard-linked copy (``cp -al``, no data copied) without index.bin, in which one file is
replaced by a copy with its last byte flipped (a CRC mismatch): the original is never
touched.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from dashfix.formats.variants import INDEX_NAME
from dashfix.testing.checkpoints import (
    DEFAULT_PROC,
    build_large_store,
    flip_byte,
    large_store_thread,
)

DEFAULT_FILES = 100_000
THREADS = 1_000


def options(argv: list[str], prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks {prog}")
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--files", type=int, default=DEFAULT_FILES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("benchmark", "faulty"), default=None,
                        help="measure one of the two stores")
    args, _unknown = parser.parse_known_args(argv)
    return args


def benchmark_store(data_dir: Path, files: int) -> Path:
    store = data_dir / f"checkpoints-{files}"
    marker = data_dir / f".checkpoints-{files}.built"
    if not marker.exists():
        print(f"building {files} checkpoints in {store} (once; kept) ...", flush=True)
        shutil.rmtree(store, ignore_errors=True)
        build_large_store(store, files=files, threads=THREADS, state_size=2048)
        marker.write_text("ok\n")
    return store


def faulty_store(data_dir: Path, files: int) -> Path:
    """The benchmark store without index.bin and with one corrupt file."""
    source = benchmark_store(data_dir, files)
    store = data_dir / f"checkpoints-{files}-faulty"
    marker = data_dir / f".checkpoints-{files}-faulty.built"
    if not marker.exists():
        shutil.rmtree(store, ignore_errors=True)
        subprocess.run(["cp", "-al", str(source), str(store)], check=True)
        (store / INDEX_NAME).unlink()
        # Named, not listed: this process stays small, as its forked children's peak RSS
        # starts from it.
        number = files // 2
        victim = store / (f"{large_store_thread(number % THREADS)}_{DEFAULT_PROC}_chkpt"
                          f"{number // THREADS}.bin")
        data = victim.read_bytes()
        victim.unlink()  # the hard link: the original keeps its bytes
        victim.write_bytes(data)
        flip_byte(victim, len(data) - 1, 0x01)
        marker.write_text("ok\n")
    return store


def stores(args: argparse.Namespace) -> list[tuple[str, Path]]:
    found = [("benchmark", benchmark_store(args.data_dir, args.files)),
             ("faulty", faulty_store(args.data_dir, args.files))]
    return [(label, path) for label, path in found if args.only in (None, label)]


def warm(store: Path) -> None:
    subprocess.run(f"find '{store}' -type f -print0 | xargs -0 cat > /dev/null", shell=True,
                   check=True)
