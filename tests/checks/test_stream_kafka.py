"""Checking a Kafka topic: the Kafka-only codes, the stream checks per partition, the
locations, and DLQ reconciliation between two topics, against a real broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashfix.checks.dlq import AgainstLog, check_dump
from dashfix.checks.stream.kafka import check_topic, locate, offsets_deleted
from dashfix.checks.stream.kafka_parallel import check_partitions, plan
from dashfix.checks.stream.log import LogResult, check_log
from dashfix.errors import InputError
from dashfix.findings import Finding
from dashfix.inputs.kafka import PartitionRange, SnapshotOptions, parse_kafka_url
from dashfix.inputs.sources import TopicSource
from dashfix.inputs.streams import ReadOptions
from dashfix.repair.capture import capture_topic
from dashfix.rules import stream as rules
from dashfix.rules.dlq import DLQ_RECORD_MISSING
from dashfix.testing.dlq import invalid_payload, library_record
from dashfix.testing.streams import Messages, encode_frame
from tests.kafka_broker import Broker

KAFKA_CODES = {rule.code for rule in rules.KAFKA_RULES}
FAULTS = "faults"
PLANTED = {
    (rules.KEY_MISSING.code, 0, 2), (rules.SEQUENCE_GAP.code, 0, 5),
    (rules.KEY_NOT_THREAD.code, 1, 0), (rules.THREAD_SPLIT.code, 2, 0),
    (rules.NULL_RECORD.code, 2, 1),
}
"""(code, partition, offset) of every fault ``_faults`` plants."""


def _faults(broker: Broker) -> str:
    """A 3-partition topic with one fault of each kind the broker can show."""
    msgs = Messages()

    def frame(thread: str, sequence: int) -> bytes:
        return encode_frame(msgs.event(thread, sequence))

    broker.create_topic(FAULTS, 3)
    broker.produce(FAULTS, [
        (0, b"t-a", frame("t-a", 1)), (0, b"t-a", frame("t-a", 2)),
        (0, None, frame("t-a", 3)),  # no key
        (0, b"t-c", frame("t-c", 1)), (0, b"t-c", frame("t-c", 2)),
        (0, b"t-c", frame("t-c", 4)),  # sequence 3 is missing
        (1, b"t-x", frame("t-b", 1)),  # keyed by another thread
        (1, b"t-b", frame("t-b", 2)),
        (2, b"t-a", frame("t-a", 4)),  # t-a began in partition 0
        (2, b"t-d", None),  # a tombstone
    ])
    return broker.url(FAULTS)


@pytest.fixture(scope="module")
def faults(kafka_broker: Broker) -> str:
    return _faults(kafka_broker)


def _where(finding: Finding) -> tuple[str, int, int]:
    return finding.code, finding.details["partition"], finding.details["offset"]


def test_every_planted_fault_is_found_at_its_partition_and_offset(faults: str) -> None:
    result = check_topic(TopicSource(parse_kafka_url(faults)))
    assert {_where(f) for f in result.findings} == PLANTED
    assert {code for code, _, _ in PLANTED} >= KAFKA_CODES - {rules.OFFSETS_DELETED.code}
    assert result.records == 10
    for finding in result.findings:
        partition, offset = finding.details["partition"], finding.details["offset"]
        assert (finding.root, finding.path) == (faults, f"#p{partition}@{offset}")
        assert finding.location == f"{faults}#p{partition}@{offset}"
        assert finding.message.startswith(f"partition {partition} offset {offset}")
        assert finding.record == offset


def test_a_clean_topic_has_no_finding(kafka_broker: Broker) -> None:
    kafka_broker.create_topic("clean", 3)
    threads = ("t-a", "t-b", "t-c")
    msgs = Messages()
    records = [(n, thread.encode(), encode_frame(msgs.event(thread, sequence)))
               for sequence in range(1, 5) for n, thread in enumerate(threads)]
    kafka_broker.produce("clean", records)
    result = check_topic(TopicSource(parse_kafka_url(kafka_broker.url("clean"))))
    assert result.findings == []
    assert result.records == len(records)
    assert sorted(t.thread_id for t in result.threads) == list(threads)


class _Recorded:
    """A progress sink that keeps what it was told (the real sinks draw it on stderr)."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None, int]] = []

    def start(self, label: str, total: int | None) -> None:
        self.phases.append((label, total, 0))

    def advance(self, count: int = 1) -> None:
        label, total, done = self.phases[-1]
        self.phases[-1] = (label, total, done + count)

    def finish(self) -> None:
        return None


def test_progress_is_per_partition_of_the_snapshot_size(faults: str) -> None:
    progress = _Recorded()
    check_topic(TopicSource(parse_kafka_url(faults)), progress=progress)
    assert progress.phases == [(f"{FAULTS} partition 0", 6, 6),
                               (f"{FAULTS} partition 1", 2, 2),
                               (f"{FAULTS} partition 2", 2, 2)]


def _seen(result: LogResult) -> list[tuple[str, str, str]]:
    return [(f.code, f.location, f.message) for f in result.findings]


@pytest.mark.parametrize(("window", "pieces"), [
    (8, [[(0, 0, None)], [(1, 0, None), (2, 1, None)]]),
    (4, [[(0, 0, 4)], [(0, 4, None), (1, 0, None), (2, 1, None)]]),
])
def test_partitions_checked_at_once_give_the_findings_of_one_process(
        faults: str, kafka_broker: Broker, window: int,
        pieces: list[list[tuple[int, int, int | None]]]) -> None:
    """Without the record of the split thread (p2@0), the workers' results stand: the same
    findings in the same order, summaries, ranges and per-partition progress, whether the
    workers take whole partitions or one takes partition 0 up to a window boundary and the
    other the rest; the workers leave no consumer group behind."""
    source = TopicSource(parse_kafka_url(faults), SnapshotOptions(from_offsets={2: 1}))
    with source.snapshot() as snapshot:
        partitions = snapshot.partitions
    assert [[(p.index, p.start, p.stop) for p in run] for run in plan(partitions, 2, window)
            ] == pieces
    alone = check_topic(source, parallel=False, window=window)
    progress = _Recorded()
    groups = kafka_broker.group_ids()
    together = check_partitions(source, partitions, ReadOptions(), progress, None,
                                window=window, workers=2)
    assert together is not None
    assert kafka_broker.group_ids() == groups
    assert not [group for group in groups if group.startswith("dashfix")]
    assert _seen(together) == _seen(alone)
    assert {f.code for f in together.findings} == {
        rules.KEY_MISSING.code, rules.SEQUENCE_GAP.code, rules.KEY_NOT_THREAD.code,
        rules.NULL_RECORD.code}
    assert [t.to_dict() for t in together.threads] == [t.to_dict() for t in alone.threads]
    assert (together.records, together.partitions) == (alone.records, alone.partitions)
    assert together.records == 9
    assert progress.phases == [(f"{FAULTS} partition 0", 6, 6),
                               (f"{FAULTS} partition 1", 2, 2),
                               (f"{FAULTS} partition 2", 1, 1)]


def _cut_across(broker: Broker, topic: str, retry: bool) -> str:
    """3 partitions of 10, 12 and 12 records, one thread each: 2 workers with windows of 4
    offsets cut partition 1 at offset 8.  Its offset 8 is a gap with a timestamp older
    than offset 7's (``retry``: a retry of offset 7, which the window after the cut cannot
    see), sequences 11 to 13 follow, and there are key faults on both sides of the cut."""
    msgs = Messages()
    frames = {thread: [encode_frame(msgs.event(thread, seq)) for seq in range(1, 14)]
              for thread in ("t-a", "t-b", "t-c")}
    records: list[tuple[int, bytes | None, bytes | None]] = [
        (0, b"t-a", value) for value in frames["t-a"][:10]]
    records += [(1, b"t-x" if n == 5 else b"t-b", value)
                for n, value in enumerate(frames["t-b"][:8])]
    late = frames["t-b"][7] if retry else encode_frame(msgs.event("t-b", 10, timestamp_us=1))
    records += [(1, b"t-b", late), *((1, None if n == 11 else b"t-b", frames["t-b"][n])
                                     for n in range(10, 13))]
    records += [(2, b"t-c", value) for value in frames["t-c"][:12]]
    broker.create_topic(topic, 3)
    broker.produce(topic, records)
    return broker.url(topic)


@pytest.mark.parametrize("retry", [False, True])
def test_a_partition_cut_between_workers_gives_the_findings_of_one_process(
        kafka_broker: Broker, retry: bool) -> None:
    """The windows after the cut are merged with the head's tracker (the gap and the
    backwards timestamp at the cut are found there); a retry across the cut, which only
    the head's message_ids show, has the parent check the partition again."""
    topic = f"cut-{'retry' if retry else 'gap'}"
    source = TopicSource(parse_kafka_url(_cut_across(kafka_broker, topic, retry)))
    with source.snapshot() as snapshot:
        partitions = snapshot.partitions
    assert [[(p.index, p.start, p.stop) for p in run] for run in plan(partitions, 2, 4)] == [
        [(1, 0, 8), (0, 0, None)], [(1, 8, None), (2, 0, None)]]
    alone = check_topic(source, parallel=False, window=4)
    progress = _Recorded()
    together = check_partitions(source, partitions, ReadOptions(), progress, None,
                                window=4, workers=2)
    assert together is not None
    assert _seen(together) == _seen(alone)
    assert {(code, p, offset) for code, p, offset in map(_where, together.findings)} == {
        (rules.KEY_NOT_THREAD.code, 1, 5), (rules.KEY_MISSING.code, 1, 10),
        *([(rules.EXACT_DUPLICATE.code, 1, 8), (rules.SEQUENCE_GAP.code, 1, 9)] if retry else [
            (rules.SEQUENCE_GAP.code, 1, 8), (rules.TIMESTAMP_BACKWARDS.code, 1, 8)])}
    assert [t.to_dict() for t in together.threads] == [t.to_dict() for t in alone.threads]
    assert (together.records, together.partitions) == (alone.records, alone.partitions)
    assert progress.phases == [(f"{topic} partition {n}", size, size)
                               for n, size in enumerate((10, 12, 12))]


def test_a_thread_over_several_partitions_is_checked_again_in_partition_order(
        faults: str) -> None:
    source = TopicSource(parse_kafka_url(faults))
    with source.snapshot() as snapshot:
        partitions = snapshot.partitions
    assert check_partitions(source, partitions, ReadOptions(), None, None) is None
    assert _seen(check_topic(source, parallel_from=0)) == _seen(
        check_topic(source, parallel=False))


def test_a_workers_read_error_is_the_callers(kafka_broker: Broker) -> None:
    """A partition that sends nothing (here: of a topic that does not exist) is an input
    error naming it, from a worker as from one process."""
    source = TopicSource(parse_kafka_url(kafka_broker.url("no-such-topic")),
                         SnapshotOptions(timeout=1.0))
    ranges = [PartitionRange(0, 0, 0, 5, 0), PartitionRange(1, 0, 0, 5, 0)]
    with pytest.raises(InputError, match=r"no-such-topic#p[01]: no record came for 1s"):
        check_partitions(source, ranges, ReadOptions(), None, None)


def test_a_capture_gives_the_same_findings_except_the_broker_only_ones(
        faults: str, tmp_path: Path) -> None:
    source = TopicSource(parse_kafka_url(faults))
    capture = capture_topic(source, tmp_path / "faults.kcat")
    assert capture.records == 10
    from_topic = check_topic(source).findings
    from_file = check_log(tmp_path / "faults.kcat", "faults.kcat").findings

    def what(findings: list[Finding]) -> list[tuple[str, str | None, str]]:
        return sorted((f.code, f.thread_id, f.message.split(": ", 1)[1]) for f in findings
                      if f.code not in KAFKA_CODES)

    assert what(from_topic) == what(from_file)
    assert {f.code for f in from_file} == {rules.SEQUENCE_GAP.code, rules.NULL_RECORD.code}


def test_deleted_offsets_are_an_info_with_their_count() -> None:
    """Tansu cannot delete records (no DeleteRecords), so this is the offsets logic alone."""
    locator = parse_kafka_url("kafka://h:9092/events")
    assert offsets_deleted(locator, PartitionRange(1, 0, 0, 10, 0)) is None
    finding = offsets_deleted(locator, PartitionRange(1, 120, 120, 200, 0))
    assert finding is not None and finding.code == rules.OFFSETS_DELETED.code
    assert finding.location == "kafka://h:9092/events#p1"
    assert finding.details["offsets_lost"] == 120
    assert "120 offsets lost" in finding.message


def test_locations_name_topic_partition_and_offset_and_fingerprints_not_the_host() -> None:
    finding = rules.SEQUENCE_GAP.at("x", "record 7 (byte 0): thread 't' is missing 3",
                                    record=7, offset=0, thread_id="t", key="gap")
    here = locate(finding, parse_kafka_url("kafka://a:1/events"), 2)
    there = locate(finding, parse_kafka_url("kafka://b:2,c:3/events"), 2)
    assert here.location == "kafka://a:1/events#p2@7"
    assert here.message == "partition 2 offset 7: thread 't' is missing 3"
    assert (here.details["topic"], here.details["partition"], here.details["offset"]) == (
        "events", 2, 7)
    assert here.fingerprint == there.fingerprint
    assert here.fingerprint != locate(finding, parse_kafka_url("kafka://a:1/events"),
                                      3).fingerprint
    inside = rules.PROTOBUF_INVALID.at("x", "record 7 (byte 5): bad", record=7, offset=5)
    assert locate(inside, parse_kafka_url("kafka://a:1/e"), 0).message == (
        "partition 0 offset 7 (byte 5 of the value): bad")


def test_dlq_reconciliation_between_two_topics_finds_the_dropped_record(
        kafka_broker: Broker) -> None:
    kafka_broker.create_topic("rec-events", 3)
    kafka_broker.create_topic("rec-dlq", 1)
    good = encode_frame(Messages().event("t-a", 1))
    kafka_broker.produce("rec-events", [
        (0, b"t-a", good), (0, b"t-a", invalid_payload()),  # dead-lettered below
        (1, b"t-b", invalid_payload()),  # dropped by the DLQ
    ])
    dlq_record = library_record(invalid_payload(), topic="rec-events", partition=0, offset=1)
    import orjson

    kafka_broker.produce("rec-dlq", [(0, None, orjson.dumps(dlq_record))])
    dlq = TopicSource(parse_kafka_url(kafka_broker.url("rec-dlq")))
    events = TopicSource(parse_kafka_url(kafka_broker.url("rec-events")))
    result = check_dump(dlq, dlq.root, against=AgainstLog(events, events.root))
    missing = [f for f in result.findings if f.code == DLQ_RECORD_MISSING.code]
    assert [(f.location, f.details["partition"], f.details["kafka_offset"]) for f in missing] == [
        (f"{events.root}#p1@0", 1, 0)]
    assert (result.records, result.log_records, result.log_rejected) == (1, 3, 2)
    # The DLQ record's own findings are located in the DLQ topic.
    assert all(f.location.startswith(f"{dlq.root}#p0@0") for f in result.findings
               if f.code != DLQ_RECORD_MISSING.code)


def test_a_time_limit_stops_the_check_part_way(faults: str) -> None:
    result = check_topic(TopicSource(parse_kafka_url(faults)), expired=lambda: True)
    assert not result.complete
    assert 0 < result.records < 10
