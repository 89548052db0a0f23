"""``dashfix stream ...``: commands on DashStream stream logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from dashfix.cli.app import RequiredArgumentCommand, app, examples
from dashfix.cli.kafka_options import (
    FromOffsetOption,
    KafkaConfigOption,
    KafkaTimeoutOption,
    ProgressOption,
    SnapshotSinceOption,
    open_input,
)
from dashfix.cli.options import (
    FailOnOption,
    InputFormatOption,
    LimitsOption,
    MaxLineBytesOption,
    parse_fail_on,
    parse_input_format,
    parse_limits,
    parse_max_line_bytes,
)
from dashfix.cli.replay_output import OUTPUT_FORMAT_OPTION, parse_output_format
from dashfix.errors import UsageError
from dashfix.osnames import json_text
from dashfix.report import RENDERERS

if TYPE_CHECKING:
    from dashfix.checks.stream.log import LogResult
    from dashfix.checks.stream.sequences import ThreadSummary
    from dashfix.inputs.sources import Source
    from dashfix.results import Report

stream_app = typer.Typer(
    name="stream",
    help="Validate and replay DashStream stream logs (kcat captures, file-backend JSONL, raw "
    "frames, SQLite backend).",
    epilog=examples("dashfix stream validate events.kcat",
                    "dashfix stream replay events.kcat --to clean.kcat"),
    no_args_is_help=True,
)
app.add_typer(stream_app)

TABLE_ROWS = 50
"""Threads shown in the text table (those with the most trouble first); JSON has all."""


def _trouble(thread: ThreadSummary) -> int:
    return thread.missing + thread.duplicates + thread.reorders + thread.exact_duplicates


def stream_report(source: Source, result: LogResult, fail_on: str) -> Report:
    from dashfix.findings import Finding, rooted
    from dashfix.inputs.sources import FileSource
    from dashfix.results import Report
    from dashfix.roots import join, root_label

    if isinstance(source, FileSource):
        label, _ = root_label(source.path.parent)
        where = join(label, source.path.name)
        findings = rooted(result.findings, label)
        unit = "logs"
    else:  # a topic's findings carry their own kafka:// location
        where, findings, unit = source.root, result.findings, "topics"
    report = Report(roots=[where], fail_on=parse_fail_on(fail_on))
    # Ordered by record within the log, as verify orders them.
    report.findings.extend(sorted(findings, key=Finding.sort_key))
    report.targets.append(("stream-log", where))
    report.stats.update({unit: 1, "records": result.records, "threads": len(result.threads)})
    return report


def _thread_table(threads: list[ThreadSummary], out: TextIO) -> None:
    from rich.table import Table

    from dashfix.report.text import console_for

    table = Table(title="threads", header_style="bold")
    for column in ("thread", "messages", "sequences", "missing", "gaps", "dup", "exact dup",
                   "reordered", "node ctx"):
        table.add_column(column, justify="left" if column == "thread" else "right")
    shown = sorted(threads, key=lambda t: (-_trouble(t), t.thread_id))[:TABLE_ROWS]
    for t in shown:
        span = "-" if t.first_sequence is None else f"{t.first_sequence}..{t.last_sequence}"
        table.add_row(t.thread_id, str(t.messages), span, str(t.missing), str(t.gaps),
                      str(t.duplicates), str(t.exact_duplicates), str(t.reorders),
                      str(t.node_messages))
    if len(threads) > len(shown):
        table.caption = (f"{len(threads) - len(shown)} more thread(s) not shown; "
                         "--format json lists every thread")
    console_for(out).print(table)


@stream_app.command(
    "validate", cls=RequiredArgumentCommand,
    help="Check every record of a stream log or Kafka topic: size caps, frame flag, zstd "
    "guard, protobuf, header invariants, cap mismatch (#14), per-thread sequences and "
    "timestamps; for a topic also record keys, threads over several partitions and "
    "offsets deleted by retention. Read-only (a topic is read without a consumer group or "
    "offset commit, up to the high watermarks seen at the start).",
    epilog=examples(
        "dashfix stream validate events.kcat",
        "dashfix stream validate logs/dashstream-events.jsonl --limits server --format json",
        "dashfix stream validate capture.bin --input-format kcat --fail-on warning",
        "dashfix stream validate kafka://localhost:9092/dashstream-events",
    ),
)
def validate_command(
    input_locator: Annotated[str, typer.Argument(
        metavar="INPUT", help="Log file or folder, or kafka://HOST:PORT[,HOST:PORT...]/TOPIC.")],
    input_format: InputFormatOption = None,
    limits: LimitsOption = "consumer",
    max_line_bytes: MaxLineBytesOption = None,
    output_format: OUTPUT_FORMAT_OPTION = "text",
    fail_on: FailOnOption = "error",
    kafka_config: KafkaConfigOption = None,
    since: SnapshotSinceOption = None,
    from_offset: FromOffsetOption = None,
    kafka_timeout: KafkaTimeoutOption = 30.0,
    progress: ProgressOption = "auto",
) -> int:
    from dashfix.inputs.sources import FileSource
    from dashfix.inputs.streams import ReadOptions

    parse_output_format(output_format)
    parse_fail_on(fail_on)
    options = ReadOptions(limit=parse_limits(limits),
                          max_line_bytes=parse_max_line_bytes(max_line_bytes))
    source = open_input(input_locator, "INPUT", kafka_config, since, from_offset, kafka_timeout,
                        input_format)
    if isinstance(source, FileSource):
        from dashfix.checks.stream.log import check_log

        result = check_log(source.path, source.name,
                           input_format=parse_input_format(input_format), options=options)
    else:
        from dashfix.checks.stream.kafka import check_topic
        from dashfix.progress import make_progress

        bars = make_progress(_progress_mode(progress))
        try:
            result = check_topic(source, options, progress=bars)
        finally:
            bars.finish()
    report = stream_report(source, result, fail_on)
    if output_format == "json":
        document = report.to_dict()
        document["input_format"] = result.input_format
        document["threads"] = [t.to_dict() for t in result.threads]
        if result.partitions:
            document["partitions"] = result.partitions
        sys.stdout.write(json_text(document) + "\n")
    else:
        if result.threads:
            _thread_table(result.threads, sys.stdout)
        RENDERERS["text"](report, sys.stdout)
    return int(report.exit_code())


@stream_app.command(
    "capture", cls=RequiredArgumentCommand,
    epilog=examples(
        "dashfix stream capture kafka://localhost:9092/dashstream-events --to events.kcat",
        "dashfix stream capture kafka://localhost:9092/dashstream-events --to events.jsonl "
        "--to-format jsonl --from-offset 0:1000",
    ),
    help="Write a bounded, read-only snapshot of a Kafka topic to FILE: a kcat -f '%R%s' "
    "capture (byte for byte, partition after partition) or, with --to-format jsonl, "
    "file-backend JSON lines. FILE appears only when complete. `dashfix stream validate "
    "FILE` then finds what validating the topic finds, except the key and partition "
    "checks. Exit code 0 once FILE is written, 3 when the topic could not be read. Needs "
    "pip install confluent-kafka.",
)
def capture_command(
    topic_url: Annotated[str, typer.Argument(
        metavar="TOPIC", help="kafka://HOST:PORT[,HOST:PORT...]/TOPIC.")],
    to: Annotated[str, typer.Option("--to", metavar="FILE", help="The capture to write.")],
    to_format: Annotated[
        str, typer.Option("--to-format", metavar="kcat|jsonl", help="What FILE holds.")
    ] = "kcat",
    output_format: OUTPUT_FORMAT_OPTION = "text",
    kafka_config: KafkaConfigOption = None,
    since: SnapshotSinceOption = None,
    from_offset: FromOffsetOption = None,
    kafka_timeout: KafkaTimeoutOption = 30.0,
    progress: ProgressOption = "auto",
) -> int:
    import orjson

    from dashfix.inputs.kafka import is_kafka_url
    from dashfix.inputs.sources import TopicSource
    from dashfix.progress import make_progress
    from dashfix.repair.capture import capture_topic

    fmt = parse_output_format(output_format)
    if not is_kafka_url(topic_url):
        raise UsageError(f"TOPIC {topic_url!r}: stream capture reads a Kafka topic, "
                         "kafka://HOST:PORT[,HOST:PORT...]/TOPIC")
    source = open_input(topic_url, "TOPIC", kafka_config, since, from_offset, kafka_timeout)
    assert isinstance(source, TopicSource)
    bars = make_progress(_progress_mode(progress))
    try:
        report = capture_topic(source, Path(to), to_format, progress=bars)
    finally:
        bars.finish()
    if fmt == "json":
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode()
                         + "\n")
    else:
        sys.stdout.write(f"captured {report.records} records of {report.source} "
                         f"({len(report.partitions)} partitions) to {report.output} "
                         f"({report.to_format})\n")
    return 0


def _progress_mode(mode: str) -> str:
    from dashfix.progress import PROGRESS_MODES

    if mode not in PROGRESS_MODES:
        raise UsageError(f"--progress must be one of {', '.join(PROGRESS_MODES)}, not {mode!r}")
    return mode
