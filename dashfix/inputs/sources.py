"""Sources: a locator (a path, or ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC``) becomes a
source that yields records and says where each one lives.

A ``FileSource`` is what dashfix always read: a file or folder, whose format is detected
from its content (``dashfix.inputs.streams``), cached by its stat.  A ``TopicSource`` is a
bounded, read-only snapshot of a Kafka topic (``dashfix.inputs.kafka``); it has no cache
key, since nothing local says whether the topic changed.  Commands take locators and turn
them into sources here, so every command that reads a log or a dump reads topics too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dashfix.inputs.kafka import (
    KafkaLocator,
    SnapshotOptions,
    TopicSnapshot,
    is_kafka_url,
    parse_kafka_url,
)
from dashfix.inputs.streams import ReadOptions, RecordProblem, StreamRecord, iter_records

KAFKA_FORMAT = "kafka"
"""The ``source_format`` of records read from a topic (framed values, as in kcat)."""


@dataclass(frozen=True, slots=True)
class FileSource:
    path: Path

    @property
    def root(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def cache_key(self) -> Path | None:
        """What the verify cache keys this source's findings on (its stat)."""
        return self.path


@dataclass(frozen=True, slots=True)
class TopicSource:
    locator: KafkaLocator
    options: SnapshotOptions = field(default_factory=SnapshotOptions)

    @property
    def root(self) -> str:
        """The topic's URL: it holds no credential (those are client properties)."""
        return str(self.locator)

    @property
    def name(self) -> str:
        return str(self.locator)

    @property
    def cache_key(self) -> Path | None:
        """None: nothing local tells whether a topic changed, so it is always read."""
        return None

    def snapshot(self) -> TopicSnapshot:
        return TopicSnapshot(self.locator, self.options)


Source = FileSource | TopicSource


def open_source(locator: str | Path, kafka: SnapshotOptions | None = None,
                what: str = "INPUT") -> Source:
    """The source a locator names; ``what`` names the argument in error messages."""
    text = str(locator)
    if is_kafka_url(text):
        return TopicSource(parse_kafka_url(text, what), kafka or SnapshotOptions())
    return FileSource(Path(locator))


def as_source(locator: Path | Source) -> Source:
    """A source as it is, or a path as a ``FileSource`` (the Python API takes either)."""
    return locator if isinstance(locator, FileSource | TopicSource) else FileSource(Path(locator))


def topic_records(source: TopicSource) -> Iterator[StreamRecord]:
    """Every record of a topic's snapshot, partition after partition, in offset order:
    ``index`` is the Kafka offset (so it repeats across partitions), ``offset`` 0."""
    topic = source.locator.topic
    with source.snapshot() as snapshot:
        for part in snapshot.partitions:
            for record in snapshot.records(part):
                key = None if record.key is None else record.key.decode("utf-8", "replace")
                stamp = None if record.timestamp_ms is None else record.timestamp_ms * 1000
                yield StreamRecord(record.offset, 0, record.value, KAFKA_FORMAT,
                                   timestamp_us=stamp, key=key, topic=topic,
                                   partition=part.partition, kafka_offset=record.offset)


def source_records(source: Source, input_format: str | None = None,
                   options: ReadOptions | None = None
                   ) -> Iterator[StreamRecord | RecordProblem]:
    """``iter_records`` of any source (``input_format`` applies to files only)."""
    if isinstance(source, TopicSource):
        return topic_records(source)
    return iter_records(source.path, input_format, options)
