"""``dashfix stream validate kafka://...`` against a confluent-kafka loop that only consumes.

A Tansu broker (tests/kafka_broker.py) on a loopback port gets a topic of 3 partitions
holding the records of ``build_large_capture`` (the stream_validate mix), each keyed by its
thread_id and sent to one partition per thread.  The baseline assigns the 3 partitions from
their start, polls in batches until each reports its end (the watermark the fetch shows:
Tansu's ListOffsets watermark is wrong after multi-record batches) and touches each value.
Both run as child processes in the same run, in interleaved rounds; peak RSS from
``os.wait4``.  The broker runs on the same machine, so its work is in both figures.

    python -m benchmarks kafka_validate [--records=N] [--repeat=N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
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
            rss_ok = dashfix.peak_rss_mib <= RSS_LIMIT_MIB
            print(f"  peak RSS {dashfix.peak_rss_mib:.0f} MiB (limit {RSS_LIMIT_MIB}), "
                  f"baseline {consume.peak_rss_mib:.0f} MiB: {'OK' if rss_ok else 'OVER'}")
            return 0 if ok and rss_ok else 1
    return 1
