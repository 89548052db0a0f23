"""Acceptance: the real CLI on kafka:// topics of a real Kafka-protocol broker."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from dashfix.testing.dlq import invalid_payload, library_record
from dashfix.testing.streams import Messages, encode_frame, write_kcat
from tests.checks.test_stream_kafka import PLANTED, _faults
from tests.conftest import CliResult
from tests.kafka_broker import Broker, free_port
from tests.report.test_sarif import validate

Cli = Callable[..., CliResult]
SECRET = "hunter2-not-for-logs"


@pytest.fixture(scope="module")
def faults(kafka_broker: Broker) -> str:
    return _faults(kafka_broker)


def _topics(broker: Broker) -> set[str]:
    return set(broker.admin.list_topics(timeout=10).topics)


def _clean(broker: Broker, topic: str) -> str:
    if topic not in _topics(broker):
        broker.create_topic(topic, 3)
        msgs = Messages()
        broker.produce(topic, [(n, t.encode(), encode_frame(msgs.event(t, sequence)))
                               for sequence in (1, 2) for n, t in enumerate(("t-a", "t-b"))])
    return broker.url(topic)


def test_stream_validate_reports_each_fault_at_its_partition_and_offset(
        cli: Cli, faults: str) -> None:
    result = cli("stream", "validate", faults, "--format", "json", "--progress", "never")
    assert result.exit_code == 1, result.stderr
    document = result.json()
    found = {(f["code"], f["details"]["partition"], f["details"]["offset"])
             for f in document["findings"]}
    assert found == PLANTED
    assert {f["path"] for f in document["findings"]} >= {f"{faults}#p2@1", f"{faults}#p0@2"}
    assert {(f["root"], f["path_in_root"][:3]) for f in document["findings"]} == {
        (faults, "#p0"), (faults, "#p1"), (faults, "#p2")}
    assert document["input_format"] == "kafka"
    assert document["partitions"] == [
        {"partition": 0, "earliest": 0, "start": 0, "end": 6, "records": 6},
        {"partition": 1, "earliest": 0, "start": 0, "end": 2, "records": 2},
        {"partition": 2, "earliest": 0, "start": 0, "end": 2, "records": 2}]


def test_a_clean_topic_exits_0(cli: Cli, kafka_broker: Broker) -> None:
    url = _clean(kafka_broker, "cli-clean")
    result = cli("stream", "validate", url, "--progress", "never")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_verify_takes_topics_and_paths_together(cli: Cli, kafka_broker: Broker,
                                                faults: str, tmp_path: Path) -> None:
    log = write_kcat(tmp_path / "ok.kcat", [encode_frame(Messages().event("t-z", 1))])
    result = cli("verify", str(log), faults, _clean(kafka_broker, "cli-clean"), "--format",
                 "json", "--quiet")
    assert result.exit_code == 1, result.stderr
    document = result.json()
    codes = {(f["code"], f["details"].get("partition"), f["details"].get("offset"))
             for f in document["findings"]}
    assert codes == PLANTED


def test_sarif_locates_topic_records_and_fingerprints_ignore_the_broker(
        cli: Cli, kafka_broker: Broker, faults: str) -> None:
    other_name = faults.replace("127.0.0.1", "localhost")

    def run(url: str) -> dict[str, object]:
        result = cli("verify", url, "--format", "sarif", "--quiet")
        assert result.exit_code == 1, result.stderr
        document: dict[str, object] = orjson.loads(result.stdout)
        return document

    document = run(faults)
    validate(document)
    results = document["runs"][0]["results"]  # type: ignore[index]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert f"{faults}#p1@0" in uris and f"{faults}#p2@0" in uris
    again = run(other_name)["runs"][0]["results"]  # type: ignore[index]
    assert sorted(str(r["partialFingerprints"]) for r in results) == sorted(
        str(r["partialFingerprints"]) for r in again)


def test_capture_then_validate_gives_the_same_findings_but_the_broker_only_ones(
        cli: Cli, faults: str, tmp_path: Path) -> None:
    out = tmp_path / "faults.kcat"
    captured = cli("stream", "capture", faults, "--to", str(out), "--format", "json",
                   "--progress", "never")
    assert captured.exit_code == 0, captured.stderr
    assert captured.json()["records"] == 10
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".dashfix.tmp")]
    offline = cli("stream", "validate", str(out), "--format", "json").json()
    online = cli("stream", "validate", faults, "--format", "json", "--progress", "never").json()
    broker_only = {"ST260", "ST261", "ST262", "ST263"}

    def what(document: dict[str, list[dict[str, str]]]) -> list[tuple[str, str]]:
        return sorted((f["code"], f["message"].split(": ", 1)[1])
                      for f in document["findings"] if f["code"] not in broker_only)

    assert what(offline) == what(online) and what(offline)
    jsonl = cli("stream", "capture", faults, "--to", str(tmp_path / "faults.jsonl"),
                "--to-format", "jsonl", "--progress", "never")
    assert jsonl.exit_code == 0, jsonl.stderr
    assert len((tmp_path / "faults.jsonl").read_bytes().splitlines()) == 10


def test_dlq_validate_reconciles_two_topics(cli: Cli, kafka_broker: Broker) -> None:
    kafka_broker.create_topic("cli-events", 3)
    kafka_broker.create_topic("cli-dlq", 1)
    kafka_broker.produce("cli-events", [(0, b"t-a", encode_frame(Messages().event("t-a", 1))),
                                        (2, b"t-b", invalid_payload())])
    kafka_broker.produce("cli-dlq", [(0, None, orjson.dumps(library_record(
        encode_frame(Messages().event("t-c", 1)), topic="cli-events", partition=1,
        offset=0)))])
    result = cli("dlq", "validate", kafka_broker.url("cli-dlq"), "--against",
                 kafka_broker.url("cli-events"), "--format", "json")
    assert result.exit_code == 1, result.stderr
    [missing] = [f for f in result.json()["findings"] if f["code"] == "DQ314"]
    assert missing["path"] == kafka_broker.url("cli-events") + "#p2@0"
    assert result.json()["dlq"]["log_rejected"] == 1


def test_replays_read_topics(cli: Cli, kafka_broker: Broker, faults: str,
                             tmp_path: Path) -> None:
    out = tmp_path / "replayed.kcat"
    result = cli("stream", "replay", faults, "--to", str(out), "--format", "json")
    assert result.exit_code == 1  # the tombstone is skipped
    report = result.json()
    assert (report["read"], report["written"], len(report["skipped"])) == (10, 9, 1)
    assert (report["skipped"][0]["partition"], report["skipped"][0]["record"]) == (2, 1)
    assert report["source"] == faults
    kafka_broker.create_topic("cli-dlq-replay", 1)
    frame = encode_frame(Messages().event("t-r", 1))
    kafka_broker.produce("cli-dlq-replay", [(0, None, orjson.dumps(library_record(frame)))])
    dlq_out = tmp_path / "from-dlq.kcat"
    replayed = cli("dlq", "replay", kafka_broker.url("cli-dlq-replay"), "--to", str(dlq_out))
    assert replayed.exit_code == 0, replayed.stdout + replayed.stderr
    assert dlq_out.read_bytes().endswith(frame)


def test_secrets_never_reach_any_output(cli: Cli, kafka_broker: Broker, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = _clean(kafka_broker, "cli-clean")
    (tmp_path / "dashfix.toml").write_text(
        f'paths = ["{url}"]\n[kafka]\n"sasl.password" = "{SECRET}"\n"client.id" = "audit"\n')
    monkeypatch.chdir(tmp_path)
    shown = cli("config", "show", "--format", "json")
    assert shown.exit_code == 0 and SECRET not in shown.stdout
    assert shown.json()["settings"]["kafka"]["value"] == {"sasl.password": "***",
                                                         "client.id": "audit"}
    for fmt in ("text", "json", "jsonl", "sarif", "junit", "github"):
        result = cli("verify", "--format", fmt, "--kafka-config", f"ssl.key.password={SECRET}")
        assert result.exit_code == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
    refused = cli("stream", "validate", url, "--kafka-config", f"group.id={SECRET}")
    assert refused.exit_code == 2 and SECRET not in refused.stderr
    invalid = cli("stream", "validate", url, "--kafka-config", f"sasl.password={SECRET}",
                  "--kafka-config", f"ssl.key.password={SECRET}x", "--kafka-config",
                  "security.protocol=bogus")
    assert invalid.exit_code == 2 and "security.protocol" in invalid.stderr
    assert SECRET not in invalid.stderr


def test_an_unreachable_broker_exits_3_naming_the_topic(cli: Cli) -> None:
    url = f"kafka://127.0.0.1:{free_port()}/nowhere"
    result = cli("stream", "validate", url, "--kafka-timeout", "1")
    assert result.exit_code == 3
    assert f"cannot read {url}" in result.stderr and "Traceback" not in result.stderr
    gated = cli("verify", url, "--kafka-timeout", "1", "--format", "json", "--quiet")
    assert gated.exit_code == 3
    assert [f["code"] for f in gated.json()["findings"]] == ["ST200"]


def test_topics_need_the_extra(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    result = cli("stream", "validate", "kafka://127.0.0.1:9/t")
    assert result.exit_code == 2
    assert "pip install confluent-kafka" in result.stderr


def test_snapshot_options_are_for_topics_only(cli: Cli, tmp_path: Path) -> None:
    log = write_kcat(tmp_path / "ok.kcat", [encode_frame(Messages().event("t-z", 1))])
    result = cli("stream", "validate", str(log), "--from-offset", "0:5")
    assert result.exit_code == 2 and "apply to kafka:// topics" in result.stderr
    bad = cli("stream", "validate", "kafka://127.0.0.1:9/t", "--from-offset", "x")
    assert bad.exit_code == 2 and "PARTITION:OFFSET" in bad.stderr
    forced = cli("stream", "validate", "kafka://127.0.0.1:9/t", "--input-format", "kcat")
    assert forced.exit_code == 2 and "--input-format applies to files" in forced.stderr


def test_a_baseline_of_a_topic_holds_through_other_brokers(cli: Cli, faults: str,
                                                           tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    created = cli("baseline", "create", faults, "-o", str(baseline), "--reason", "known")
    assert created.exit_code == 0, created.stderr
    other = faults.replace("127.0.0.1", "localhost")
    checked = cli("verify", other, "--baseline", str(baseline), "--format", "json", "--quiet")
    assert checked.exit_code == 0, checked.stdout
    assert all(f["suppressed"] for f in checked.json()["findings"])


def test_list_inputs_names_topics_without_reading_them(cli: Cli, tmp_path: Path) -> None:
    url = f"kafka://127.0.0.1:{free_port()}/events"
    listed = cli("verify", url, "--list-inputs", "--format", "json")
    assert listed.exit_code == 0
    assert listed.json()["roots"][0]["targets"] == [
        {"kind": "kafka-topic", "path": url, "format": "kafka"}]


def test_github_annotations_of_topic_records_name_no_file(cli: Cli, faults: str) -> None:
    result = cli("verify", faults, "--format", "github", "--quiet")
    assert result.exit_code == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 5
    assert all(" file=" not in line and "kafka://" in line for line in annotations)
