"""What SARIF output costs on a run that yields 10,000 findings.

Target (issue 4): producing SARIF for 10,000 findings adds at most 10% to the run.
The artifact folder is the checkpoint benchmark's generated store (100,000 files) plus
10,000 dangling symlinks beside it, each one DF002 finding: the findings do not depend on
which checks are registered, while the run reads the store as ``verify`` does.

Two ratios against ``verify --format json`` in the same run: the same run also writing
SARIF (``--output sarif:FILE``), and SARIF instead of JSON on stdout. Then the two
renderers timed in-process on the same report, which is what SARIF adds without the noise
of whole runs (measured: about 0.05 s for 10,000 findings). ``--quick`` shrinks everything
tenfold.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import measure_interleaved, print_ratio
from dashfix.context import VerifyOptions
from dashfix.report import render
from dashfix.testing.checkpoints import build_large_store
from dashfix.testing.gate import symlink_farm
from dashfix.verify import verify

FILES = 100_000
FINDINGS = 10_000
LIMIT = 1.10
REPEAT = 5


def _runs_cleanly(command: Sequence[str]) -> bool:
    """A timing only means something if the command worked (this also warms the cache)."""
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    if done.returncode != 0:
        print(f"FAILED (exit {done.returncode}): {' '.join(command)}\n{done.stderr.decode()}")
    return done.returncode == 0


def main(argv: list[str]) -> int:
    scale = 10 if "--quick" in argv else 1
    files, findings = FILES // scale, FINDINGS // scale
    with tempfile.TemporaryDirectory(prefix="dashfix-bench-gate-") as scratch:
        folder = Path(scratch) / "artifacts"
        build_large_store(folder / "store", files=files)
        symlink_farm(folder / "links", findings)
        sarif_file = Path(scratch) / "out.sarif"
        base = [sys.executable, "-m", "dashfix", "verify", str(folder), "--fail-on", "never",
                "--progress", "never"]
        commands = {
            "json": [*base, "-f", "json"],
            "json+sarif": [*base, "-f", "json", "--output", f"sarif:{sarif_file}"],
            "sarif": [*base, "-f", "sarif"],
        }
        if not all(_runs_cleanly(command) for command in commands.values()):
            return 1
        json_only, json_and_sarif, sarif_only = measure_interleaved({
            f"verify --format json ({files} store files, {findings} findings)": commands["json"],
            "verify --format json --output sarif:FILE": commands["json+sarif"],
            "verify --format sarif": commands["sarif"],
        }, repeat=REPEAT)
        added = print_ratio(json_and_sarif, json_only, LIMIT)
        swapped = print_ratio(sarif_only, json_only, LIMIT)
        _print_render_costs(folder, json_only.wall_seconds)
    return 0 if added and swapped else 1


def _print_render_costs(folder: Path, run_seconds: float) -> None:
    """The renderers timed in-process on the run's report: what SARIF really adds, without
    the run-to-run noise of a shared machine that the ratios above carry."""
    report = verify([folder], VerifyOptions(fail_on=None))
    costs = {}
    for fmt in ("json", "sarif"):
        best = float("inf")
        for _ in range(REPEAT):
            start = time.perf_counter()
            render(fmt, report, io.StringIO())
            best = min(best, time.perf_counter() - start)
        costs[fmt] = best
    print(f"rendering {len(report.findings)} findings in-process: json {costs['json']:.3f}s, "
          f"sarif {costs['sarif']:.3f}s = {costs['sarif'] / run_seconds:.1%} of the json run")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
