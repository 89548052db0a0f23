"""``dashfix stream validate`` against a minimal decode loop, on a kcat capture and a JSONL log.

The baseline is the least a validator must do: split the capture into records (and
decompress 0x01 frames, which the protobuf parser cannot read otherwise) and call the
protobuf parser on each.  Both run as child processes in the same run; wall time is the
best of ``--repeat`` runs, peak RSS comes from ``os.wait4``.

    python -m benchmarks stream_validate [--records=N] [--jsonl-bytes=N] [--repeat=N]

(``=`` form: the benchmark runner takes every other word for a benchmark name; 0 skips
that input.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from benchmarks.harness import measure, print_ratio
from dashfix.testing.streams import build_large_capture, build_large_jsonl

SPEED_LIMIT = 1.5
RSS_LIMIT_MIB = 200

_KCAT_BASELINE = textwrap.dedent(
    """
    import struct, sys, zstandard
    from dashfix.formats.proto.dashstream_pb2 import DashStreamMessage
    decompress = zstandard.ZstdDecompressor().decompress
    unpack = struct.Struct(">i").unpack
    parse = DashStreamMessage.FromString
    with open(sys.argv[1], "rb", buffering=1 << 20) as capture:
        read = capture.read
        while len(prefix := read(4)) == 4:
            (length,) = unpack(prefix)
            if length > 0:
                value = read(length)
                parse(decompress(value[1:]) if value[0] == 1 else value[1:])
    """
)

_JSONL_BASELINE = textwrap.dedent(
    """
    import binascii, sys, orjson
    from dashfix.formats.proto.dashstream_pb2 import DashStreamMessage
    parse = DashStreamMessage.FromString
    with open(sys.argv[1], "rb", buffering=1 << 20) as log:
        for line in log:
            parse(binascii.a2b_base64(orjson.loads(line)["data"]))
    """
)


def _compare(label: str, path: Path, baseline_code: str, workdir: Path, repeat: int) -> bool:
    script = workdir / f"baseline_{label}.py"
    script.write_text(baseline_code)
    size_mib = path.stat().st_size / (1 << 20)
    print(f"{label}: {path.name}, {size_mib:.0f} MiB")
    baseline = measure("minimal decode loop", [sys.executable, str(script), str(path)],
                       repeat=repeat)
    command = [sys.executable, "-m", "dashfix", "stream", "validate", str(path)]
    dashfix = measure("dashfix stream validate", command, repeat=repeat)
    # measure() keeps no exit status: make sure the timed runs really validated the log.
    check = subprocess.run(command, capture_output=True, text=True, check=False)
    if check.returncode != 0:
        print(f"  dashfix exited {check.returncode}: {check.stderr.strip()[-300:]}")
        return False
    speed_ok = print_ratio(dashfix, baseline, SPEED_LIMIT)
    rss_ok = dashfix.peak_rss_mib <= RSS_LIMIT_MIB
    print(f"  peak RSS {dashfix.peak_rss_mib:.0f} MiB (limit {RSS_LIMIT_MIB}): "
          f"{'OK' if rss_ok else 'OVER'}; baseline {baseline.peak_rss_mib:.0f} MiB")
    return speed_ok and rss_ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks stream_validate")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--jsonl-bytes", type=int, default=1_000_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dashfix-bench-") as tmp:
        workdir = Path(tmp)
        ok = True
        if args.records:
            capture = build_large_capture(workdir / "capture.kcat", records=args.records)
            ok &= _compare("kcat", capture, _KCAT_BASELINE, workdir, args.repeat)
            capture.unlink()
        if args.jsonl_bytes:
            log = build_large_jsonl(workdir / "dashstream-events.jsonl", args.jsonl_bytes)
            ok &= _compare("jsonl", log, _JSONL_BASELINE, workdir, args.repeat)
    return 0 if ok else 1
