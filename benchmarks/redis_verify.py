"""`dashfix verify redis://...` on a large RedisCheckpointer store, against the plainest client
loop that reads the same keys: redis-py SCANning the checkpoint hashes and the per-thread
ZSETs and pipelining HGETALL / ZRANGE WITHSCORES over each SCAN page. Both are timed in the
same run, in interleaved rounds (``--repeat=N``, default 3); the CPU time of each is printed
too (the server's is in neither).

Target (issue 9): with 100,000 checkpoints, verify takes at most 1.5x that loop's wall time.
``--checkpoints=N`` changes the size. The keys are written once by ``RedisCheckpoints`` (as
RedisCheckpointer's save does: HSET, ZADD, SADD in one MULTI/EXEC), under prefix
``dashfix_bench`` of the server named by DASHFIX_TEST_REDIS (default
redis://127.0.0.1:6379/0), and kept for the next run; ``--rebuild`` deletes them first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from benchmarks.harness import machine, measure_interleaved, print_cpu, print_ratio
from dashfix.testing.backends import RedisCheckpoints, interop_states

PREFIX = "dashfix_bench"
THREADS = 1000
TIME_LIMIT = 1.5
INTEROP = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "ckpt-healthy"

_BASELINE = """
import sys, redis
client = redis.Redis.from_url(sys.argv[1])
for pattern, read in ((sys.argv[2] + ":checkpoint:*", lambda pipe, key: pipe.hgetall(key)),
                      (sys.argv[2] + ":thread:*:checkpoints",
                       lambda pipe, key: pipe.zrange(key, 0, -1, withscores=True))):
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor, match=pattern, count=1000)
        pipe = client.pipeline(transaction=False)
        for key in keys:
            read(pipe, key)
        for _values in pipe.execute():
            pass
        if cursor == 0:
            break
"""


def _build(base: str, checkpoints: int, rebuild: bool) -> None:
    import redis

    client = redis.Redis.from_url(base)
    present = sum(1 for _ in client.scan_iter(match=f"{PREFIX}:checkpoint:*", count=1000))
    if present == checkpoints and not rebuild:
        return
    keys = list(client.scan_iter(match=f"{PREFIX}:*", count=1000))
    for at in range(0, len(keys), 1000):
        client.delete(*keys[at:at + 1000])
    writer = RedisCheckpoints(states=interop_states(INTEROP), client=client, prefix=PREFIX)
    for step in range(-(-checkpoints // THREADS)):
        for thread in range(min(THREADS, checkpoints - step * THREADS)):
            writer.save(f"t{thread}", node=f"step{step % 7}")
    client.close()


def main(argv: list[str]) -> int:
    checkpoints = next((int(a.split("=", 1)[1]) for a in argv
                        if a.startswith("--checkpoints=")), 100_000)
    repeat = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--repeat=")), 3)
    base = os.environ.get("DASHFIX_TEST_REDIS", "redis://127.0.0.1:6379/0")
    _build(base, checkpoints, "--rebuild" in argv)
    print(f"machine: {machine()}")
    verify, baseline = measure_interleaved({
        f"dashfix verify ({checkpoints:,} checkpoints)": [
            sys.executable, "-m", "dashfix", "verify", f"{base}?prefix={PREFIX}",
            "--format", "json", "--progress", "never"],
        "redis-py SCAN + pipelined HGETALL/ZRANGE loop": [
            sys.executable, "-c", _BASELINE, base, PREFIX],
    }, repeat=repeat)
    fast = print_ratio(verify, baseline, TIME_LIMIT, clean=True)
    print_cpu(verify, baseline)
    print(f"load after: {machine()}")
    return 0 if fast else 1
