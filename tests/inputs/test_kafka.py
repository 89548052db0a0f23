"""The Kafka source: URLs, client properties and their secrets, the snapshot's offset logic
(unit tests), and reading a real Kafka-protocol broker (tests/kafka_broker.py)."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from dashfix.errors import InputError, UsageError
from dashfix.inputs.kafka import (
    KafkaLocator,
    PartitionRange,
    SnapshotCursor,
    SnapshotOptions,
    Take,
    TopicSnapshot,
    check_properties,
    parse_kafka_url,
    parse_properties,
    partition_range,
    redacted,
)
from dashfix.testing.streams import healthy_values
from tests.kafka_broker import Broker, free_port


def test_kafka_urls_are_parsed_and_checked() -> None:
    locator = parse_kafka_url("kafka://h1:9092,10.0.0.2:19092/dash.stream-1")
    assert locator == KafkaLocator("h1:9092,10.0.0.2:19092", "dash.stream-1")
    assert locator.at(3, 12345) == "kafka://h1:9092,10.0.0.2:19092/dash.stream-1#p3@12345"
    for bad in ("h:9092/t", "kafka://h/t", "kafka://h:9092/", "kafka://h:9092/a b",
                "kafka://h:9092/..", "kafka://h:9092/" + "t" * 250):
        with pytest.raises(UsageError):
            parse_kafka_url(bad)


def test_credentials_in_a_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(UsageError) as refused:
        parse_kafka_url("kafka://user:hunter2@h:9092/t", "INPUT")
    assert "hunter2" not in str(refused.value)
    assert "sasl.password" in str(refused.value)


def test_secret_properties_are_redacted() -> None:
    properties = parse_properties(["security.protocol=SASL_SSL", "sasl.password=hunter2",
                                   "ssl.key.password=k3y", "sasl.oauthbearer.client.secret=s",
                                   "x.token=t"])
    assert redacted(properties) == {
        "security.protocol": "SASL_SSL", "sasl.password": "***", "ssl.key.password": "***",
        "sasl.oauthbearer.client.secret": "***", "x.token": "***"}
    with pytest.raises(UsageError) as bad:
        parse_properties(["sasl.password"])
    assert "expects KEY=VALUE" in str(bad.value)


def test_properties_that_would_break_read_only_reading_are_refused() -> None:
    for key in ("group.id", "enable.auto.commit", "isolation.level", "bootstrap.servers"):
        with pytest.raises(UsageError):
            check_properties({key: "x"}, "--kafka-config")


# -- the offsets logic (no broker needed) ---------------------------------------------------

def test_offsets_taken_by_control_records_are_not_records_and_the_end_event_ends() -> None:
    """Offsets 3 and 4 are a transaction's commit marker and an aborted record: a
    read_committed client never hands them over.  The snapshot (end 5) still ends, on the
    client's end-of-partition event, without counting them."""
    cursor = SnapshotCursor(end=5)
    assert [cursor.take(offset) for offset in (0, 1, 2)] == [Take.KEEP] * 3
    assert not cursor.done
    cursor.reached_end()
    assert cursor.done


def test_the_snapshot_ends_at_the_watermark_taken_at_the_start() -> None:
    cursor = SnapshotCursor(end=3)
    assert [cursor.take(offset) for offset in (0, 1, 2)] == [Take.KEEP, Take.KEEP, Take.LAST]
    assert cursor.done
    later = SnapshotCursor(end=3)
    assert later.take(3) is Take.BEYOND and later.done  # written after the start


def test_a_fetched_watermark_above_the_listed_one_wins() -> None:
    """Tansu 0.6 lists the first offset + 1 of a multi-record batch as the watermark."""
    cursor = SnapshotCursor(end=1)
    cursor.raise_end(5)
    assert cursor.take(0) is Take.KEEP and cursor.take(4) is Take.LAST
    cursor.raise_end(2)
    assert cursor.end == 5


def test_where_a_partition_snapshot_starts() -> None:
    """Tansu 0.6 answers offsets-for-times with the earliest offset whatever the time, so
    --since is tested here, on what the broker's answer becomes."""
    assert partition_range(0, 5, 50, None, None) == PartitionRange(0, 5, 5, 50, 0)
    assert partition_range(0, 5, 50, 20, None) == PartitionRange(0, 5, 20, 50, 20)
    assert partition_range(0, 5, 50, 70, None).start == 50
    assert partition_range(0, 5, 50, 20, 30).start == 20  # --from-offset wins for P
    assert partition_range(0, 5, 50, None, 30) == PartitionRange(0, 5, 30, 50, None)
    assert partition_range(0, 5, 50, None, -1).start == 50  # no record that recent
    assert partition_range(0, 5, 50, None, 2).start == 5


def test_deleted_offsets_are_counted_from_the_offset_asked_for() -> None:
    assert PartitionRange(0, low=120, start=120, end=200, requested=0).lost == 120
    assert PartitionRange(1, low=120, start=150, end=200, requested=150).lost == 0
    assert PartitionRange(2, low=120, start=120, end=200, requested=100).lost == 20
    assert PartitionRange(3, low=120, start=130, end=200, requested=None).lost == 0
    assert PartitionRange(4, low=0, start=0, end=0, requested=0).size == 0


# -- against the broker ----------------------------------------------------------------------

def _snapshot(broker: Broker, topic: str, **options: object) -> TopicSnapshot:
    return TopicSnapshot(parse_kafka_url(broker.url(topic)),
                         SnapshotOptions(**options))  # type: ignore[arg-type]


def _offsets(snapshot: TopicSnapshot) -> dict[int, list[int]]:
    return {part.partition: [r.offset for r in snapshot.records(part)]
            for part in snapshot.partitions}


def test_a_snapshot_reads_every_partition_to_its_end(kafka_broker: Broker) -> None:
    kafka_broker.create_topic("snap-all", 3)
    values = healthy_values()
    kafka_broker.produce("snap-all", [(n % 3, b"k", v) for n, v in enumerate(values)])
    with _snapshot(kafka_broker, "snap-all") as snapshot:
        assert [(p.partition, p.start, p.end) for p in snapshot.partitions] == [
            (0, 0, 4), (1, 0, 4), (2, 0, 4)]
        assert snapshot.size == len(values)
        assert _offsets(snapshot) == {p: [0, 1, 2, 3] for p in range(3)}


def test_a_multi_record_batch_is_read_whole(kafka_broker: Broker) -> None:
    """Tansu answers ListOffsets with a watermark of 1 after this batch; the snapshot
    still reads all five records (the fetch's watermark)."""
    kafka_broker.create_topic("snap-batch", 1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 200,
                         "log_level": 0})
    for value in healthy_values()[:5]:
        producer.produce("snap-batch", value=value, key=b"t-a", partition=0)
    assert producer.flush(10) == 0
    with _snapshot(kafka_broker, "snap-batch") as snapshot:
        assert _offsets(snapshot) == {0: [0, 1, 2, 3, 4]}


def test_a_snapshot_starts_where_asked(kafka_broker: Broker) -> None:
    kafka_broker.create_topic("snap-from", 2)
    kafka_broker.produce("snap-from", [(n % 2, b"k", v) for n, v in
                                       enumerate(healthy_values()[:6])])
    with _snapshot(kafka_broker, "snap-from", from_offsets={1: 2}) as snapshot:
        assert _offsets(snapshot) == {0: [0, 1, 2], 1: [2]}
    with pytest.raises(UsageError, match="no partition 7"):
        _snapshot(kafka_broker, "snap-from", from_offsets={7: 0})


def test_reading_leaves_no_group_and_no_committed_offset(kafka_broker: Broker) -> None:
    kafka_broker.create_topic("snap-readonly", 3)
    kafka_broker.produce("snap-readonly", [(n % 3, b"k", v) for n, v in
                                           enumerate(healthy_values())])
    before = kafka_broker.group_ids()
    for _ in range(2):
        with _snapshot(kafka_broker, "snap-readonly") as snapshot:
            assert sum(len(records) for records in _offsets(snapshot).values()) == 12
    assert kafka_broker.group_ids() == before
    assert not [group for group in before if group.startswith("dashfix")]
    # The check can fail: a consumer that commits does leave its group behind.
    committer = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": "control",
                          "enable.auto.commit": False, "log_level": 0})
    try:
        committer.commit(offsets=[TopicPartition("snap-readonly", 0, 1)], asynchronous=False)
    finally:
        committer.close()
    assert "control" in kafka_broker.group_ids()


def test_a_missing_topic_or_broker_is_an_input_error(kafka_broker: Broker) -> None:
    with pytest.raises(InputError, match="snap-absent"):
        _snapshot(kafka_broker, "snap-absent", timeout=5.0)
    locator = parse_kafka_url(f"kafka://127.0.0.1:{free_port()}/t")
    with pytest.raises(InputError, match=r"cannot read kafka://127\.0\.0\.1:"):
        TopicSnapshot(locator, SnapshotOptions(timeout=1.0))
