"""Replay into Kafka, against a real Kafka-protocol broker the tests start."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dashfix.inputs.kafka import parse_kafka_url
from dashfix.repair.replay import OutputFormat, open_writer
from dashfix.testing.dlq import library_record, write_dump
from dashfix.testing.streams import Messages, encode_frame, healthy_values, write_kcat
from tests.conftest import CliResult
from tests.kafka_broker import Broker, free_port

Cli = Callable[..., CliResult]


def test_stream_replay_round_trips_through_a_topic(kafka_broker: Broker, cli: Cli,
                                                   tmp_path: Path) -> None:
    values = healthy_values(threads=("t-a", "t-b", "t-c"))
    capture = write_kcat(tmp_path / "in.kcat", [*values[:4], b"\x07bad", *values[4:]])
    kafka_broker.create_topic("round-trip", 3)
    result = cli("stream", "replay", str(capture), "--to", kafka_broker.url("round-trip"),
                 "--format", "json")
    assert result.exit_code == 1, result.stderr  # the bad record is skipped
    report = result.json()
    assert (report["to_format"], report["written"], len(report["skipped"])) == (
        "kafka", len(values), 1)
    records = kafka_broker.read("round-trip", 3, len(values))
    assert sorted(r.value() for r in records) == sorted(values)
    # Keyed by thread_id: each thread's records stay in order within its partition.
    by_key: dict[bytes, list[bytes]] = {}
    for record in sorted(records, key=lambda r: (r.partition(), r.offset())):
        by_key.setdefault(record.key(), []).append(record.value())
    assert set(by_key) == {b"t-a", b"t-b", b"t-c"}
    # What came back through the broker validates clean, thread by thread.
    back = write_kcat(tmp_path / "back.kcat", [v for vs in by_key.values() for v in vs])
    checked = cli("stream", "validate", str(back), "--format", "json")
    assert checked.exit_code == 0 and checked.json()["findings"] == []


def test_dlq_replay_writes_the_full_payloads(kafka_broker: Broker, cli: Cli,
                                             tmp_path: Path) -> None:
    frames = [encode_frame(Messages().event("t-d", n)) for n in (1, 2, 3)]
    dump = write_dump(tmp_path / "dlq.jsonl",
                      [library_record(frame, offset=n, number=n) for n, frame in enumerate(frames)])
    kafka_broker.create_topic("from-dlq", 1)
    result = cli("dlq", "replay", str(dump), "--to", kafka_broker.url("from-dlq"),
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert [r.value() for r in kafka_broker.read("from-dlq", 1, 3)] == frames


def test_an_interrupted_replay_sends_nothing(kafka_broker: Broker) -> None:
    kafka_broker.create_topic("interrupted", 1)
    target = parse_kafka_url(kafka_broker.url("interrupted"))
    with pytest.raises(RuntimeError), open_writer(target, OutputFormat.KAFKA) as writer:
        writer.write(encode_frame(Messages().event("t-e", 1)), 1, b"t-e")
        raise RuntimeError("interrupted while reading the input")
    assert kafka_broker.read("interrupted", 1, 1, wait=2.0) == []


def test_an_unreachable_broker_fails_before_reading(cli: Cli, tmp_path: Path) -> None:
    capture = write_kcat(tmp_path / "in.kcat", healthy_values())
    result = cli("stream", "replay", str(capture), "--to",
                 f"kafka://127.0.0.1:{free_port()}/nowhere", "--kafka-timeout", "1")
    assert result.exit_code == 3
    assert "cannot reach kafka://127.0.0.1:" in result.stderr


def test_kafka_output_needs_the_extra(cli: Cli, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    capture = write_kcat(tmp_path / "in.kcat", healthy_values())
    result = cli("stream", "replay", str(capture), "--to", "kafka://127.0.0.1:9/t")
    assert result.exit_code == 2
    assert "pip install confluent-kafka" in result.stderr


def test_a_kafka_url_needs_the_kafka_format(cli: Cli, tmp_path: Path) -> None:
    capture = write_kcat(tmp_path / "in.kcat", healthy_values())
    result = cli("stream", "replay", str(capture), "--to", "kafka://127.0.0.1:9/t",
                 "--to-format", "jsonl")
    assert result.exit_code == 2 and "--to-format is jsonl" in result.stderr
