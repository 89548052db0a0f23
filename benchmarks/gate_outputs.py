"""What SARIF output costs: a run that yields 10,000 findings, with and without SARIF.

Target (issue 4): producing SARIF for 10,000 findings adds at most 10% to the run.
The folder holds 10,000 dangling symlinks, each one DF002 finding. Discovery alone finds
them, so the checks are as cheap as a run can be and rendering weighs as much as it ever
will: a conservative setting for this ratio.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks.harness import measure, print_ratio
from dashfix.testing.gate import symlink_farm

FINDINGS = 10_000
LIMIT = 1.10


def main(argv: list[str]) -> int:
    count = FINDINGS // 10 if "--quick" in argv else FINDINGS
    with tempfile.TemporaryDirectory(prefix="dashfix-bench-gate-") as scratch:
        folder = Path(scratch) / "artifacts"
        symlink_farm(folder, count)
        sarif_file = Path(scratch) / "out.sarif"
        base = [sys.executable, "-m", "dashfix", "verify", str(folder), "--fail-on", "never",
                "--progress", "never"]
        json_only = measure(f"verify --format json ({count} findings)", [*base, "-f", "json"])
        json_and_sarif = measure(
            "verify --format json --output sarif:FILE",
            [*base, "-f", "json", "--output", f"sarif:{sarif_file}"],
        )
        sarif_only = measure("verify --format sarif", [*base, "-f", "sarif"])
        added = print_ratio(json_and_sarif, json_only, LIMIT)
        swapped = print_ratio(sarif_only, json_only, LIMIT)
    return 0 if added and swapped else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
