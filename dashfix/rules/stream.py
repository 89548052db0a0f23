"""ST2xx: DashStream stream logs (inputs, codec frames, size caps, sequences)."""

from dashfix.findings import Rule, Severity

_F = "stream"


def _rule(code: str, name: str, severity: Severity, summary: str, explanation: str, bug: str,
          fix: str, *, baselinable: bool = True, unreadable: bool = False) -> Rule:
    return Rule(code, name, severity, _F, summary, explanation, bug, fix, baselinable, unreadable)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_RECAPTURE = "Capture the topic again (kcat -C -f '%R%s' ...) or drop the damaged tail."

# -- reading the log ---------------------------------------------------------------------
STREAM_UNREADABLE = _rule(
    "ST200", "stream-unreadable", E, "A stream log could not be read at all.",
    "The file, folder or SQLite database could not be opened, or is not the forced "
    "--input-format (for SQLite: no `messages` table). Nothing in it was checked.",
    "-", "Check the path, permissions and --input-format.", baselinable=False, unreadable=True,
)
CAPTURE_TRUNCATED = _rule(
    "ST201", "capture-truncated", E, "A kcat length prefix promises more bytes than remain.",
    "The capture ends inside a record (or inside a 4-byte length prefix). The rest of the "
    "file cannot be split into records, so reading stops there.",
    "-", _RECAPTURE, baselinable=False,
)
BAD_LENGTH_PREFIX = _rule(
    "ST202", "bad-length-prefix", E, "A kcat length prefix is negative but not -1 (null).",
    "Only -1 means a null value; any other negative length means the capture is not in "
    "kcat -f '%R%s' format or is damaged at this offset. Reading stops there.",
    "-", _RECAPTURE, baselinable=False,
)
NULL_RECORD = _rule(
    "ST203", "null-record", W, "A record has no value (null) or an empty value.",
    "DashFlow's consumer sends records without a value to the DLQ; they carry no message.",
    "-", "Find the producer that writes tombstones or empty values to the topic.",
)
LINE_TOO_LONG = _rule(
    "ST204", "line-too-long", E, "A JSONL line is longer than --max-line-bytes.",
    "DashFlow's file backend reads whole lines and base64-decodes them before checking any "
    "size (bug #12). dashfix stops reading a line at the cap (4/3 of the frame cap plus "
    "room for the JSON keys) and skips to the next newline without holding it in memory.",
    "#12", "Raise --max-line-bytes / --limits if the record is legitimate, else remove it.",
)
NOT_UTF8 = _rule(
    "ST205", "not-utf8", E, "A JSONL line is not UTF-8 text.",
    "JSON must be UTF-8; DashFlow's file backend fails on this line and does not advance "
    "its consumer position past it.",
    "-", "Remove or re-encode the line.", baselinable=False,
)
BAD_JSON_LINE = _rule(
    "ST206", "bad-json-line", E,
    "A JSONL line is not a {\"offset\",\"timestamp_us\",\"data\"} object.",
    "The file backend expects one JSON object per line with integer offset and "
    "timestamp_us and a base64 string in data. A torn last line (crash between the line "
    "and its newline) also lands here.",
    "-", "Remove the line, or restore it from another copy of the log.", baselinable=False,
)
BAD_BASE64 = _rule(
    "ST207", "bad-base64", E, "The data field of a JSONL line is not valid base64.",
    "data must be standard padded base64 of the protobuf message.",
    "-", "Remove the line, or restore it from another copy of the log.", baselinable=False,
)

# -- frames ------------------------------------------------------------------------------
FRAME_OVERSIZE = _rule(
    "ST210", "frame-oversize", E, "A record value is larger than the size cap.",
    "DashFlow rejects a framed value larger than max+1 bytes (unframed: max) before "
    "decoding. dashfix checks the size before reading or decompressing anything. "
    "--limits consumer is 1 MiB (DashFlow's consumer and producer default), server 10 MiB.",
    "#12", "Split the message on the producer side, or raise the consumer's max_message_size "
    "(and --limits) to match the producer.",
)
INVALID_FLAG = _rule(
    "ST211", "invalid-flag", E, "The first byte is neither a frame flag nor legacy protobuf.",
    "A frame starts with 0x00 (protobuf) or 0x01 (zstd). Legacy records start with the "
    "protobuf tag of a oneof field (0x0a..0x4a) or the zstd magic. Anything else is rejected "
    "by every DashFlow decoder.",
    "-", "Find the producer writing foreign data to the topic; the record cannot be decoded.",
    baselinable=False,
)
JSON_NOT_FRAME = _rule(
    "ST212", "json-not-frame", E, "A record value is JSON, not a DashStream frame.",
    "Values starting with { or [ are JSON (often a DLQ record or debug output written to the "
    "main topic); DashFlow treats them as a format error.",
    "-", "Keep DLQ and debug records off the stream topic.",
)
LEGACY_FRAME = _rule(
    "ST213", "legacy-frame", W, "A Kafka record holds unframed (pre-1.10) protobuf.",
    "Before the flag byte existed, records were bare protobuf. decode_message_compatible "
    "reads them, but the default strict consumer rejects them (\"Invalid compression header "
    "byte\").",
    "-", "Replay the log with `dashfix stream replay --reframe` to add the flag byte.",
)
LEGACY_ZSTD = _rule(
    "ST214", "legacy-zstd", W, "A Kafka record is a raw zstd frame without a flag byte.",
    "Only decode_message_compatible handles this legacy shape; strict consumers reject it.",
    "-", "Replay the log with `dashfix stream replay --reframe`.",
)
ZSTD_BAD_MAGIC = _rule(
    "ST215", "zstd-bad-magic", E, "A 0x01 frame's body does not start with the zstd magic.",
    "Flag 0x01 promises a zstd frame (28 b5 2f fd); DashFlow fails with a decompression error.",
    "-", "The record is damaged; recover it from the producer if possible.", baselinable=False,
)
ZSTD_NO_CONTENT_SIZE = _rule(
    "ST216", "zstd-no-content-size", E, "A zstd frame does not declare its content size.",
    "DashFlow always writes the content size; without it the decompressed size cannot be "
    "checked before decompressing, and the observability UI refuses such frames.",
    "#12", "Re-encode the record with a zstd encoder that writes the content size.",
)
ZSTD_DECLARED_OVERSIZE = _rule(
    "ST217", "zstd-declared-oversize", E,
    "A zstd frame declares a decompressed size over the cap (possible zstd bomb).",
    "The declared content size is read from the frame header and compared with the cap "
    "before decompressing: python-zstandard would otherwise allocate whatever the frame "
    "declares. Such a frame is never decompressed.",
    "#12", "Drop the record, or raise --limits if the size is legitimate.",
)
ZSTD_TRAILING_DATA = _rule(
    "ST218", "zstd-trailing-data", E, "Bytes follow the single zstd frame of a record.",
    "DashFlow writes exactly one zstd frame per record. libzstd (Rust) decodes concatenated "
    "frames while python-zstandard stops after the first, so readers disagree on the content.",
    "-", "The record is damaged or was concatenated; recover it from the producer.",
    baselinable=False,
)
ZSTD_CORRUPT = _rule(
    "ST219", "zstd-corrupt", E, "A zstd frame is damaged or decompresses to the wrong size.",
    "The frame header or blocks are malformed, or the data does not decompress to exactly "
    "the declared content size.",
    "-", "The record is damaged; recover it from the producer.", baselinable=False,
)
ZSTD_NOT_SMALLER = _rule(
    "ST220", "zstd-not-smaller", W, "A compressed frame is not smaller than its content.",
    "DashFlow only emits 0x01 frames when compression made the message strictly smaller.",
    "-", "Check the producer's compression settings.",
)
ZSTD_BELOW_THRESHOLD = _rule(
    "ST221", "zstd-below-threshold", INFO,
    "A compressed frame holds 512 bytes or less (the default threshold).",
    "DashFlow compresses only messages larger than compression_threshold (default 512). "
    "Informational: the threshold is configurable.",
    "-", "None needed unless the producer should use the default threshold.",
)
PROTOBUF_INVALID = _rule(
    "ST222", "protobuf-invalid", E, "A record does not parse as a DashStreamMessage.",
    "The protobuf bytes are malformed (truncated field, bad wire type, invalid UTF-8 in a "
    "string, ...). DashFlow's consumer sends such records to the DLQ.",
    "-", "The record is damaged; recover it from the producer.", baselinable=False,
)
NESTING_TOO_DEEP = _rule(
    "ST223", "nesting-too-deep", E, "Messages nest deeper than 100 levels.",
    "AttributeValue can nest arrays and maps recursively. prost and Python protobuf both "
    "refuse more than 100 levels; dashfix checks the depth without recursing further.",
    "#12", "Flatten the attribute on the producer side.",
)
VARINT_TOO_LONG = _rule(
    "ST224", "varint-too-long", E, "A protobuf varint is longer than 10 bytes.",
    "A varint encodes at most 64 bits (10 bytes); a longer one is damage or a crafted input.",
    "#12", "The record is damaged; recover it from the producer.", baselinable=False,
)
EMPTY_MESSAGE = _rule(
    "ST225", "empty-message", E, "A frame decodes to a message with no payload set.",
    "An empty DashStreamMessage encodes to zero bytes, so the 1-byte frame 00 is valid "
    "protobuf but carries nothing; the producer refuses to send it.",
    "-", "Find the writer that produced the empty record.",
)
HEADER_MISSING = _rule(
    "ST226", "header-missing", E, "A message has no header.",
    "Every DashStream payload has Header header = 1. Strict consumers reject a message "
    "without one (\"Message missing required header with schema version\").",
    "-", "Fix the producer to set the header.",
)
TYPE_MISMATCH = _rule(
    "ST227", "header-type-mismatch", W, "Header.type does not match the message's payload.",
    "Every DashFlow builder sets Header.type to the oneof field number, but no decoder "
    "enforces it; tools that filter by type misread the record.",
    "-", "Fix the producer's header builder.",
)
SCHEMA_VERSION = _rule(
    "ST228", "schema-version", E, "Header.schema_version is not 0 or 1.",
    "DashFlow's consumer (Exact policy, the default) accepts only version 1 (0 is treated as 1).",
    "-", "Upgrade the consumer or downgrade the producer's schema version.",
)
COMPRESSION_FLAG_MISMATCH = _rule(
    "ST229", "compression-flag-mismatch", W,
    "Header.compression disagrees with the frame's flag byte.",
    "DashFlow sets compression = 1 in every header of a 0x01 frame and leaves 0 otherwise.",
    "-", "Informational for DashFlow-produced data; check third-party producers.",
)
MESSAGE_ID_LENGTH = _rule(
    "ST230", "message-id-length", W, "Header.message_id is not a 16-byte UUID.",
    "message_id is the dedup key for retries; a missing or short id cannot be deduplicated.",
    "-", "Fix the producer to set a UUID message_id.",
)
THREAD_ID_EMPTY = _rule(
    "ST231", "thread-id-empty", E, "Header.thread_id is empty.",
    "The producer refuses empty thread ids (they are the partition key); sequence tracking "
    "skips such messages.",
    "-", "Fix the writer: every message needs its thread_id.",
)
BATCH_HEADER = _rule(
    "ST233", "batch-header", E, "An EventBatch header is not sequence 0 / type EVENT_BATCH.",
    "The batch header is never sequenced (sequence 0) and has type 8; inner events carry the "
    "real sequences.",
    "-", "Fix the batch builder.",
)
BATCH_INNER_EVENT = _rule(
    "ST234", "batch-inner-event", E, "An event inside an EventBatch lacks a header or sequence.",
    "Each inner event keeps its own header with a sequence > 0; the consumer validates each.",
    "-", "Fix the batch builder.",
)
MULTIPLE_PAYLOADS = _rule(
    "ST235", "multiple-payloads", W, "A message holds several oneof fields or unknown fields.",
    "Decoders keep only the last oneof member on the wire, silently dropping the others.",
    "-", "Find the writer that concatenated messages.",
)

# -- size caps (#14) ---------------------------------------------------------------------
CAP_MISMATCH = _rule(
    "ST240", "cap-mismatch", W, "A frame passes the 10 MiB server cap but fails the 1 MiB cap.",
    "DashFlow's CLI, websocket server, exporter and backends accept it; the default "
    "DashStreamConsumer rejects it and sends it to the DLQ (bug #14).",
    "#14", "Align ConsumerConfig.max_message_size with the producer, or shrink the message.",
)
NEAR_PRODUCER_CAP = _rule(
    "ST241", "near-producer-cap", W,
    "A compressed frame's content is within 2(N+1) bytes of the 1 MiB cap.",
    "The producer checks the size before setting Header.compression = 1, which adds 2 bytes "
    "per header (N inner events + 1). Such a frame passes the producer and fails the "
    "consumer's decompression limit (bug #14).",
    "#14", "Keep messages well under max_message_size, or raise the consumer's limit.",
)

# -- sequences and timestamps ------------------------------------------------------------
SEQUENCE_GAP = _rule(
    "ST250", "sequence-gap", W, "Sequence numbers of a thread are missing.",
    "Sequences of one DashStreamCallback increase by one across all message types. Missing "
    "values mean dropped telemetry (queue full, size/rate rejections, send failures: bugs "
    "#11, #13, #14) or loss in transit. Late arrivals that fill a gap are not reported as gaps.",
    "#11", "Check the producer logs and the DLQ (`dashfix dlq --against`) for the missing range.",
)
SEQUENCE_DUPLICATE = _rule(
    "ST251", "sequence-duplicate", W,
    "A sequence number of a thread repeats with a different message_id.",
    "Usually a restarted callback reusing the thread_id (sequences restart at 1).",
    "-", "Use a fresh thread_id per run.",
)
EXACT_DUPLICATE = _rule(
    "ST252", "exact-duplicate", INFO, "A record repeats a message byte for byte.",
    "Producer retries and at-least-once delivery duplicate records with the same message_id; "
    "consumers deduplicate them. Counted, not an error.",
    "-", "None needed; deduplicate by message_id when replaying.",
)
SEQUENCE_REORDER = _rule(
    "ST253", "sequence-reorder", W, "A message arrived after a later sequence of its thread.",
    "Either a late arrival that fills an earlier gap, or an old sequence seen again.",
    "-", "Check for several producers writing one thread, or replays of old data.",
)
TIMESTAMP_ZERO = _rule(
    "ST254", "timestamp-zero", W, "Header.timestamp_us is 0.",
    "DashFlow writes 0 when the clock is before the epoch.",
    "-", "Check the producer host's clock.",
)
TIMESTAMP_NEGATIVE = _rule(
    "ST255", "timestamp-negative", W, "Header.timestamp_us is negative.",
    "A negative time means a broken clock or a writer bug.",
    "-", "Check the producer host's clock.",
)
TIMESTAMP_FUTURE = _rule(
    "ST256", "timestamp-future", W, "Header.timestamp_us is more than a day in the future.",
    "Compared with the time of the check; usually clock skew or a unit mix-up (ns vs us).",
    "-", "Check the producer host's clock and the timestamp unit.",
)
TIMESTAMP_BACKWARDS = _rule(
    "ST257", "timestamp-backwards", W,
    "A thread's timestamps go backwards in sequence order.",
    "Timestamps are wall-clock; backwards steps mean clock adjustments or several hosts "
    "writing one thread.",
    "-", "Check the producer host's clock (NTP steps).",
)
ERROR_WITHOUT_TEXT = _rule(
    "ST258", "error-without-text", W, "An error message or error event has no error text.",
    "Node error telemetry used to arrive without its error string (bug #15): an Error "
    "message with an empty message, or a *_ERROR event without an error attribute.",
    "#15", "Upgrade DashFlow to a version that includes the error string in attributes.",
)
MESSAGE_ID_REUSED = _rule(
    "ST259", "message-id-reused", W, "Two different messages share one message_id.",
    "message_id is the dedup key: consumers would drop one of them as a duplicate.",
    "-", "Fix the producer's UUID generation.",
)

# -- Kafka topics (what only the broker knows: keys, partitions, retention) --------------
_REKEY = ("Produce through DashStreamProducer (it keys by thread_id), or re-key the topic: "
          "dashfix stream replay kafka://... --to kafka://.../NEW_TOPIC")
KEY_MISSING = _rule(
    "ST260", "key-missing", E, "A Kafka record has no key (or an empty one).",
    "DashFlow keys every record by the thread_id of its header (spec 1.5), so the "
    "partitioner keeps each thread in one partition and in order. A record without a key "
    "lands on any partition: that thread's order is no longer guaranteed.",
    "-", _REKEY,
)
KEY_NOT_THREAD = _rule(
    "ST261", "key-not-thread-id", E, "A Kafka record's key is not its header's thread_id.",
    "DashFlow keys every record by the thread_id of its header (spec 1.5). A record keyed "
    "otherwise can land on another partition than the rest of its thread, whose order is "
    "then no longer guaranteed.",
    "-", _REKEY,
)
THREAD_SPLIT = _rule(
    "ST262", "thread-over-partitions", E, "One thread's records lie in several partitions.",
    "Kafka orders records only within a partition. A thread whose records are spread over "
    "partitions has lost its order: consumers may apply its messages out of sequence. "
    "Reported at each record outside the partition of the thread's first record (the "
    "partitions are read in order, so that is the lowest partition holding the thread).",
    "-", _REKEY,
)
OFFSETS_DELETED = _rule(
    "ST263", "offsets-deleted", INFO,
    "A partition's earliest offset is above the one asked for: retention deleted records.",
    "The broker no longer holds the first offsets of the partition (retention or "
    "DeleteRecords). Checks of that partition start where the data starts: sequence gaps "
    "before it cannot be seen, so the check is partial.",
    "-", "Nothing to repair; capture topics (dashfix stream capture) before retention "
    "deletes what you need to audit.",
)
KAFKA_RULES = (KEY_MISSING, KEY_NOT_THREAD, THREAD_SPLIT, OFFSETS_DELETED)
"""Codes that only a topic read from the broker can have (a capture has no keys)."""

RULES = (
    STREAM_UNREADABLE, CAPTURE_TRUNCATED, BAD_LENGTH_PREFIX, NULL_RECORD, LINE_TOO_LONG,
    NOT_UTF8, BAD_JSON_LINE, BAD_BASE64, FRAME_OVERSIZE, INVALID_FLAG, JSON_NOT_FRAME,
    LEGACY_FRAME, LEGACY_ZSTD, ZSTD_BAD_MAGIC, ZSTD_NO_CONTENT_SIZE, ZSTD_DECLARED_OVERSIZE,
    ZSTD_TRAILING_DATA, ZSTD_CORRUPT, ZSTD_NOT_SMALLER, ZSTD_BELOW_THRESHOLD, PROTOBUF_INVALID,
    NESTING_TOO_DEEP, VARINT_TOO_LONG, EMPTY_MESSAGE, HEADER_MISSING, TYPE_MISMATCH,
    SCHEMA_VERSION, COMPRESSION_FLAG_MISMATCH, MESSAGE_ID_LENGTH, THREAD_ID_EMPTY, BATCH_HEADER,
    BATCH_INNER_EVENT, MULTIPLE_PAYLOADS, CAP_MISMATCH, NEAR_PRODUCER_CAP,
    SEQUENCE_GAP, SEQUENCE_DUPLICATE, EXACT_DUPLICATE, SEQUENCE_REORDER, TIMESTAMP_ZERO,
    TIMESTAMP_NEGATIVE, TIMESTAMP_FUTURE, TIMESTAMP_BACKWARDS, ERROR_WITHOUT_TEXT,
    MESSAGE_ID_REUSED, *KAFKA_RULES,
)
