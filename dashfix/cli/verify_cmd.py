"""``dashfix verify``: read-only audit of stores, logs and dumps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dashfix.cli.app import app, examples
from dashfix.cli.kafka_options import KafkaConfigOption, KafkaTimeoutOption
from dashfix.cli.options import (
    FAIL_ON_CHOICES,
    LIMITS_METAVAR,
    SegmentsOption,
    choices,
    parse_input_format,
    parse_limits,
    parse_max_line_bytes,
)
from dashfix.context import VerifyOptions
from dashfix.errors import UsageError
from dashfix.inputs import INPUT_FORMATS
from dashfix.inputs.kafka import parse_properties
from dashfix.inputs.sources import checked_segments
from dashfix.progress import PROGRESS_MODES
from dashfix.report import RENDERERS
from dashfix.sampling import parse_max_duration, parse_sample


@app.command(
    help=(
        "Check checkpoint stores, stream logs and DLQ dumps under each PATH, and the "
        "checkpoint store each URL names (default "
        "./checkpoints, or `paths` from the config file). Strictly read-only: takes no lock, "
        "writes nothing but --output files, follows no symlink. Every option can also be set "
        "in pyproject.toml (tool.dashfix), dashfix.toml or a DASHFIX_* variable; see "
        "`dashfix config show`."
    ),
    epilog=examples(
        "dashfix verify ./checkpoints",
        "dashfix verify ./artifacts --format sarif --output junit:dashfix.xml > dashfix.sarif",
        "dashfix verify ./artifacts --fail-on warning --baseline .dashfix-baseline.json",
        "dashfix verify ./artifacts --list-inputs",
    ),
)
def verify_command(
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="[PATH|URL]...",
                       help="Stores, logs, dumps or folders holding them, store URLs "
                       "(sqlite:///file.db, postgresql://user@host/db, redis://host:6379/0, "
                       "s3://bucket/prefix, dynamodb://table?region=R; see docs/backends.md), "
                       "or Kafka topics (kafka://HOST:PORT[,HOST:PORT...]/TOPIC)."),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option("--format", "-f", metavar="FORMAT",
                     help=f"Output format on stdout: {', '.join(RENDERERS)}. text (the default) "
                     "is table on a terminal and concise elsewhere."),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output", "-o", metavar="FORMAT:FILE",
            help="Also write FORMAT to FILE (repeatable), e.g. sarif:dashfix.sarif.",
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(metavar=choices(FAIL_ON_CHOICES),
                     help="Lowest severity that fails the run."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Baseline file: matching findings are suppressed."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Config file instead of the nearest dashfix.toml."),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(metavar="CODE", help="Only report these codes or prefixes (repeatable)."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(metavar="CODE", help="Do not report these codes or prefixes (repeatable)."),
    ] = None,
    severity: Annotated[
        list[str] | None,
        typer.Option(metavar="CODE=LEVEL", help="Re-grade a code: error, warning or info."),
    ] = None,
    progress: Annotated[
        str | None,
        typer.Option(metavar=choices(PROGRESS_MODES), help="Progress bars or heartbeat on stderr."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or heartbeat lines.")
    ] = False,
    list_inputs: Annotated[
        bool,
        typer.Option("--list-inputs", help="Only list what would be checked, and why files "
                     "were skipped; check nothing."),
    ] = False,
    limits: Annotated[
        str,
        typer.Option(metavar=LIMITS_METAVAR,
                     help="Stream frame size cap: consumer (1 MiB), server (10 MiB) or bytes."),
    ] = "consumer",
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", metavar="FORMAT",
                     help=f"Force the stream log format: {', '.join(INPUT_FORMATS)}."),
    ] = None,
    max_line_bytes: Annotated[
        int | None, typer.Option(metavar="BYTES",
                                 help="JSONL line cap in bytes (default follows --limits)."),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Cache folder: files whose stat is unchanged are not "
                     "read again (see docs/incremental.md)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ignore the cache set by config or DASHFIX_CACHE.")
    ] = False,
    sample: Annotated[
        str | None,
        typer.Option(metavar="N/M|P%", help="Read only bucket N of M (by a hash of the path; "
                     "the M runs cover everything) or P percent of the files."),
    ] = None,
    statistics: Annotated[
        bool, typer.Option("--statistics", help="Print the number of findings per code "
                           "instead of the findings (text or json).")
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Pass when a PATH holds nothing to check "
                           "(otherwise DF003, exit code 3).")
    ] = False,
    max_duration: Annotated[
        float | None,
        typer.Option(metavar="SECONDS", help="Read no new file after this long; the summary "
                     "lists what was not checked."),
    ] = None,
    segments: SegmentsOption = None,
    kafka_config: KafkaConfigOption = None,
    kafka_timeout: KafkaTimeoutOption = 30.0,
) -> int:
    from dashfix.inputs.checkpoint_files.gc_pause import paused_gc

    with paused_gc():  # the checks' modules: many objects, no garbage to collect
        from dashfix.cli.gate_cli import GateFlags, run_verify

    if cache is not None and no_cache:
        raise UsageError("--cache and --no-cache exclude each other")
    options = VerifyOptions(
        limit_bytes=parse_limits(limits), input_format=parse_input_format(input_format),
        max_line_bytes=parse_max_line_bytes(max_line_bytes),
        sample=None if sample is None else parse_sample(sample),
        max_duration=parse_max_duration(max_duration),
        kafka_properties=parse_properties(kafka_config or []), kafka_timeout=kafka_timeout,
        segments=checked_segments(segments),
    )
    flags = GateFlags(
        output_format=output_format, outputs=output or (), fail_on=fail_on, baseline=baseline,
        config=config, select=select or (), ignore=ignore or (), severity=severity or (),
        progress=progress, quiet=quiet, list_inputs=list_inputs, cache=cache,
        no_cache=no_cache, allow_empty=allow_empty, statistics=statistics,
    )
    return run_verify(paths or [], options, flags)


verify_command.__name__ = "verify"
