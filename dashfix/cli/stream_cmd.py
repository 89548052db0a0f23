"""``dashfix stream ...``: commands on DashStream stream logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from dashfix.cli.app import RequiredArgumentCommand, app, examples
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
from dashfix.osnames import json_text
from dashfix.report import RENDERERS

if TYPE_CHECKING:
    from dashfix.checks.stream.log import LogResult
    from dashfix.checks.stream.sequences import ThreadSummary
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


def stream_report(path: Path, result: LogResult, fail_on: str) -> Report:
    from dashfix.findings import Finding, rooted
    from dashfix.results import Report
    from dashfix.roots import join, root_label

    label, _ = root_label(path.parent)
    report = Report(roots=[join(label, path.name)], fail_on=parse_fail_on(fail_on))
    # Ordered by record within the log, as verify orders them.
    report.findings.extend(sorted(rooted(result.findings, label), key=Finding.sort_key))
    report.targets.append(("stream-log", join(label, path.name)))
    report.stats.update({"logs": 1, "records": result.records, "threads": len(result.threads)})
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
    help="Check every record of a stream log: size caps, frame flag, zstd guard, protobuf, "
    "header invariants, cap mismatch (#14), per-thread sequences and timestamps. Read-only.",
    epilog=examples(
        "dashfix stream validate events.kcat",
        "dashfix stream validate logs/dashstream-events.jsonl --limits server --format json",
        "dashfix stream validate capture.bin --input-format kcat --fail-on warning",
    ),
)
def validate_command(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="Log file or folder.", readable=False)
    ],
    input_format: InputFormatOption = None,
    limits: LimitsOption = "consumer",
    max_line_bytes: MaxLineBytesOption = None,
    output_format: OUTPUT_FORMAT_OPTION = "text",
    fail_on: FailOnOption = "error",
) -> int:
    from dashfix.checks.stream.log import check_log
    from dashfix.inputs.streams import ReadOptions

    parse_output_format(output_format)
    parse_fail_on(fail_on)
    options = ReadOptions(limit=parse_limits(limits),
                          max_line_bytes=parse_max_line_bytes(max_line_bytes))
    result = check_log(input_path, input_path.name,
                       input_format=parse_input_format(input_format), options=options)
    report = stream_report(input_path, result, fail_on)
    if output_format == "json":
        document = report.to_dict()
        document["input_format"] = result.input_format
        document["threads"] = [t.to_dict() for t in result.threads]
        sys.stdout.write(json_text(document) + "\n")
    else:
        if result.threads:
            _thread_table(result.threads, sys.stdout)
        RENDERERS["text"](report, sys.stdout)
    return int(report.exit_code())
