"""DQ3xx: DLQ dumps (JSON lines of DashFlow dead-letter records) and their reconciliation."""

from dashfix.findings import Rule, Severity

_F = "dlq"


def _rule(code: str, name: str, severity: Severity, summary: str, explanation: str, bug: str,
          fix: str, *, baselinable: bool = True, unreadable: bool = False) -> Rule:
    return Rule(code, name, severity, _F, summary, explanation, bug, fix, baselinable, unreadable)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_REDUMP = "Dump the DLQ topic again (kcat -C -t <topic>-dlq -e > dump.jsonl) or remove the line."

DUMP_UNREADABLE = _rule(
    "DQ300", "dlq-unreadable", E, "A DLQ dump could not be read at all.",
    "The file could not be opened or read. Nothing in it was checked.",
    "-", "Check the path and its permissions.", baselinable=False, unreadable=True,
)
LINE_TOO_LONG = _rule(
    "DQ301", "dlq-line-too-long", E, "A DLQ line is longer than --max-line-bytes.",
    "A library DLQ record holds at most 512 KiB of payload (about 700,000 base64 "
    "characters); the websocket server can hold a full payload. dashfix stops reading a line "
    "at the cap (4/3 of the frame cap plus room for the other keys) and skips to the next "
    "newline without holding it in memory (bug #12).",
    "#12", "Raise --max-line-bytes / --limits if the record is legitimate, else remove it.",
)
NOT_UTF8 = _rule(
    "DQ302", "dlq-not-utf8", E, "A DLQ line is not UTF-8 text.",
    "DLQ records are serde_json output, always UTF-8. The line is damaged or not a DLQ record.",
    "-", _REDUMP, baselinable=False,
)
NOT_JSON = _rule(
    "DQ303", "dlq-not-json", E, "A DLQ line is not a JSON object.",
    "Each line of a dump must be one JSON object (optionally prefixed by the Kafka key and a "
    "tab, as kafka-console-consumer --property print.key=true writes it).",
    "-", _REDUMP, baselinable=False,
)
BAD_FIELDS = _rule(
    "DQ304", "dlq-bad-fields", E, "A DLQ record lacks required fields or has wrong types.",
    "The library shape (source_topic, source_partition, source_offset, consumer_id, ...) and "
    "the websocket-server shape (kafka_partition, kafka_offset, payload_sha256, ...) each "
    "have required keys with fixed JSON types (spec 4.2, 4.3). A record that breaks them "
    "cannot be matched to the main log or replayed.",
    "-", "Find the writer that produced the record; it is not DashFlow's DLQ format.",
)
BAD_BASE64 = _rule(
    "DQ305", "dlq-bad-base64", E, "original_payload_base64 is not valid base64.",
    "DashFlow writes standard padded base64 of the record value; anything else means the "
    "line was edited or damaged.",
    "-", _REDUMP, baselinable=False,
)
PAYLOAD_OVERSIZE = _rule(
    "DQ306", "dlq-payload-oversize", E, "A DLQ payload is larger than the size cap.",
    "The base64 text is longer than a value within the cap (--limits) can need, so it is "
    "not decoded. Websocket-server records with full payloads can hold up to 10 MiB.",
    "#12", "Use --limits server (or a byte count) if such payloads are legitimate.",
)
TRUNCATION_INCONSISTENT = _rule(
    "DQ307", "dlq-truncation-inconsistent", E,
    "The payload size fields of a DLQ record contradict its payload.",
    "A truncated library record carries original_payload_truncated, _size_bytes, "
    "_included_bytes and _sha256 together; _included_bytes equals the decoded payload length "
    "and is at most 524,288 (512 KiB), and _size_bytes is at least that. An untruncated "
    "library payload is at most 512 KiB; a websocket-server payload is message_size bytes.",
    "-", _REDUMP, baselinable=False,
)
SHA256_MISMATCH = _rule(
    "DQ308", "dlq-sha256-mismatch", E, "A full DLQ payload does not match its SHA-256.",
    "The websocket server stores payload_sha256 of the whole record value. A full payload "
    "whose hash differs was altered after it was dead-lettered. Truncated payloads are never "
    "compared: their hash covers bytes that are not in the dump.",
    "-", _REDUMP, baselinable=False,
)
PAYLOAD_TRUNCATED = _rule(
    "DQ309", "dlq-payload-truncated", INFO,
    "A DLQ payload is truncated: not decodable, hash unverifiable, not replayable.",
    "DashFlow keeps only the first 512 KiB of a larger record value. The prefix cannot be "
    "decoded as a frame and its SHA-256 (of the full value) cannot be checked.",
    "-", "Recover the full record from the main topic (source_topic/partition/offset).",
)
PAYLOAD_OMITTED = _rule(
    "DQ310", "dlq-payload-omitted", INFO,
    "A websocket-server DLQ record carries no payload.",
    "The websocket server stores the payload only when DLQ_INCLUDE_FULL_PAYLOAD is set; "
    "otherwise original_payload_base64 is null and only the hash and first/last bytes remain.",
    "-", "Set DLQ_INCLUDE_FULL_PAYLOAD=true on the websocket server to make records replayable.",
)
PAYLOAD_NOT_FRAME = _rule(
    "DQ311", "dlq-payload-not-frame", W,
    "A DLQ payload does not decode as a valid DashStream frame.",
    "The payload was checked with the same frame checks as stream logs (flag byte, size cap, "
    "zstd guard, protobuf, header). It failed, which is usually why it was dead-lettered; "
    "the record cannot be replayed. The frame findings are in the details.",
    "-", "Recover the message from the producer; this payload cannot be repaired.",
)
DUPLICATE_TRACE_ID = _rule(
    "DQ312", "dlq-duplicate-trace-id", INFO, "A DLQ record repeats an earlier trace_id.",
    "A retried DLQ send that reached the broker before timing out is written twice with the "
    "same trace_id. Duplicates are counted once and replayed once.",
    "#11", "None needed; deduplicate by trace_id.",
)
PRODUCER_SIDE = _rule(
    "DQ313", "dlq-producer-side", INFO,
    "A producer-side DLQ record: the message never reached the main topic.",
    "Records with source_partition and source_offset -1 come from producer send failures "
    "after all retries (error_type kafka_send_error). Their sequence is missing from the "
    "main topic: they explain sequence gaps (ST250) of their thread.",
    "#11", "None needed for the dump; replay it with `dashfix dlq replay` to fill the gap.",
)
DLQ_RECORD_MISSING = _rule(
    "DQ314", "dlq-record-missing", E,
    "An invalid main-log record has no DLQ record: the DLQ dropped it.",
    "DashFlow sends DLQ records fire-and-forget: with 100 sends in flight, or after timeouts "
    "and failed retries, the record is dropped (bug #11). Every record the default consumer "
    "rejects should have a DLQ record with the same topic, partition and offset.",
    "#11", "Use the blocking DLQ send variants, or raise the DLQ concurrency limit; recover the "
    "record from the main topic.",
)

RULES = (
    DUMP_UNREADABLE, LINE_TOO_LONG, NOT_UTF8, NOT_JSON, BAD_FIELDS, BAD_BASE64, PAYLOAD_OVERSIZE,
    TRUNCATION_INCONSISTENT, SHA256_MISMATCH, PAYLOAD_TRUNCATED, PAYLOAD_OMITTED,
    PAYLOAD_NOT_FRAME, DUPLICATE_TRACE_ID, PRODUCER_SIDE, DLQ_RECORD_MISSING,
)
