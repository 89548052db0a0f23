"""``dashfix dlq ...``: validate DLQ dumps (and reconcile them with the main log), replay them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dashfix.cli.app import RequiredArgumentCommand, app, examples
from dashfix.cli.kafka_options import (
    FromOffsetOption,
    KafkaConfigOption,
    SnapshotSinceOption,
    kafka_properties,
    open_input,
)
from dashfix.cli.options import (
    FailOnOption,
    LimitsOption,
    MaxLineBytesOption,
    parse_fail_on,
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
from dashfix.inputs import INPUT_FORMATS
from dashfix.osnames import json_text
from dashfix.report import RENDERERS

if TYPE_CHECKING:
    from dashfix.checks.dlq import DumpResult

dlq_app = typer.Typer(
    name="dlq",
    help="Validate and replay DashFlow DLQ dumps (JSON lines, library or websocket-server shape).",
    epilog=examples("dashfix dlq validate dlq.jsonl",
                    "dashfix dlq replay dlq.jsonl --to replay.kcat"),
    no_args_is_help=True,
)
app.add_typer(dlq_app)

def _summary(result: DumpResult, against: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "records": result.records, "unique": result.unique, "replayable": result.replayable,
        "producer_side": result.producer_side, "shapes": dict(sorted(result.shapes.items())),
    }
    if against:
        summary.update({"log_records": result.log_records, "log_rejected": result.log_rejected})
    return summary


@dlq_app.command(
    "validate", cls=RequiredArgumentCommand,
    help="Check every line of a DLQ dump (or record of a DLQ topic): JSON, required fields "
    "and types, base64, size and SHA-256 consistency (full payloads only), payload as a "
    "frame, trace_id duplicates, producer-side records. --against LOG reports invalid "
    "main-log records that have no DLQ record (dropped by the DLQ, bug #11). DUMP and LOG "
    "may be kafka://HOST:PORT/TOPIC. Read-only.",
    epilog=examples(
        "dashfix dlq validate dlq.jsonl",
        "dashfix dlq validate dlq.jsonl --against events.kcat --format json",
        "dashfix dlq validate kafka://localhost:9092/dashstream-dlq "
        "--against kafka://localhost:9092/dashstream-events",
    ),
)
def validate_command(
    dump_locator: Annotated[str, typer.Argument(
        metavar="DUMP", help="DLQ dump (JSON lines), or kafka://HOST:PORT/DLQ_TOPIC.")],
    against_locator: Annotated[
        str | None,
        typer.Option("--against", metavar="LOG",
                     help="Main stream log (or kafka://HOST:PORT/TOPIC) to reconcile with."),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", metavar="FORMAT",
                     help=f"Force the format of --against: {', '.join(INPUT_FORMATS)}."),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(metavar="TOPIC",
                     help="Topic of the --against records when the log does not say (kcat)."),
    ] = None,
    partition: Annotated[
        int | None,
        typer.Option(metavar="N",
                     help="Partition of the --against records when the log does not say."),
    ] = None,
    first_offset: Annotated[
        int, typer.Option(metavar="OFFSET",
                          help="Kafka offset of the first --against record (kcat captures).")
    ] = 0,
    limits: LimitsOption = "consumer",
    max_line_bytes: MaxLineBytesOption = None,
    output_format: OUTPUT_FORMAT_OPTION = "text",
    fail_on: FailOnOption = "error",
    kafka_config: KafkaConfigOption = None,
    since: SnapshotSinceOption = None,
    from_offset: FromOffsetOption = None,
    kafka_timeout: KafkaTimeoutOption = 30.0,
) -> int:
    from dashfix.checks.dlq import AgainstLog, check_dump
    from dashfix.findings import Finding
    from dashfix.inputs.dlq import DumpOptions
    from dashfix.inputs.streams import ReadOptions
    from dashfix.results import Report

    fmt = parse_output_format(output_format)
    dump = open_input(dump_locator, "DUMP", kafka_config, since, from_offset, kafka_timeout)
    report = Report(roots=[dump.root], fail_on=parse_fail_on(fail_on))
    limit = parse_limits(limits)
    line_cap = parse_max_line_bytes(max_line_bytes)
    log = None
    if against_locator is not None:
        # --since and --from-offset choose the DLQ's records; the whole main topic is read.
        against = open_input(against_locator, "--against", kafka_config,
                             timeout=kafka_timeout, input_format=input_format)
        log = AgainstLog(against, against.name, parse_input_format(input_format),
                         ReadOptions(limit=limit, max_line_bytes=line_cap), topic, partition,
                         first_offset)
    result = check_dump(dump, dump.name, DumpOptions(limit=limit, max_line_bytes=line_cap),
                        against=log)
    # Names relative to each file's folder (the dump and --against may live apart),
    # ordered by record within each file.
    report.findings.extend(sorted(result.findings, key=Finding.sort_key))
    report.targets.append(("dlq-dump", dump.name))
    report.stats.update({"dumps": 1, "records": result.records})
    if log is not None:
        report.targets.append(("stream-log", log.rel))
        report.stats.update({"logs": 1, "records": result.log_records})
    if fmt == "json":
        document = report.to_dict()
        document["dlq"] = _summary(result, log is not None)
        sys.stdout.write(json_text(document) + "\n")
    else:
        RENDERERS["text"](report, sys.stdout)
        sys.stdout.write(_summary_line(result, log is not None) + "\n")
    return int(report.exit_code())


def _summary_line(result: DumpResult, against: bool) -> str:
    line = (f"DLQ records: {result.unique} unique of {result.records} lines, "
            f"{result.replayable} replayable, {result.producer_side} producer-side")
    if against:
        line += (f"; main log: {result.log_rejected} of {result.log_records} records rejected "
                 "by the consumer")
    return line


@dlq_app.command(
    "replay", cls=RequiredArgumentCommand,
    help="Write the full original payloads of a DLQ dump (once per trace_id) that validate as "
    "frames to a new log. Truncated, omitted or invalid payloads are skipped and listed with "
    "the reason. The dump is never changed; the output appears atomically. Exit code 1 when "
    "a record was skipped. " + KAFKA_HELP,
    epilog=examples(
        "dashfix dlq replay dlq.jsonl --to replay.kcat",
        "dashfix dlq replay dlq.jsonl --to replay.jsonl --to-format jsonl",
        "dashfix dlq replay dlq.jsonl --to kafka://localhost:9092/dashstream-events",
    ),
)
def replay_command(
    dump_locator: Annotated[str, typer.Argument(
        metavar="DUMP", help="DLQ dump (JSON lines), or kafka://HOST:PORT/DLQ_TOPIC.")],
    to: ToOption,
    to_format: ToFormatOption = None,
    thread: ThreadFilterOption = None,
    since: SinceFilterOption = None,
    until: UntilFilterOption = None,
    types: TypesFilterOption = None,
    reframe: ReframeOption = False,
    limits: LimitsOption = "consumer",
    max_line_bytes: MaxLineBytesOption = None,
    output_format: OUTPUT_FORMAT_OPTION = "text",
    kafka_timeout: KafkaTimeoutOption = 30.0,
    kafka_config: KafkaConfigOption = None,
    from_offset: FromOffsetOption = None,
) -> int:
    from dashfix.inputs.dlq import DumpOptions
    from dashfix.replay import replay_dlq

    fmt = parse_output_format(output_format)
    filters = parse_filters(thread, since, until, types)
    options = DumpOptions(limit=parse_limits(limits),
                          max_line_bytes=parse_max_line_bytes(max_line_bytes))
    dump = open_input(dump_locator, "DUMP", kafka_config, from_offset=from_offset,
                      timeout=kafka_timeout)
    report = replay_dlq(dump, to, to_format=to_format, filters=filters, reframe=reframe,
                        options=options, timeout=kafka_timeout,
                        kafka_properties=kafka_properties(kafka_config))
    return emit_replay(report, fmt)
