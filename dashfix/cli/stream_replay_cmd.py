"""``dashfix stream replay``: re-emit the valid records of a stream log into a new log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dashfix.cli.options import parse_input_format, parse_limits, parse_max_line_bytes
from dashfix.cli.replay_output import (
    FILTER_HELP,
    OUTPUT_FORMAT_OPTION,
    emit_replay,
    parse_filters,
    parse_output_format,
)
from dashfix.cli.stream_cmd import stream_app
from dashfix.errors import EXIT_CODE_HELP
from dashfix.inputs.streams import INPUT_FORMATS, ReadOptions
from dashfix.repair.replay import OUTPUT_FORMATS
from dashfix.replay import replay_stream


@stream_app.command(
    "replay",
    help="Write the valid records of a stream log, in order, to a new kcat capture, "
    "file-backend JSONL log or folder of frames, optionally filtered. Invalid records are "
    "skipped and listed with the reason. The input is never changed; the output appears "
    "atomically. Exit code 1 when a record was skipped. Writing to a Kafka broker is not "
    "supported.\n\n" + EXIT_CODE_HELP,
)
def replay_command(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Log file or folder.")],
    to: Annotated[Path, typer.Option("--to", metavar="OUT", help="Output file or folder.")],
    to_format: Annotated[
        str, typer.Option("--to-format", help=f"Output: {', '.join(OUTPUT_FORMATS)}.")
    ] = "kcat",
    thread: Annotated[list[str] | None, typer.Option(help=FILTER_HELP["thread"])] = None,
    since: Annotated[str | None, typer.Option(help=FILTER_HELP["since"])] = None,
    until: Annotated[str | None, typer.Option(help=FILTER_HELP["until"])] = None,
    types: Annotated[list[str] | None, typer.Option(help=FILTER_HELP["types"])] = None,
    reframe: Annotated[bool, typer.Option(help=FILTER_HELP["reframe"])] = False,
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help=f"Force a format: {', '.join(INPUT_FORMATS)}."),
    ] = None,
    limits: Annotated[
        str, typer.Option(help="Size cap: consumer (1 MiB), server (10 MiB) or bytes.")
    ] = "consumer",
    max_line_bytes: Annotated[
        int | None,
        typer.Option(help="JSONL line cap in bytes (default: 4/3 of the cap + 4 KiB)."),
    ] = None,
    output_format: OUTPUT_FORMAT_OPTION = "text",
) -> int:
    fmt = parse_output_format(output_format)
    filters = parse_filters(thread, since, until, types)
    options = ReadOptions(limit=parse_limits(limits),
                          max_line_bytes=parse_max_line_bytes(max_line_bytes))
    report = replay_stream(input_path, to, to_format=to_format, filters=filters,
                           reframe=reframe, input_format=parse_input_format(input_format),
                           options=options)
    return emit_replay(report, fmt)
