"""DLQ line parser: both shapes, field rules, base64 cap, truncation and hash rules, fuzz."""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashfix.formats.dlq import (
    LIBRARY_INCLUDED_BYTES,
    DlqFault,
    DlqProblem,
    DlqRecord,
    DlqShape,
    inconsistencies,
    parse_line,
    replayable,
)
from dashfix.testing.dlq import (
    large_payload,
    library_record,
    valid_payload,
    websocket_record,
)

CAP = 1024 * 1024 + 1


def parse(document: dict[str, object] | bytes, cap: int = CAP) -> DlqRecord | DlqProblem:
    line = document if isinstance(document, bytes) else orjson.dumps(document)
    return parse_line(line, payload_cap=cap)


def record_of(document: dict[str, object] | bytes) -> DlqRecord:
    parsed = parse(document)
    assert isinstance(parsed, DlqRecord), parsed
    return parsed


def problem_of(document: dict[str, object] | bytes, cap: int = CAP) -> DlqProblem:
    parsed = parse(document, cap)
    assert isinstance(parsed, DlqProblem), parsed
    return parsed


def test_library_record_fields() -> None:
    payload = valid_payload()
    record = record_of(library_record(payload, offset=41, partition=2))
    assert record.shape is DlqShape.LIBRARY
    assert (record.topic, record.partition, record.offset) == ("dashstream-events", 2, 41)
    assert record.payload == payload and not record.truncated and replayable(record)
    assert not record.producer_side
    assert inconsistencies(record) == []


def test_producer_side_record() -> None:
    record = record_of(library_record(valid_payload(), producer_side=True, thread_id="t-x"))
    assert record.producer_side and record.thread_id == "t-x"
    assert record.error_type == "kafka_send_error"


def test_truncated_library_record_is_a_prefix_and_never_hashed() -> None:
    payload = large_payload()
    document = library_record(payload, truncate_at=100)
    document["original_payload_sha256"] = "0" * 64  # a placeholder must not matter
    record = record_of(document)
    assert record.truncated and record.payload == payload[:100]
    assert record.full_size == len(payload) and not replayable(record)
    assert inconsistencies(record) == []


@pytest.mark.parametrize(("edit", "fragment"), [
    ({"original_payload_included_bytes": 99}, "included_bytes is 99"),
    ({"original_payload_size_bytes": 50}, "smaller than the 100 bytes"),
    ({"original_payload_included_bytes": LIBRARY_INCLUDED_BYTES + 1}, "over DashFlow"),
])
def test_truncation_size_rules(edit: dict[str, object], fragment: str) -> None:
    document = library_record(large_payload(), truncate_at=100)
    document.update(edit)
    found = inconsistencies(record_of(document))
    assert any(fragment in problem.message for problem in found), found
    assert not any(problem.sha256 for problem in found)


def test_truncated_flag_without_its_fields() -> None:
    document = library_record(valid_payload())
    document["original_payload_truncated"] = True
    [problem] = inconsistencies(record_of(document))
    assert ("original_payload_size_bytes, original_payload_included_bytes, "
            "original_payload_sha256 missing") in problem.message


def test_size_fields_without_truncated_flag() -> None:
    document = library_record(valid_payload())
    document["original_payload_size_bytes"] = 10
    [problem] = inconsistencies(record_of(document))
    assert "not marked truncated" in problem.message


def test_websocket_record_full_payload_hash_checked() -> None:
    payload = valid_payload()
    record = record_of(websocket_record(payload, partition=1, offset=9))
    assert record.shape is DlqShape.WEBSOCKET and record.topic is None
    assert (record.partition, record.offset) == (1, 9)
    assert record.sha256 == hashlib.sha256(payload).hexdigest()
    assert inconsistencies(record) == []
    document = websocket_record(payload)
    document["payload_sha256"] = "f" * 64
    [problem] = inconsistencies(record_of(document))
    assert problem.sha256 and problem.expected == "f" * 64


def test_websocket_record_without_payload() -> None:
    record = record_of(websocket_record(valid_payload(), include_payload=False))
    assert record.payload is None and not replayable(record)
    assert inconsistencies(record) == []


def test_websocket_message_size_mismatch() -> None:
    document = websocket_record(valid_payload())
    document["message_size"] = 3
    [problem] = inconsistencies(record_of(document))
    assert "message_size is 3" in problem.message


def test_key_prefix_from_print_key() -> None:
    document = library_record(valid_payload())
    line = b"6f1c9a52-3b1e\t" + orjson.dumps(document)
    record = record_of(line)
    assert record.key == "6f1c9a52-3b1e"


def test_kcat_json_envelope_is_unwrapped() -> None:
    inner = orjson.dumps(library_record(valid_payload(), offset=5)).decode()
    envelope = {"topic": "dashstream-dlq", "partition": 0, "offset": 12, "tstype": "create",
                "ts": 1, "broker": 1, "headers": None, "key": "k-1", "payload": inner}
    record = record_of(envelope)
    assert (record.offset, record.key) == (5, "k-1")
    envelope["payload"] = "{broken"
    assert "kcat -J envelope" in problem_of(envelope).message


def test_fields_report_every_problem() -> None:
    problem = problem_of({"original_payload_base64": 17})
    assert problem.fault is DlqFault.BAD_FIELDS
    assert "'original_payload_base64' must be a string, found number 17" in problem.message
    assert "'trace_id' is missing" in problem.message


def test_bool_is_not_an_integer() -> None:
    document = library_record(valid_payload())
    document["source_offset"] = True
    assert "'source_offset' must be an integer, found boolean" in problem_of(document).message


def test_non_object_and_non_utf8() -> None:
    assert problem_of(b"[1, 2]").fault is DlqFault.NOT_JSON
    assert problem_of(b"not json").fault is DlqFault.NOT_JSON
    bad = problem_of(b'{"error": "\xff"}')
    assert bad.fault is DlqFault.NOT_UTF8 and bad.column == 11


def test_base64_cap_is_checked_before_decoding() -> None:
    problem = problem_of(library_record(b"\x00" * 3000), cap=1000)
    assert problem.fault is DlqFault.OVERSIZE
    assert problem.expected == "<= 1336 characters"


def test_invalid_base64() -> None:
    document = library_record(valid_payload())
    document["original_payload_base64"] = "AAo"
    assert problem_of(document).fault is DlqFault.BAD_BASE64


# -- fuzz --------------------------------------------------------------------------------

_SEEDS = [orjson.dumps(library_record(valid_payload())),
          orjson.dumps(library_record(large_payload(), truncate_at=64)),
          orjson.dumps(websocket_record(valid_payload()))]


def _check_total(line: bytes) -> None:
    parsed = parse_line(line, payload_cap=4096)
    assert isinstance(parsed, DlqRecord | DlqProblem)
    if isinstance(parsed, DlqRecord):
        assert parsed.payload is None or len(parsed.payload) <= 4096
        inconsistencies(parsed)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(line: bytes) -> None:
    _check_total(line)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_SEEDS), st.data())
def test_fuzz_mutated_records(seed: bytes, data: st.DataObject) -> None:
    line = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(line) - 1))
        action = data.draw(st.sampled_from(("flip", "delete", "insert")))
        if action == "flip":
            line[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del line[position]
        else:
            line[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        if not line:
            break
    _check_total(bytes(line))


@settings(max_examples=200)
@given(st.dictionaries(
    st.sampled_from(["original_payload_base64", "original_payload_truncated",
                     "original_payload_size_bytes", "original_payload_included_bytes",
                     "original_payload_sha256", "source_partition", "source_offset",
                     "kafka_offset", "payload_sha256", "message_size", "trace_id", "error"]),
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=80),
              st.lists(st.integers(), max_size=3)),
))
def test_fuzz_field_values(document: dict[str, object]) -> None:
    base = library_record(valid_payload()) if "kafka_offset" not in document else (
        websocket_record(valid_payload()))
    base.update(document)
    _check_total(json.dumps(base).encode())
