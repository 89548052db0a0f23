"""Option parsing and output shared by ``dashfix stream replay`` and ``dashfix dlq replay``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from dashfix.cli.kafka_options import KafkaTimeoutOption as KafkaTimeoutOption
from dashfix.errors import ExitCode, UsageError
from dashfix.repair.replay import OUTPUT_FORMATS as REPLAY_OUTPUT_FORMATS

if TYPE_CHECKING:
    from dashfix.replay import ReplayFilters, ReplayReport

OUTPUT_FORMATS = ("text", "json")
OUTPUT_FORMAT_OPTION = Annotated[
    str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")
]
FILTER_HELP = {
    "thread": "Keep only this thread_id (repeatable).",
    "since": "Keep records whose header time is at or after this (ISO-8601 or microseconds).",
    "until": "Keep records whose header time is before this (ISO-8601 or microseconds).",
    "types": "Keep these payload kinds (event, state_diff, event_batch, ...) or event types "
    "(node_start, graph_end, ...); comma-separated or repeated. Filtering by type makes "
    "sequence gaps in the output.",
    "reframe": "Rewrite legacy records (bare protobuf, raw zstd) into current 0x00/0x01 "
    "frames (kcat and frames output).",
}


ToOption = Annotated[
    str, typer.Option("--to", metavar="OUT", help="Output file or folder, or a Kafka topic: "
                      "kafka://HOST:PORT/TOPIC (brokers: HOST:PORT,HOST:PORT).")
]
ToFormatOption = Annotated[
    str | None, typer.Option("--to-format", metavar="FORMAT",
                             help=f"Output format: {', '.join(REPLAY_OUTPUT_FORMATS)} (default: "
                             "kafka for a kafka:// output, else kcat).")
]
# "\\[" keeps rich from reading "[kafka]" as markup.
KAFKA_HELP = ("A kafka:// output is written in one Kafka transaction, keyed by thread_id, "
              "once the whole input is read (needs pip install confluent-kafka).")
ThreadFilterOption = Annotated[
    list[str] | None, typer.Option(metavar="THREAD", help=FILTER_HELP["thread"])
]
SinceFilterOption = Annotated[str | None, typer.Option(metavar="TIME", help=FILTER_HELP["since"])]
UntilFilterOption = Annotated[str | None, typer.Option(metavar="TIME", help=FILTER_HELP["until"])]
TypesFilterOption = Annotated[
    list[str] | None, typer.Option(metavar="TYPES", help=FILTER_HELP["types"])
]
ReframeOption = Annotated[bool, typer.Option("--reframe", help=FILTER_HELP["reframe"])]


def parse_output_format(value: str) -> str:
    if value not in OUTPUT_FORMATS:
        raise UsageError(f"--format must be text or json, not {value!r}")
    return value


def parse_filters(threads: list[str] | None, since: str | None, until: str | None,
                  types: list[str] | None) -> ReplayFilters:
    from dashfix.replay import ReplayFilters, parse_time, parse_types

    filters = ReplayFilters(
        threads=frozenset(threads or ()),
        since_us=None if since is None else parse_time(since),
        until_us=None if until is None else parse_time(until),
        types=parse_types(types or ()),
    )
    if (filters.since_us is not None and filters.until_us is not None
            and filters.since_us >= filters.until_us):
        raise UsageError("--since must be before --until")
    return filters


def emit_replay(report: ReplayReport, fmt: str) -> int:
    """Print the replay report; exit 1 when a record had to be skipped."""
    from dashfix.osnames import json_text

    if fmt == "json":
        sys.stdout.write(json_text(report.to_dict()) + "\n")
    else:
        out = sys.stdout
        out.write(f"wrote {report.written} of {report.read} records to {report.output} "
                  f"({report.to_format})")
        extras = [f"{count} {label}" for count, label in (
            (report.filtered, "filtered out"), (report.reframed, "reframed"),
            (report.converted, "converted"), (len(report.skipped), "skipped")) if count]
        out.write(("; " + ", ".join(extras) if extras else "") + "\n")
        for skipped in report.skipped:
            codes = f" [{', '.join(skipped.codes)}]" if skipped.codes else ""
            where = (f"record {skipped.record} (byte {skipped.offset})"
                     if skipped.partition is None
                     else f"partition {skipped.partition} offset {skipped.record}")
            out.write(f"  skipped {where}: {skipped.reason}{codes}\n")
    return int(ExitCode.FINDINGS if report.skipped else ExitCode.CLEAN)
