"""``dashfix stream replay`` against ``dashfix stream validate`` on the same capture.

Replay validates every record with the same frame checks and then writes it, so validate is
its natural baseline: the ratio is the cost of writing (kcat: copying the framed bytes;
jsonl: unframing, decompressing the 5% zstd StateDiffs and base64). Peak RSS must stay
bounded whatever the capture size (streamed in, streamed out).

    python -m benchmarks replay [--records=N] [--repeat=N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import measure, print_ratio
from dashfix.testing.streams import build_large_capture

RSS_LIMIT_MIB = 200


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks replay")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="dashfix-bench-") as tmp:
        workdir = Path(tmp)
        capture = build_large_capture(workdir / "capture.kcat", records=args.records)
        print(f"capture: {args.records} records, {capture.stat().st_size / (1 << 20):.0f} MiB")
        dashfix = [sys.executable, "-m", "dashfix", "stream"]
        baseline = measure("dashfix stream validate", [*dashfix, "validate", str(capture)],
                           repeat=args.repeat)
        for to_format in ("kcat", "jsonl"):
            out = workdir / f"out.{to_format}"
            command = [*dashfix, "replay", str(capture), "--to", str(out), "--to-format",
                       to_format]
            replay = measure(f"dashfix stream replay --to-format {to_format}", command,
                             repeat=args.repeat)
            # measure() keeps no exit status: check that the timed run replayed everything.
            check = subprocess.run(command, capture_output=True, text=True, check=False)
            if check.returncode != 0:
                print(f"  replay exited {check.returncode}: {check.stdout.strip()[-300:]}")
                ok = False
            print_ratio(replay, baseline)
            rss_ok = replay.peak_rss_mib <= RSS_LIMIT_MIB
            print(f"  peak RSS {replay.peak_rss_mib:.0f} MiB (limit {RSS_LIMIT_MIB}): "
                  f"{'OK' if rss_ok else 'OVER'}")
            ok &= rss_ok
            out.unlink()
    return 0 if ok else 1
