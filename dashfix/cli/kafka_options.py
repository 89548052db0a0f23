"""Options of the commands that read ``kafka://`` topics, and turning them into a source."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dashfix.errors import UsageError

if TYPE_CHECKING:
    from dashfix.inputs.kafka import SnapshotOptions
    from dashfix.inputs.sources import Source

KafkaConfigOption = Annotated[
    list[str] | None,
    typer.Option("--kafka-config", metavar="KEY=VALUE",
                 help="A librdkafka client property for kafka:// topics (repeatable), such "
                 "as sasl.username=NAME; over \\[tool.dashfix.kafka]. Secret values are "
                 "never printed."),
]
SnapshotSinceOption = Annotated[
    str | None,
    typer.Option("--since", metavar="TIME",
                 help="kafka:// only: start each partition at its first record at or after "
                 "TIME (ISO-8601 or microseconds), instead of its earliest offset."),
]
FromOffsetOption = Annotated[
    list[str] | None,
    typer.Option("--from-offset", metavar="P:O",
                 help="kafka:// only: start partition P at offset O (repeatable)."),
]
KafkaTimeoutOption = Annotated[
    float, typer.Option("--kafka-timeout", metavar="SECONDS",
                        help="How long to wait on the Kafka broker at each step.")
]

ProgressOption = Annotated[
    str, typer.Option(metavar="auto|always|never",
                      help="Progress per partition on stderr.")
]


def parse_from_offsets(values: list[str] | None) -> dict[int, int]:
    offsets: dict[int, int] = {}
    for value in values or ():
        partition, sep, offset = value.partition(":")
        if not sep or not partition.strip().isdigit() or not offset.strip().isdigit():
            raise UsageError(f"--from-offset expects PARTITION:OFFSET, not {value!r}")
        offsets[int(partition)] = int(offset)
    return offsets


def kafka_properties(kafka_config: list[str] | None) -> dict[str, str]:
    """``[tool.dashfix.kafka]`` (or ``DASHFIX_KAFKA``), then ``--kafka-config`` over it."""
    from dashfix.config import resolve_settings
    from dashfix.inputs.kafka import parse_properties

    return {**resolve_settings()["kafka"], **parse_properties(kafka_config or [])}


def snapshot_options(kafka_config: list[str] | None = None, since: str | None = None,
                     from_offset: list[str] | None = None,
                     timeout: float | None = None) -> SnapshotOptions:
    from dashfix.inputs.kafka import DEFAULT_TIMEOUT_SECONDS, SnapshotOptions
    from dashfix.replay import parse_time

    return SnapshotOptions(
        properties=kafka_properties(kafka_config),
        since_ms=None if since is None else parse_time(since) // 1000,
        from_offsets=parse_from_offsets(from_offset),
        timeout=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout)


def open_input(locator: str, what: str, kafka_config: list[str] | None = None,
               since: str | None = None, from_offset: list[str] | None = None,
               timeout: float | None = None, input_format: str | None = None) -> Source:
    """The source ``locator`` names; snapshot options are refused for a path, and
    ``--input-format`` for a topic."""
    from dashfix.inputs.kafka import is_kafka_url
    from dashfix.inputs.sources import FileSource, open_source

    if is_kafka_url(locator) and input_format is not None:
        raise UsageError(f"--input-format applies to files; {what} {locator!r} is a Kafka "
                         "topic")
    if not is_kafka_url(locator):
        if since is not None or from_offset:
            raise UsageError(f"--since and --from-offset apply to kafka:// topics; {what} "
                             f"{locator!r} is a path")
        return open_source(locator, what=what)
    source = open_source(locator, snapshot_options(kafka_config, since, from_offset, timeout),
                         what=what)
    assert not isinstance(source, FileSource)
    return source
