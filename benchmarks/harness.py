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
    slowest_seconds: float = 0.0
    """The slowest of the runs: with ``wall_seconds`` the range a reader can compare."""
    cpu_seconds: float = 0.0
    """The least user+system CPU time of the runs (of the child alone: a server it talks to
    is not counted). Less noisy than wall time on a shared machine."""
    exit_codes: frozenset[int] = frozenset({0})
    """The exit codes of the runs: a run that failed early is not a fast one."""


def measure(label: str, command: Sequence[str] | str, *, shell: bool = False,
            repeat: int = 3) -> Measurement:
    """Best wall time of ``repeat`` runs (warm cache after the first) and the peak RSS seen.

    ``os.wait4`` gives the rusage of exactly this child (and its waited-for children),
    not a running maximum over every child the benchmark ever started.
    """
    return measure_interleaved({label: command}, shell=shell, repeat=repeat)[0]


def _run_once(command: Sequence[str] | str, shell: bool) -> tuple[float, int, float, int]:
    """Wall seconds, peak RSS (KiB), CPU seconds and exit code of one run of ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, shell=shell, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, process.returncode


def measure_interleaved(commands: dict[str, Sequence[str] | str], *, shell: bool = False,
                        repeat: int = 3) -> list[Measurement]:
    """``measure`` of several commands, run in rounds (each command once per round).

    On a shared machine the load drifts within seconds: timing one command's runs back to
    back and then the other's puts that drift into their ratio, rounds spread it over all.
    """
    best = dict.fromkeys(commands, float("inf"))
    slowest = dict.fromkeys(commands, 0.0)
    peak_kib = dict.fromkeys(commands, 0)
    cpu = dict.fromkeys(commands, float("inf"))
    codes: dict[str, set[int]] = {label: set() for label in commands}
    for _ in range(repeat):
        for label, command in commands.items():
            elapsed, rss_kib, cpu_seconds, code = _run_once(command, shell)
            codes[label].add(code)
            best[label] = min(best[label], elapsed)
            slowest[label] = max(slowest[label], elapsed)
            peak_kib[label] = max(peak_kib[label], rss_kib)
            cpu[label] = min(cpu[label], cpu_seconds)
    return [Measurement(label, best[label], peak_kib[label] / 1024, slowest[label], cpu[label],
                        frozenset(codes[label])) for label in commands]


def print_ratio(subject: Measurement, baseline: Measurement, limit: float | None = None, *,
                clean: bool = False) -> bool:
    """Print the wall-time ratio; False when over ``limit``, or with ``clean`` when a run of
    either exited other than 0 (a verify that failed early is not a fast one)."""
    ratio = subject.wall_seconds / baseline.wall_seconds
    verdict = "" if limit is None else (" OK" if ratio <= limit else f" OVER the {limit}x limit")
    print(
        f"{subject.label}: {subject.wall_seconds:.2f}s{_range(subject)}, peak RSS "
        f"{subject.peak_rss_mib:.0f} MiB; {baseline.label}: {baseline.wall_seconds:.2f}s"
        f"{_range(baseline)}, peak RSS {baseline.peak_rss_mib:.0f} MiB -> ratio {ratio:.2f}x"
        f"{verdict}"
    )
    failed = [result for result in (subject, baseline) if clean and result.exit_codes != {0}]
    for result in failed:
        print(f"  {result.label} exited {', '.join(map(str, sorted(result.exit_codes)))}: "
              "the figures above do not count")
    return not failed and (limit is None or ratio <= limit)


def print_cpu(subject: Measurement, baseline: Measurement) -> None:
    """The CPU time of both (least of the runs) and its ratio: on a loaded machine it moves
    less than wall time, so it is what to compare one's own changes by."""
    ratio = subject.cpu_seconds / baseline.cpu_seconds if baseline.cpu_seconds else float("inf")
    print(f"  CPU (user+system, least of the runs): {subject.label} {subject.cpu_seconds:.2f}s,"
          f" {baseline.label} {baseline.cpu_seconds:.2f}s -> {ratio:.2f}x")


def machine() -> str:
    """CPU model, CPUs and load, printed with the figures."""
    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{model}, {os.cpu_count()} CPUs, load {load}"


def _range(result: Measurement) -> str:
    """The " (best-slowest)" shown when the runs differ."""
    if result.slowest_seconds <= result.wall_seconds:
        return ""
    return f" ({result.wall_seconds:.2f}-{result.slowest_seconds:.2f})"
