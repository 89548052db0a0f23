"""Checkpoint decoding against reading the file, for the inputs that once hung dashfix.

Target (issue 13): a zero-filled file, a file of one repeated byte and a file of random bytes,
of 1 KiB, 1 MiB and 64 MiB, each decoded within a fixed multiple of reading it. Each shape is
written twice: as a bare file (all zeros is then CK100, found before any parse) and after
valid legacy ids, which sends it through every tail search (the fast path, the full search
and the trailing-garbage search). The subject is ``summarise_file``, the per-file decoder of
verify, repair and rebuild-index, which reads the file itself; the baseline is opening and
reading the same file, measured in the same rounds (best of ``REPEAT``, interleaved).
``--quick`` leaves out 64 MiB.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dashfix.formats.bincode import Writer
from dashfix.inputs.checkpoint_files.file_reader import summarise_file

KIB, MIB = 1024, 1024 * 1024
SIZES = {"1 KiB": KIB, "1 MiB": MIB, "64 MiB": 64 * MIB}
IDS = Writer().string("t1_0011223344556677_chkpt0").string("t1").getvalue()
REPEAT = 5
LIMIT = 10.0
"""Decoding may take at most this many times as long as reading, from 1 MiB up. A 1 KiB
file is shown but not judged: there a read takes microseconds and fixed costs dominate."""


def _write(path: Path, size: int, shape: str, prefix: bytes) -> None:
    rng = random.Random(size)
    with path.open("wb") as out:
        out.write(prefix)
        left = size - len(prefix)
        while left > 0:
            chunk = min(MIB, left)
            if shape == "zero-filled":
                out.write(bytes(chunk))
            elif shape == "repeated byte":
                out.write(b"\x07" * chunk)
            else:
                out.write(rng.randbytes(chunk))
            left -= chunk


def _read(folder: str, name: str) -> None:
    fd = os.open(os.path.join(folder, name), os.O_RDONLY)
    try:
        os.read(fd, os.fstat(fd).st_size + 1)
    finally:
        os.close(fd)


def _per_call(action: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        action()
    return (time.perf_counter() - start) / calls


def _read_and_decode(folder: str, name: str, calls: int) -> tuple[float, float]:
    """Best seconds per call of reading the file and of decoding it, in interleaved rounds."""
    info = os.stat(os.path.join(folder, name))
    read = decode = float("inf")
    for _ in range(REPEAT):
        read = min(read, _per_call(lambda: _read(folder, name), calls))
        decode = min(decode, _per_call(lambda: summarise_file(folder, name, info), calls))
    return read, decode


def main(argv: list[str]) -> int:
    sizes = {k: v for k, v in SIZES.items() if not ("--quick" in argv and v > MIB)}
    ok = True
    with tempfile.TemporaryDirectory(prefix="dashfix-bench-linear-") as folder:
        for label, size in sizes.items():
            calls = max(1, (4 * MIB) // size)
            for layout, prefix in (("bare", b""), ("after legacy ids", IDS)):
                for shape in ("zero-filled", "repeated byte", "random"):
                    path = Path(folder) / "a.bin"
                    _write(path, size, shape, prefix)
                    record = summarise_file(folder, path.name, os.stat(path))
                    read, decode = _read_and_decode(folder, path.name, calls)
                    ratio = decode / read
                    judged = size >= MIB
                    verdict = ("" if not judged else " OK" if ratio <= LIMIT
                               else f" OVER the {LIMIT}x limit")
                    ok &= not judged or ratio <= LIMIT
                    print(f"{label:>6} {shape:13} {layout:16} -> {record.problem or 'ok':5}: "
                          f"decode {decode * 1e3:9.3f} ms, read {read * 1e3:8.3f} ms -> "
                          f"ratio {ratio:6.2f}x{verdict}", flush=True)
                    path.unlink()
    return 0 if ok else 1
