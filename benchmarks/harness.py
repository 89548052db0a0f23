"""Measuring commands side by side: wall time and peak RSS of a child process."""

from __future__ import annotations

import compileall
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def precompile() -> None:
    """Compile dashfix's bytecode as ``make`` does at install: with PYTHONDONTWRITEBYTECODE
    set, a tree without it would be compiled again by every timed run (~0.1 s each)."""
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "dashfix", quiet=1)


@dataclass(frozen=True)
class Measurement:
    label: str
    wall_seconds: float
    peak_rss_mib: float


def measure(label: str, command: Sequence[str] | str, *, shell: bool = False,
            repeat: int = 3) -> Measurement:
    """Best wall time of ``repeat`` runs (warm cache after the first) and the peak RSS seen.

    ``os.wait4`` gives the rusage of exactly this child (and its waited-for children),
    not a running maximum over every child the benchmark ever started.
    """
    best = float("inf")
    peak_kib = 0
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(command, shell=shell, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        best = min(best, elapsed)
        peak_kib = max(peak_kib, usage.ru_maxrss)
    return Measurement(label, best, peak_kib / 1024)


def print_ratio(subject: Measurement, baseline: Measurement, limit: float | None = None) -> bool:
    ratio = subject.wall_seconds / baseline.wall_seconds
    verdict = "" if limit is None else (" OK" if ratio <= limit else f" OVER the {limit}x limit")
    print(
        f"{subject.label}: {subject.wall_seconds:.2f}s, peak RSS {subject.peak_rss_mib:.0f} MiB; "
        f"{baseline.label}: {baseline.wall_seconds:.2f}s -> ratio {ratio:.2f}x{verdict}"
    )
    return limit is None or ratio <= limit
