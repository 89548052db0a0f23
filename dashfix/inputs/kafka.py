"""Kafka topics as a source, and the URL and client settings that ``--to kafka://`` shares.

``kafka://HOST:PORT[,HOST:PORT...]/TOPIC`` names a topic.  Reading one is a bounded,
read-only snapshot: every partition is ``assign()``-ed (no group membership, no offset
commit: the client's ``group.id`` is a throwaway one that never joins or commits), read
from its earliest offset (or ``--since``/``--from-offset``) up to its high watermark as
seen when the snapshot starts, with ``isolation.level=read_committed``.  One snapshot reads
its partitions one after the other, in partition order; librdkafka prefetches ahead within
the partition.  A check may read several partitions at once with one snapshot per process
over the ranges taken once (``TopicSnapshot(partitions=...)``).

Client settings are librdkafka properties (``--kafka-config KEY=VALUE``,
``[tool.dashfix.kafka]``); values of secret properties never leave this module except
into the client: ``redacted`` is what outputs show.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from dashfix.errors import InputError, UsageError
from dashfix.native import message_block

SCHEME = "kafka://"
DEFAULT_TIMEOUT_SECONDS = 30.0
INSTALL_HINT = "pip install confluent-kafka (or pip install '.[kafka]' in the dashfix checkout)"
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_BROKER = re.compile(r"[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}")
_SECRET = re.compile(r"password|secret|token|credential|oauthbearer\.config|\.pem$|"
                     r"key\.location$", re.IGNORECASE)
"""librdkafka properties whose values are secret (or point at one): never shown."""
REDACTED = "***"
_FIXED = ("bootstrap.servers", "group.id", "enable.auto.commit", "enable.auto.offset.store",
          "isolation.level", "enable.partition.eof", "transactional.id")
"""Properties dashfix sets itself: a user value would break read-only or snapshot reading."""
MAX_MESSAGE_BYTES = (10 << 20) + 1024
"""librdkafka refuses records over ``message.max.bytes`` (1,000,000 by default), below
DashFlow's 1 MiB cap plus the flag byte; this admits the 10 MiB server profile."""
BATCH_RECORDS = 1024
QUEUE_KBYTES = 4 * 1024
"""Records fetched ahead per consumer (one per process that reads partitions).  Tansu
answers a fetch with ~5 MiB whatever the cap, in well under the time a check takes to
drain 4 MiB; 8 MiB held 230-243 MiB of PSS for two workers at 1,000,000 records against
202-215 MiB, with no less time spent waiting in consume() (docs/streams.md)."""
FETCH_BACKOFF_MS = 10
"""How soon librdkafka fetches again once its queue is full (``fetch.queue.backoff.ms``,
1000 by default): a check empties a queue of ``QUEUE_KBYTES`` in well under a second, so
with the default it then waited for the broker with nothing to do (a 4 MiB queue: 27-33 s
instead of 5 s to read 1,000,000 records, docs/streams.md)."""


@dataclass(frozen=True, slots=True)
class KafkaLocator:
    """Where ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC`` points.  It holds no credential
    (those are client properties), so its text is safe to show and to use as a root."""

    bootstrap: str
    topic: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.bootstrap}/{self.topic}"

    def at(self, partition: int, offset: int | None = None) -> str:
        """``kafka://host/topic#p3@12345``: a record's location (or a partition's)."""
        return f"{self}{fragment(partition, offset)}"


def fragment(partition: int, offset: int | None = None) -> str:
    """``#p3@12345``: where a record (or a partition) is inside its topic."""
    where = f"#p{partition}"
    return where if offset is None else f"{where}@{offset}"


def is_kafka_url(text: object) -> bool:
    return isinstance(text, str) and text.startswith(SCHEME)


def parse_kafka_url(text: str, what: str = "--to") -> KafkaLocator:
    """``what`` names the argument in error messages."""
    if not text.startswith(SCHEME):
        raise UsageError(f"{what} {text!r}: a Kafka topic is written as "
                         f"{SCHEME}HOST:PORT[,HOST:PORT...]/TOPIC")
    brokers, _, topic = text[len(SCHEME):].partition("/")
    if "@" in brokers:
        raise UsageError(f"{what}: credentials do not go in a kafka:// URL; set "
                         "sasl.username and sasl.password with --kafka-config or "
                         "[tool.dashfix.kafka]")
    if not all(_BROKER.fullmatch(broker) for broker in brokers.split(",")):
        raise UsageError(f"{what} {text!r}: brokers must be HOST:PORT, comma-separated")
    if not _TOPIC.fullmatch(topic) or topic in (".", ".."):
        raise UsageError(f"{what} {text!r}: a topic name is 1 to 249 letters, digits, '.', "
                         "'_' or '-'")
    return KafkaLocator(brokers, topic)


def is_secret(key: str) -> bool:
    return _SECRET.search(key) is not None


def redacted(properties: Mapping[str, str]) -> dict[str, str]:
    """``properties`` as outputs may show them: secret values replaced by ``***``."""
    return {key: REDACTED if is_secret(key) else value for key, value in properties.items()}


def parse_properties(pairs: list[str] | tuple[str, ...], what: str = "--kafka-config"
                     ) -> dict[str, str]:
    """``KEY=VALUE`` pairs; a secret's value is never quoted back in an error."""
    properties: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            shown = f"{key}=***" if sep and is_secret(key) else pair if not sep else "=..."
            raise UsageError(f"{what} expects KEY=VALUE (a librdkafka property), not {shown!r}")
        properties[key] = value
    return properties


def check_properties(properties: Mapping[str, str], what: str) -> None:
    fixed = sorted(set(properties) & set(_FIXED))
    if fixed:
        raise UsageError(f"{what}: dashfix sets {', '.join(fixed)} itself (the broker list "
                         "comes from the kafka:// URL; reading stays read-only)")


def kafka_module() -> Any:
    """confluent_kafka, or a usage error naming the extra that installs it."""
    try:
        import confluent_kafka
    except ImportError:
        raise UsageError(f"Kafka topics need confluent-kafka: {INSTALL_HINT}") from None
    return confluent_kafka


def client_config(locator: KafkaLocator, properties: Mapping[str, str],
                  **fixed: Any) -> dict[str, Any]:
    """The librdkafka configuration for ``locator``: the user's properties, then the broker
    list and dashfix's own ``fixed`` settings (``_`` in their names stands for ``.``)."""
    config: dict[str, Any] = {"log_level": 0,  # connection chatter would go to stderr
                              **properties, "bootstrap.servers": locator.bootstrap}
    config.update({key.replace("_", "."): value for key, value in fixed.items()})
    return config


def error_reason(exc: Any, properties: Mapping[str, str] | None = None) -> str:
    """The client's error text, with the value of every secret property in ``properties``
    blanked out (librdkafka quotes an invalid value back)."""
    error = exc.args[0] if getattr(exc, "args", None) else exc
    text = str(getattr(error, "str", lambda: error)())
    for key, value in (properties or {}).items():
        if value and is_secret(key):
            text = text.replace(value, REDACTED)
    return text


def make_client(factory: Any, config: dict[str, Any], properties: Mapping[str, str],
                what: KafkaLocator) -> Any:
    """``factory(config)`` (a Consumer or Producer); a property it refuses is a usage error."""
    try:
        return factory(config)
    except (kafka_module().KafkaException, ValueError, TypeError) as exc:
        raise UsageError(f"{what}: the Kafka client refused its settings: "
                         f"{error_reason(exc, properties)}") from None


# -- reading a snapshot ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SnapshotOptions:
    properties: Mapping[str, str] = field(default_factory=dict)
    since_ms: int | None = None
    """Start each partition at the first record at or after this time (offsets for times)."""
    from_offsets: Mapping[int, int] = field(default_factory=dict)
    """``--from-offset P:O``: start partition P at offset O."""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    """How long to wait on the broker at each step, and for the next record."""


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """One partition of a snapshot: offsets ``start`` up to (not including) ``end``."""

    partition: int
    low: int
    """The earliest offset the broker still holds."""
    start: int
    end: int
    """The high watermark when the snapshot started (the fetch's may raise it, see
    ``SnapshotCursor``)."""
    requested: int | None
    """The offset the user asked to start from (0 for a whole topic; None for ``--since``)."""

    @property
    def lost(self) -> int:
        """Offsets asked for that retention already deleted."""
        return 0 if self.requested is None else max(0, self.low - self.requested)

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def partition_range(partition: int, low: int, high: int, from_offset: int | None,
                    since_offset: int | None) -> PartitionRange:
    """Where a partition's snapshot starts: ``--from-offset`` when given for it, else the
    offset that offsets-for-times found for ``--since`` (``since_offset``; -1 when no record
    is that recent), else the earliest offset; always within ``low..high``."""
    requested: int | None
    if from_offset is not None:
        requested = start = from_offset
    elif since_offset is not None:
        requested = None
        start = high if since_offset < 0 else since_offset
    else:
        requested = start = 0
    return PartitionRange(partition, low, min(max(start, low), high), high, requested)


class Take(Enum):
    KEEP = "keep"
    LAST = "last"
    """Keep it; the partition's snapshot is complete."""
    BEYOND = "beyond"
    """Written after the snapshot started: not part of it; the partition is complete."""


class SnapshotCursor:
    """Where one partition's reading stands.  Offsets are not dense: control records
    (transaction markers) and, with read_committed, aborted records take offsets that the
    client never hands over, so the end is known from the offsets and the end-of-partition
    event, never by counting records."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.done = end <= 0

    def raise_end(self, fetched_high: int) -> None:
        """The high watermark that a fetch response reported.  Some brokers (Tansu 0.6)
        answer ListOffsets with a watermark below the real one after a multi-record batch:
        the fetch's is taken when higher, so the snapshot does not stop early."""
        self.end = max(self.end, fetched_high)

    def take(self, offset: int) -> Take:
        if offset >= self.end:
            self.done = True
            return Take.BEYOND
        if offset >= self.end - 1:
            self.done = True
            return Take.LAST
        return Take.KEEP

    def reached_end(self) -> None:
        """The client reached the end of the partition (its high watermark at that
        moment): nothing of the snapshot is left, even when its last offsets were control
        records that never arrive."""
        self.done = True


_Batch = TypeVar("_Batch", bound=list[Any])


def _without_errors(messages: list[Any]) -> list[Any] | None:
    return messages if all(message.error() is None for message in messages) else None


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None


class TopicSnapshot:
    """A read-only consumer on one topic and the offset range of each partition."""

    def __init__(self, locator: KafkaLocator, options: SnapshotOptions | None = None,
                 partitions: list[PartitionRange] | None = None) -> None:
        """``partitions``: the ranges of a snapshot taken before (another process reads
        some of them); else they are asked of the broker now."""
        self.locator = locator
        self.options = options or SnapshotOptions()
        check_properties(self.options.properties, "--kafka-config")
        kafka = kafka_module()
        self._kafka = kafka
        self._consumer = make_client(kafka.Consumer, client_config(
            locator, self.options.properties,
            # A group id is required by the client; this one is never joined (assign only)
            # and never committed to, so the broker keeps no trace of it.
            group_id=f"dashfix-audit-{uuid.uuid4()}", enable_auto_commit=False,
            enable_auto_offset_store=False, isolation_level="read_committed",
            enable_partition_eof=True, auto_offset_reset="earliest",
            queued_max_messages_kbytes=QUEUE_KBYTES, fetch_queue_backoff_ms=FETCH_BACKOFF_MS,
            fetch_message_max_bytes=MAX_MESSAGE_BYTES,
        ), self.options.properties, locator)
        try:
            self.partitions = self._ranges() if partitions is None else partitions
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> TopicSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._consumer.close()

    def _fail(self, what: str, exc: Any) -> InputError:
        return InputError(f"cannot read {self.locator}: {what}: "
                          f"{error_reason(exc, self.options.properties)}")

    def _ranges(self) -> list[PartitionRange]:
        kafka = self._kafka
        topic = self.locator.topic
        timeout = self.options.timeout
        try:
            metadata = self._consumer.list_topics(topic, timeout=timeout).topics[topic]
        except kafka.KafkaException as exc:
            raise self._fail("broker unreachable", exc) from None
        if metadata.error is not None:
            raise InputError(f"cannot read {self.locator}: {metadata.error.str()}")
        numbers = sorted(metadata.partitions)
        unknown = sorted(set(self.options.from_offsets) - set(numbers))
        if unknown:
            raise UsageError(f"--from-offset: {self.locator} has no partition "
                             f"{', '.join(map(str, unknown))} (it has {len(numbers)})")
        starts: dict[int, int] = {}
        if self.options.since_ms is not None:
            wanted = [kafka.TopicPartition(topic, p, self.options.since_ms) for p in numbers]
            try:
                for found in self._consumer.offsets_for_times(wanted, timeout=timeout):
                    starts[found.partition] = found.offset
            except kafka.KafkaException as exc:
                raise self._fail("offsets for --since", exc) from None
        ranges = []
        for number in numbers:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    kafka.TopicPartition(topic, number), timeout=timeout)
            except kafka.KafkaException as exc:
                raise self._fail(f"watermarks of partition {number}", exc) from None
            ranges.append(partition_range(
                number, low, high, self.options.from_offsets.get(number),
                None if self.options.since_ms is None else starts.get(number, -1)))
        return ranges

    @property
    def size(self) -> int:
        return sum(part.size for part in self.partitions)

    def read(self, part: PartitionRange, stop: int | None = None) -> Iterator[list[Any]]:
        """The records of one partition's snapshot, in offset order, in lists of the
        client's messages (``offset()``, ``key()``, ``value()``, ``timestamp()``).
        ``stop``: only those below this offset (a piece of the snapshot that another reader
        goes on from), not raised by the fetch's watermark as the snapshot's end is."""
        return self._batches(part, stop, _without_errors)

    def blocks(self, part: PartitionRange, keys: dict[int, bytes | None],
               stop: int | None = None) -> Iterator[list[tuple[int, int, bytes | None]]]:
        """``read`` as ``(offset, 0, value)`` records, the log checks' blocks, each
        record's key in ``keys`` by offset (for the block just given)."""
        return self._batches(part, stop, lambda messages: message_block(messages, keys))

    def _batches(self, part: PartitionRange, stop: int | None,
                 convert: Callable[[list[Any]], _Batch | None]) -> Iterator[_Batch]:
        """``read``, each batch as ``convert`` gives it; ``convert`` says None when a
        message of the batch is an error (the batch is then settled message by message)."""
        kafka = self._kafka
        cursor = SnapshotCursor(part.end if stop is None else stop)
        if part.start >= cursor.end:
            return
        tp = kafka.TopicPartition(self.locator.topic, part.partition, part.start)
        self._consumer.assign([tp])
        consume = self._consumer.consume
        position = part.start
        fetched = stop is not None  # only the snapshot's end takes the fetch's watermark
        waited_since = time.monotonic()
        try:
            while not cursor.done:
                # No more than the snapshot holds: a batch asked for in full at a
                # partition's end would wait out the timeout for records that never come.
                messages = consume(max(1, min(BATCH_RECORDS, cursor.end - position)), 0.2)
                if not messages:
                    if time.monotonic() - waited_since > self.options.timeout:
                        raise InputError(
                            f"cannot read {self.locator.at(part.partition)}: no record came "
                            f"for {self.options.timeout:g}s at offset {position}, before the "
                            f"snapshot's end {cursor.end}")
                    continue
                waited_since = time.monotonic()
                if not fetched:
                    fetched = True
                    _, high = self._consumer.get_watermark_offsets(tp, cached=True)
                    cursor.raise_end(high)
                # The common case: all records, none the last one.
                last = messages[-1].offset()
                batch = convert(messages) if last < cursor.end - 1 else None
                if batch is None:
                    messages = self._settle(messages, cursor, part.partition)
                    if not messages:
                        continue
                    last = messages[-1].offset()
                    batch = convert(messages)
                    assert batch is not None  # settled: no error left
                position = last + 1
                yield batch
        finally:
            self._consumer.unassign()

    def _settle(self, messages: list[Any], cursor: SnapshotCursor,
                partition: int) -> list[Any]:
        """The records of ``messages`` that belong to the snapshot, noting in ``cursor``
        where the partition's snapshot ends."""
        eof = self._kafka.KafkaError._PARTITION_EOF
        for index, message in enumerate(messages):
            error = message.error()
            if error is not None:
                if error.code() != eof:
                    raise InputError(f"cannot read {self.locator.at(partition)}: "
                                     f"{error.str()}")
                cursor.reached_end()
                return [m for m in messages[:index] if m.error() is None]
            taken = cursor.take(message.offset())
            if taken is not Take.KEEP:
                return messages[:index + (taken is Take.LAST)]
        return messages

    def records(self, part: PartitionRange) -> Iterator[KafkaRecord]:
        """``read`` as ``KafkaRecord`` values (for the paths where speed matters less)."""
        for batch in self.read(part):
            for message in batch:
                kind, stamp = message.timestamp()
                yield KafkaRecord(message.offset(), message.key(), message.value(),
                                  stamp if kind else None)

    def first_value(self) -> bytes | None:
        """The value of the first record of the snapshot (by partition), to tell what the
        topic holds; None when it is empty or starts with a tombstone."""
        for part in self.partitions:
            for batch in self.read(part):
                value: bytes | None = batch[0].value()
                return value
        return None
