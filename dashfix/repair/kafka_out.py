"""Replay into a Kafka topic, through confluent-kafka (``pip install confluent-kafka``,
or the ``kafka`` extra: ``pip install '.[kafka]'`` from the checkout).

A replay sends nothing until it has read its whole input: the records wait in a
temporary file, so a replay that fails or is interrupted on the way leaves the topic
untouched, as a file replay appears whole or not at all.  They are then produced in one
Kafka transaction: on a broker that supports transactions, consumers that read committed
records (librdkafka's default, and so DashFlow's consumer's) see all of them or, if the
broker fails part-way, none.  Records are keyed by thread_id, as DashFlow's producer keys
them (spec section 2), so the topic's partitioner keeps each thread's records in order.
"""

from __future__ import annotations

import struct
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO

from dashfix.errors import OutputError
from dashfix.inputs.kafka import (
    DEFAULT_TIMEOUT_SECONDS,
    MAX_MESSAGE_BYTES,
    KafkaLocator,
    check_properties,
    client_config,
    error_reason,
    kafka_module,
    make_client,
)


class _Spool:
    """The replay's records, kept in a temporary file until the replay completes: a
    replay that fails or is interrupted while it reads its input sends nothing."""

    _HEAD = struct.Struct(">qII")
    """timestamp_us, key length, value length."""

    def __init__(self, spool: BinaryIO) -> None:
        self.spool = spool

    def write(self, value: bytes, timestamp_us: int, key: bytes) -> None:
        self.spool.write(self._HEAD.pack(timestamp_us, len(key), len(value)) + key + value)

    def records(self) -> Iterator[tuple[bytes, int, bytes]]:
        self.spool.seek(0)
        read = self.spool.read
        while head := read(self._HEAD.size):
            timestamp_us, key_size, value_size = self._HEAD.unpack(head)
            key = read(key_size)
            yield read(value_size), timestamp_us, key


class _Deliveries:
    """Why records were not delivered (the first few), from the producer's reports."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __call__(self, error: Any, _message: Any) -> None:
        if error is not None and len(self.failures) < 5:
            self.failures.append(str(error))


@contextmanager
def kafka_writer(target: KafkaLocator, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 properties: Mapping[str, str] | None = None) -> Iterator[_Spool]:
    """A writer whose records reach ``target`` only if the block completes: the broker is
    reached first (so an unreachable one fails before any input is read), the records are
    spooled, then produced in one transaction and committed."""
    properties = properties or {}
    check_properties(properties, "--kafka-config")
    kafka = kafka_module()
    KafkaException = kafka.KafkaException
    producer = make_client(kafka.Producer, client_config(
        target, properties, transactional_id=f"dashfix-replay-{uuid.uuid4()}",
        enable_idempotence=True, message_max_bytes=MAX_MESSAGE_BYTES), properties, target)
    try:
        topic = producer.list_topics(target.topic, timeout=timeout).topics[target.topic]
        if topic.error is not None:
            raise OutputError(f"{target}: {topic.error.str()} (dashfix does not create "
                              "topics)")
        producer.init_transactions(timeout)
    except KafkaException as exc:
        raise OutputError(f"cannot reach {target}: {error_reason(exc, properties)}") from None
    with tempfile.TemporaryFile(prefix="dashfix-replay-") as spool_file:
        spool = _Spool(spool_file)
        yield spool
        deliveries = _Deliveries()
        try:
            producer.begin_transaction()
            for value, timestamp_us, key in spool.records():
                _produce(producer, target.topic, value, timestamp_us, key, deliveries)
            producer.commit_transaction(timeout)
        except KafkaException as exc:
            _abort(producer, timeout)
            detail = "; ".join(deliveries.failures) or error_reason(exc, properties)
            raise OutputError(f"writing to {target} failed, the transaction was aborted: "
                              f"{detail}") from None
        except BaseException:
            _abort(producer, timeout)
            raise


def _produce(producer: Any, topic: str, value: bytes, timestamp_us: int, key: bytes,
             deliveries: _Deliveries) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key,
                             timestamp=max(timestamp_us // 1000, 0), on_delivery=deliveries)
            return
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.5)


def _abort(producer: Any, timeout: float) -> None:
    KafkaException = kafka_module().KafkaException
    # If the abort fails too, the transaction times out on the broker, never committed.
    with suppress(KafkaException):
        producer.abort_transaction(timeout)
