"""DLQ dump checks: the interop dump line by line, dedup, producer-side records, --against."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashfix.checks.dlq import AgainstLog, check_dump
from dashfix.context import VerifyOptions
from dashfix.findings import Finding
from dashfix.inputs.dlq import DumpOptions
from dashfix.replay import replay_dlq
from dashfix.testing.dlq import (
    healthy_dump,
    invalid_payload,
    large_payload,
    legacy_payload,
    library_record,
    valid_payload,
    websocket_record,
    write_dump,
)
from dashfix.testing.streams import Messages, encode_frame, write_kcat
from dashfix.verify import verify

INTEROP = Path(__file__).parents[2] / "fixtures" / "interop" / "streams" / "dlq.jsonl"


def located(findings: list[Finding]) -> list[tuple[str, int | None, int | None]]:
    return [(f.code, f.record, f.offset) for f in findings]


def test_interop_dump_exactly_one_finding_per_line() -> None:
    result = check_dump(INTEROP, "dlq.jsonl")
    # line 0 replayable; 1 truncated (placeholder sha256: not a mismatch); 2 flag 0x07;
    # 3 payload is a number; 4 not JSON.
    assert located(result.findings) == [
        ("DQ309", 1, 392), ("DQ311", 2, 1098), ("DQ304", 3, 1511), ("DQ303", 4, 1543),
    ]
    truncated, flag, number, not_json = result.findings
    assert "truncated to 168 of 168 bytes" in truncated.message
    assert "SHA-256 not checkable" in truncated.message
    assert "first byte 0x07" in flag.message and flag.actual == "ST211"
    assert "'original_payload_base64' must be a string, found number 17" in number.message
    assert not_json.message.startswith("record 4 (byte 1543): line is not JSON")
    assert (result.records, result.unique, result.replayable) == (5, 3, 1)


def test_healthy_dump_is_clean(tmp_path: Path) -> None:
    result = check_dump(healthy_dump(tmp_path / "dlq.jsonl"), "dlq.jsonl")
    assert result.findings == []
    assert result.replayable == 3 and dict(result.shapes) == {"library": 2, "websocket": 1}


def test_duplicate_trace_id_counted_once(tmp_path: Path) -> None:
    record = library_record(invalid_payload(), offset=3)
    result = check_dump(write_dump(tmp_path / "d.jsonl", [record, record]), "d.jsonl")
    assert [f.code for f in result.findings] == ["DQ311", "DQ312"]
    assert result.findings[1].details == {"first_record": 0}
    assert result.unique == 1


GAP_VALUES = [encode_frame(Messages().event("t-a", n)) for n in (1, 2, 3, 5)]


def kcat_offset(values: list[bytes | None], index: int) -> int:
    return sum(4 + len(value or b"") for value in values[:index])


def _log_with_gap(path: Path) -> Path:
    return write_kcat(path, GAP_VALUES)


def test_producer_side_record_explains_the_gap(tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "d.jsonl",
                      [library_record(valid_payload(4), producer_side=True)])
    alone = check_dump(dump, "d.jsonl")
    [finding] = alone.findings
    assert finding.code == "DQ313" and finding.thread_id == "t-a"
    assert "thread 't-a' sequence 4 never reached topic 'dashstream-events'" in finding.message
    log = _log_with_gap(tmp_path / "main.kcat")
    [matched] = check_dump(dump, "d.jsonl",
                           against=AgainstLog(log, "main.kcat")).findings
    assert "(the gap at record 3 of main.kcat)" in matched.message
    assert matched.details["explains"] == {"path": "main.kcat", "record": 3,
                                           "offset": kcat_offset(GAP_VALUES, 3)}


def test_producer_side_record_without_matching_gap(tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "d.jsonl",
                      [library_record(valid_payload(9), producer_side=True)])
    log = _log_with_gap(tmp_path / "main.kcat")
    [finding] = check_dump(dump, "d.jsonl", against=AgainstLog(log, "main.kcat")).findings
    assert "(no such gap in main.kcat)" in finding.message


def test_against_matches_topic_partition_offset(tmp_path: Path) -> None:
    values = [valid_payload(1), legacy_payload(2), legacy_payload(3), None]
    log = write_kcat(tmp_path / "main.kcat", values)
    dump = write_dump(tmp_path / "d.jsonl", [
        library_record(legacy_payload(2), partition=4, offset=101),
        library_record(legacy_payload(3), partition=5, offset=102, number=1),  # other partition
    ])
    against = AgainstLog(log, "main.kcat", topic="dashstream-events", partition=4,
                         first_offset=100)
    result = check_dump(dump, "d.jsonl", against=against)
    missing = [f for f in result.findings if f.code == "DQ314"]
    assert located(missing) == [("DQ314", 2, kcat_offset(values, 2)),
                                ("DQ314", 3, kcat_offset(values, 3))]
    assert missing[0].path == "main.kcat"
    assert "topic 'dashstream-events', partition 4, offset 102" in missing[0].message
    assert "dropped by the DLQ" in missing[0].message
    assert "record has no value" in missing[1].message
    assert (result.log_records, result.log_rejected) == (4, 3)


def test_against_with_websocket_records_and_unknown_topic(tmp_path: Path) -> None:
    log = write_kcat(tmp_path / "main.kcat",
                     [valid_payload(1), invalid_payload(), invalid_payload()])
    dump = write_dump(tmp_path / "d.jsonl", [websocket_record(invalid_payload(), offset=1)])
    result = check_dump(dump, "d.jsonl", against=AgainstLog(log, "main.kcat"))
    assert [f.record for f in result.findings if f.code == "DQ314"] == [2]


def test_against_unreadable_log_is_reported(tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "d.jsonl", [library_record(valid_payload())])
    (tmp_path / "notes.txt").write_text("not a log")
    result = check_dump(dump, "d.jsonl", against=AgainstLog(tmp_path / "notes.txt", "notes.txt"))
    assert [(f.code, f.path) for f in result.findings] == [("ST200", "notes.txt")]


def test_long_line_skipped_without_stopping(tmp_path: Path) -> None:
    dump = write_dump(tmp_path / "d.jsonl", [
        b'{"original_payload_base64":"' + b"A" * 5000 + b'"}',
        library_record(invalid_payload()),
    ])
    result = check_dump(dump, "d.jsonl", DumpOptions(max_line_bytes=1000))
    assert located(result.findings) == [("DQ301", 0, 0), ("DQ311", 1, 5031)]
    assert result.findings[0].actual == "5031 bytes"


def test_missing_dump_is_unreadable(tmp_path: Path) -> None:
    [finding] = check_dump(tmp_path / "absent.jsonl", "absent.jsonl").findings
    assert finding.code == "DQ300" and finding.record is None


def test_verify_picks_up_dlq_dumps_next_to_logs(tmp_path: Path) -> None:
    shutil.copy(INTEROP, tmp_path / "dlq.jsonl")
    healthy_dump(tmp_path / "other-dlq.jsonl")
    write_kcat(tmp_path / "main.kcat", [valid_payload(1), valid_payload(2)])
    report = verify([tmp_path], VerifyOptions())
    assert sorted(report.targets) == [("dlq-dump", f"{tmp_path}/dlq.jsonl"),
                                      ("dlq-dump", f"{tmp_path}/other-dlq.jsonl"),
                                      ("stream-log", f"{tmp_path}/main.kcat")]
    assert located(report.findings) == [
        ("DQ309", 1, 392), ("DQ311", 2, 1098), ("DQ304", 3, 1511), ("DQ303", 4, 1543),
    ]
    assert report.stats["dumps"] == 2 and report.stats["logs"] == 1
    assert int(report.exit_code()) == 1


def test_sniffer_recognises_dump_lines_only(tmp_path: Path) -> None:
    from dashfix.inputs.dlq import sniff_dlq_file

    record = orjson.dumps(library_record(valid_payload()))
    envelope = orjson.dumps({"topic": "t", "partition": 0, "offset": 1, "key": "k",
                             "payload": record.decode()})
    websocket = orjson.dumps(websocket_record(valid_payload()))
    path = tmp_path / "x"
    for head in (record, b"trace-1\t" + record, envelope, websocket, record[:60]):
        assert sniff_dlq_file(path, head + b"\n") == "dlq-jsonl", head[:80]
    file_backend = b'{"offset":0,"timestamp_us":1,"data":"AAo="}\n'
    for head in (file_backend, b"\x00\x00\x00\x05\x00\x0a\x00", b"not json\n" + record):
        assert sniff_dlq_file(path, head) is None


_SEED_LINES = [
    orjson.dumps(library_record(valid_payload(1))),
    orjson.dumps(library_record(large_payload(), truncate_at=200, number=1)),
    orjson.dumps(websocket_record(valid_payload(2), number=2)),
    orjson.dumps(library_record(valid_payload(3), producer_side=True, number=3)),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_SEED_LINES), st.binary(max_size=200)), max_size=6),
       st.data())
def test_fuzz_whole_dump_gives_located_findings(lines: list[bytes], data: st.DataObject) -> None:
    mutated = []
    for line in lines:
        raw = bytearray(line)
        if raw and data.draw(st.booleans()):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        mutated.append(bytes(raw))
    with tempfile.TemporaryDirectory() as folder:
        dump = Path(folder) / "d.jsonl"
        dump.write_bytes(b"\n".join(mutated))
        result = check_dump(dump, "d.jsonl", DumpOptions(max_line_bytes=4096))
        out = Path(folder) / "out.kcat"
        report = replay_dlq(dump, out, options=DumpOptions(max_line_bytes=4096))
    for finding in result.findings:
        assert finding.record is not None and finding.offset is not None, finding
    assert report.written + len(report.skipped) == report.read
