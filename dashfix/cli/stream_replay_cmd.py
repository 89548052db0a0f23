"""``dashfix stream replay``: re-emit the valid records of a stream log into a new log."""

from __future__ import annotations

from typing import Annotated

import typer

from dashfix.cli.app import RequiredArgumentCommand, examples
from dashfix.cli.kafka_options import (
    FromOffsetOption,
    KafkaConfigOption,
    kafka_properties,
    open_input,
)
from dashfix.cli.options import (
    InputFormatOption,
    LimitsOption,
    MaxLineBytesOption,
    parse_input_format,
    parse_limits,
    parse_max_line_bytes,
)
from dashfix.cli.replay_output import (
    KAFKA_HELP,
    OUTPUT_FORMAT_OPTION,
    KafkaTimeoutOption,
    ReframeOption,
    SinceFilterOption,
    ThreadFilterOption,
    ToFormatOption,
    ToOption,
    TypesFilterOption,
    UntilFilterOption,
    emit_replay,
    parse_filters,
    parse_output_format,
)
from dashfix.cli.stream_cmd import stream_app


@stream_app.command(
    "replay", cls=RequiredArgumentCommand,
    help="Write the valid records of a stream log, in order, to a new kcat capture, "
    "file-backend JSONL log or folder of frames, or to a Kafka topic, optionally filtered. "
    "Invalid records are skipped and listed with the reason. The input is never changed; "
    "the output appears atomically. Exit code 1 when a record was skipped. " + KAFKA_HELP,
    epilog=examples(
        "dashfix stream replay events.kcat --to clean.kcat",
        "dashfix stream replay events.kcat --to clean.jsonl --to-format jsonl --thread t-d",
        "dashfix stream replay capture.bin --to reframed.kcat --reframe",
        "dashfix stream replay events.kcat --to kafka://localhost:9092/dashstream-events",
    ),
)
def replay_command(
    input_locator: Annotated[str, typer.Argument(
        metavar="INPUT", help="Log file or folder, or kafka://HOST:PORT[,HOST:PORT...]/TOPIC "
        "(read partition after partition).")],
    to: ToOption,
    to_format: ToFormatOption = None,
    thread: ThreadFilterOption = None,
    since: SinceFilterOption = None,
    until: UntilFilterOption = None,
    types: TypesFilterOption = None,
    reframe: ReframeOption = False,
    input_format: InputFormatOption = None,
    limits: LimitsOption = "consumer",
    max_line_bytes: MaxLineBytesOption = None,
    output_format: OUTPUT_FORMAT_OPTION = "text",
    kafka_timeout: KafkaTimeoutOption = 30.0,
    kafka_config: KafkaConfigOption = None,
    from_offset: FromOffsetOption = None,
) -> int:
    from dashfix.inputs.streams import ReadOptions
    from dashfix.replay import replay_stream

    fmt = parse_output_format(output_format)
    filters = parse_filters(thread, since, until, types)
    options = ReadOptions(limit=parse_limits(limits),
                          max_line_bytes=parse_max_line_bytes(max_line_bytes))
    source = open_input(input_locator, "INPUT", kafka_config, from_offset=from_offset,
                        timeout=kafka_timeout, input_format=input_format)
    report = replay_stream(source, to, to_format=to_format, filters=filters,
                           reframe=reframe, input_format=parse_input_format(input_format),
                           options=options, timeout=kafka_timeout,
                           kafka_properties=kafka_properties(kafka_config))
    return emit_replay(report, fmt)
