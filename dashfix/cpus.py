"""How many CPUs this process may run on: the parallel paths size themselves by it."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs in this process's affinity mask (a container may allow fewer than the
    machine has); the machine's count where there is no such call (macOS)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
