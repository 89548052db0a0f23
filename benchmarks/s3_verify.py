"""`dashfix verify s3://...` on a large S3Checkpointer bucket served by moto (server mode, on
a loopback port of this process), against the plainest client loop that reads the same data:
boto3 listing the prefix (paginated) and GETting every object. Both are timed in the same
run, in interleaved rounds (``--repeat=N``, default 3); the CPU time of each is printed too
(moto's is in neither: it runs in this process, and its work is in both wall times).

Target (issue 9): with 20,000 checkpoint objects, verify takes at most 1.5x that loop's wall
time. ``--objects=N`` changes the size. The bucket lives as long as the moto server, so it is
written at every run: the objects by ``S3Checkpoints`` (as S3Checkpointer's save puts them),
then each thread's ``index.json`` once, newest first, as DashFlow's read-modify-writes
leave it.
"""

from __future__ import annotations

import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.harness import machine, measure_interleaved, print_cpu, print_ratio
from dashfix.testing.backends import S3Checkpoints, interop_states

BUCKET = "dashfix-bench"
PREFIX = "dashflow"
THREADS = 200
TIME_LIMIT = 1.5
WRITERS = 8
INTEROP = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "ckpt-healthy"
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}

_BASELINE = """
import sys, boto3
client = boto3.client("s3", endpoint_url=sys.argv[1])
for page in client.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2],
                                                              Prefix=sys.argv[3] + "/"):
    for item in page.get("Contents", ()):
        body = client.get_object(Bucket=sys.argv[2], Key=item["Key"])["Body"]
        body.read()
        body.close()
"""


class _Collector:
    """A stand-in for the boto3 client during the build: the writer's puts are kept, and
    sent afterwards by several threads (moto takes ~2 ms a request)."""

    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **request: Any) -> None:
        self.puts.append(request)


def _build(endpoint: str, objects: int) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    collector = _Collector()
    writer = S3Checkpoints(states=interop_states(INTEROP), client=collector, bucket=BUCKET,
                           prefix=PREFIX)
    indexes: dict[str, list[dict[str, Any]]] = {}
    for step in range(-(-objects // THREADS)):
        for thread in range(min(THREADS, objects - step * THREADS)):
            thread_id, node = f"t{thread}", f"step{step % 7}"
            saved = writer.save(thread_id, node=node, index=False)
            secs, nanos = divmod(writer.clock_ns, 1_000_000_000)
            indexes.setdefault(thread_id, []).insert(0, {
                "id": saved.checkpoint_id, "thread_id": thread_id, "node": node,
                "timestamp": {"secs": secs, "nanos": nanos}, "parent_id": saved.parent_id,
                "metadata": {}})
    for thread_id, entries in indexes.items():
        writer.write_index(thread_id, entries)
    with ThreadPoolExecutor(WRITERS) as pool:
        for _ in pool.map(lambda request: client.put_object(**request), collector.puts):
            pass


def main(argv: list[str]) -> int:
    from moto.server import ThreadedMotoServer

    objects = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--objects=")),
                   20_000)
    repeat = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--repeat=")), 3)
    os.environ.update(_CREDENTIALS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        _build(endpoint, objects)
        print(f"machine: {machine()}")
        verify, baseline = measure_interleaved({
            f"dashfix verify ({objects:,} objects)": [
                sys.executable, "-m", "dashfix", "verify",
                f"s3://{BUCKET}/{PREFIX}?endpoint_url={endpoint}", "--format", "json",
                "--progress", "never"],
            "boto3 list + GET loop": [sys.executable, "-c", _BASELINE, endpoint, BUCKET, PREFIX],
        }, repeat=repeat)
    finally:
        server.stop()
    fast = print_ratio(verify, baseline, TIME_LIMIT, clean=True)
    print_cpu(verify, baseline)
    print(f"load after: {machine()}")
    return 0 if fast else 1
