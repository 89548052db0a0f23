"""``dashfix stream validate kafka://...`` against a confluent-kafka loop that only consumes.

A Tansu broker (tests/kafka_broker.py) on a loopback port gets a topic of 3 partitions
holding the records of ``build_large_capture`` (the stream_validate mix), each keyed by its
thread_id and sent to one partition per thread.  The baseline assigns the 3 partitions from
their start, polls in batches until each reports its end (the watermark the fetch shows:
Tansu's ListOffsets watermark is wrong after multi-record batches) and touches each value.
Both run as child processes in the same run, in interleaved rounds; peak RSS from
``os.wait4`` (the largest single process).  dashfix may check partitions in forked workers,
so one more run samples the PSS of its whole process tree (``/proc``, every 50 ms): that
sum is what the RSS limit is held against.  The CPU seconds of each side and of the broker
are printed too: on a shared machine they vary less than wall time.  The broker runs on
the same machine, so its work is in both wall figures.

    python -m benchmarks kafka_validate [--records=N] [--repeat=N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from pathlib import Path

import orjson

from benchmarks.harness import measure_interleaved, print_ratio
from dashfix.checks.stream.frame import validate_frame
from dashfix.checks.stream.log import header_thread
from dashfix.checks.stream.scan import scan_record
from dashfix.context import CONSUMER_LIMIT
from dashfix.formats import kcat
from dashfix.testing.streams import build_large_capture

SPEED_LIMIT = 1.3
RSS_LIMIT_MIB = 250
PARTITIONS = 3

_CONSUME_BASELINE = textwrap.dedent(
    """
    import sys, uuid
    from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING
    bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": str(uuid.uuid4()),
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "isolation.level": "read_committed", "log_level": 0})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    eof = KafkaError._PARTITION_EOF
    ended, count, size = set(), 0, 0
    while len(ended) < partitions:
        for message in consumer.consume(1024, 1.0):
            error = message.error()
            if error is not None:
                if error.code() == eof:
                    ended.add(message.partition())
                continue
            value = message.value()
            count += 1
            size += len(value) if value is not None else 0
    consumer.close()
    print(count, size)
    """
)


def _thread_of(value: bytes) -> str:
    scanned = scan_record(value, CONSUMER_LIMIT, False)
    if scanned is not None:
        return str(scanned[1])
    message = validate_frame(value, limit=CONSUMER_LIMIT, path="", record=0, offset=0).message
    return header_thread(message) or "" if message is not None else ""


def _produce(bootstrap: str, topic: str, capture: Path) -> int:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "log_level": 0,
                         "queue.buffering.max.messages": 200_000,
                         "message.max.bytes": 2_000_000})
    count = 0
    with open(capture, "rb") as handle:
        size = capture.stat().st_size
        for block in kcat.read_blocks(handle, size, max_value_bytes=CONSUMER_LIMIT + 1):
            assert isinstance(block, list)
            for _, _, value in block:
                assert value is not None
                key = _thread_of(value).encode()
                while True:
                    try:
                        producer.produce(topic, value=value, key=key,
                                         partition=zlib.crc32(key) % PARTITIONS)
                        break
                    except BufferError:
                        producer.poll(0.1)
                count += 1
            producer.poll(0)
    assert producer.flush(120) == 0
    return count


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``)."""
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                for child in handle.read().split():
                    pids.extend(_tree(int(child)))
    except OSError:
        pass  # it exited meanwhile
    return pids


def _pss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except OSError:
            pass
    return total


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sampled(command: list[str], broker_pid: int) -> tuple[float, float]:
    """Peak PSS (MiB) of ``command``'s process tree, and the broker's CPU seconds meanwhile."""
    broker_before = _cpu_seconds(broker_pid)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _pss_kib(_tree(process.pid)))
        time.sleep(0.05)
    return peak / 1024, _cpu_seconds(broker_pid) - broker_before


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks kafka_validate")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from tests.kafka_broker import run_broker

    with tempfile.TemporaryDirectory(prefix="dashfix-bench-") as tmp:
        capture = build_large_capture(Path(tmp) / "capture.kcat", records=args.records)
        for broker in run_broker():
            topic = "bench-events"
            broker.create_topic(topic, PARTITIONS)
            sent = _produce(broker.bootstrap, topic, capture)
            print(f"topic: {sent} records in {PARTITIONS} partitions "
                  f"({capture.stat().st_size / (1 << 20):.0f} MiB of values)")
            url = broker.url(topic)
            validate = [sys.executable, "-m", "dashfix", "stream", "validate", url,
                        "--progress", "never", "--format", "json"]
            baseline = [sys.executable, "-c", _CONSUME_BASELINE, broker.bootstrap, topic,
                        str(PARTITIONS)]
            # measure() keeps no output: check once that dashfix read the whole snapshot.
            check = subprocess.run(validate, capture_output=True, text=True, check=False)
            document = orjson.loads(check.stdout)
            if document["summary"]["checked"]["records"] != sent or document["findings"]:
                print(f"dashfix read {document['summary']['records']} of {sent} records, "
                      f"with {len(document['findings'])} findings (expected none)")
                return 1
            dashfix, consume = measure_interleaved(
                {"dashfix stream validate kafka://": validate,
                 "confluent-kafka consume loop": baseline}, repeat=args.repeat)
            ok = print_ratio(dashfix, consume, SPEED_LIMIT)
            used = [resource.getrusage(resource.RUSAGE_CHILDREN)]
            baseline_pss, _ = _sampled(baseline, broker.pid)
            used.append(resource.getrusage(resource.RUSAGE_CHILDREN))
            pss, broker_cpu = _sampled(validate, broker.pid)
            used.append(resource.getrusage(resource.RUSAGE_CHILDREN))
            cpu = [after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                   for before, after in itertools.pairwise(used)]
            print(f"  CPU seconds of one run: dashfix {cpu[1]:.2f}, consume loop {cpu[0]:.2f}, "
                  f"broker during dashfix {broker_cpu:.2f}")
            rss_ok = pss <= RSS_LIMIT_MIB
            print(f"  peak PSS of dashfix's processes {pss:.0f} MiB (limit {RSS_LIMIT_MIB}; "
                  f"largest process {dashfix.peak_rss_mib:.0f} MiB RSS), baseline "
                  f"{baseline_pss:.0f} MiB: {'OK' if rss_ok else 'OVER'}")
            return 0 if ok and rss_ok else 1
    return 1
