"""Sources: what a locator (a PATH or a URL) becomes, for every command that reads one.

Two registries live here, both keyed by the locator's form:

- Checkpoint stores (``verify``). A PATH is walked by discovery (``dashfix.inputs.discover``)
  and yields targets of the input kinds: file checkpoint stores, SQLite checkpoint databases,
  stream logs, DLQ dumps. A store URL names one store directly; its scheme picks a
  ``SourceType`` from ``SOURCE_TYPES``, whose module opens it as a ``CheckpointSource``: it
  reads the store (read-only, streaming), yields the neutral checkpoint entries
  (``dashfix.inputs.checkpoint_model``) plus whatever its backend's own checks need, and
  supplies its own cache key, or none.
- Record streams (stream logs, DLQ dumps, ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC``). A
  ``FileSource`` is a file or folder, whose format is detected from its content
  (``dashfix.inputs.streams``), cached by its stat. A ``TopicSource`` is a bounded, read-only
  snapshot of a Kafka topic (``dashfix.inputs.kafka``); it has no cache key, since nothing
  local says whether the topic changed. ``open_source`` turns a locator into one of them, so
  every command that reads a log or a dump reads topics too.

Both share the locator parsing (``parse_locator``, ``split_locators``) and ``redact``, which
takes passwords out of any URL before it is shown.

Nothing here imports a database or Kafka client: a backend's module, and its client (an
optional extra), are imported only when a URL of its scheme is opened.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol
from urllib.parse import parse_qsl, urlencode

from dashfix.errors import InputError, UsageError
from dashfix.inputs.kafka import (
    KafkaLocator,
    SnapshotOptions,
    TopicSnapshot,
    is_kafka_url,
    parse_kafka_url,
)

if TYPE_CHECKING:
    from dashfix.inputs.streams import ReadOptions, RecordProblem, StreamRecord

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SECRET_PARAMETERS = ("password", "passwd", "secret", "token", "key")


class MissingExtraError(UsageError):
    """A URL needs a client library that is not installed (an optional extra)."""


class SourceUnavailable(InputError):
    """A source could not be reached, or refused the credentials (exit code 3)."""


def redact(text: str) -> str:
    """``text`` with any password taken out: the userinfo password and query parameters
    that carry secrets. Anything that is not a URL comes back as it is."""
    if not _URL.match(text):
        return text
    scheme, rest = text.split("://", 1)
    authority_end = min((at for at in (rest.find("/"), rest.find("?"), rest.find("#"))
                         if at >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    userinfo, at_sign, host = authority.rpartition("@")
    if at_sign and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        authority = f"{user}@{host}" if user else host
    path, question, query = tail.partition("?")
    query, hash_sign, fragment = query.partition("#")
    if question and query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(name, value) for name, value in pairs
                if not any(secret in name.lower() for secret in _SECRET_PARAMETERS)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
            question = "?" if query else ""
    return f"{scheme}://{authority}{path}{question}{query}{hash_sign}{fragment}"


def is_url(text: str) -> bool:
    return bool(_URL.match(text))


_SCHEME_ONLY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_PORT_PIECE = re.compile(r"^\d+(?:,[^:/?#]*)?(?:[/?#]|$)")
"""A port, possibly followed by the next host of a list (``kafka://h1:9092,h2:9092/t``)."""


def split_locators(text: str, separator: str = os.pathsep) -> list[str]:
    """PATHs and URLs joined by ``separator`` (``DASHFIX_PATHS``), split so that a URL's own
    colons do not cut it: after ``scheme`` comes ``//...``, and inside a URL's authority a
    piece holding the password (``pw@host``) or starting with a port number belongs to it.
    So ``checkpoints:postgresql://u:pw@db:5432/test:sqlite:////srv/c.db`` is three, and
    ``kafka://h1:9092,h2:9092/topic`` stays one."""
    pieces = text.split(separator)
    out: list[str] = []
    at = 0
    while at < len(pieces):
        piece = pieces[at]
        at += 1
        if _SCHEME_ONLY.match(piece) and at < len(pieces) and pieces[at].startswith("//"):
            url = f"{piece}{separator}{pieces[at]}"
            at += 1
            while at < len(pieces) and _in_authority(url, pieces[at]):
                url += separator + pieces[at]
                at += 1
            piece = url
        if piece:
            out.append(piece)
    return out


def _in_authority(url: str, piece: str) -> bool:
    """Whether ``piece`` continues the authority of ``url`` (still open: no path yet)."""
    authority = url.split("://", 1)[1]
    if "/" in authority or "?" in authority:
        return False
    return bool(_PORT_PIECE.match(piece)) or ("@" not in authority and "@" in piece)


@dataclass(frozen=True, slots=True)
class SourceUrl:
    """A store named by URL. ``text`` may hold a password: show ``display``, never it."""

    text: str

    @property
    def scheme(self) -> str:
        return self.text.split("://", 1)[0].lower()

    @property
    def display(self) -> str:
        return redact(self.text)

    @property
    def is_topic(self) -> bool:
        """A Kafka topic: a stream source (``open_source``), not a checkpoint store."""
        return is_kafka_url(self.text)

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"SourceUrl({self.display!r})"


Locator = Path | SourceUrl


class CacheKey(NamedTuple):
    """A store's findings are replayed while ``path``'s stat and ``salt`` are unchanged."""

    path: Path
    salt: str


class CheckpointSource(Protocol):
    """An opened store. ``backend`` names the source type (and so the checks that read it),
    ``label`` is the store as findings and reports show it (no password)."""

    @property
    def backend(self) -> str: ...

    @property
    def label(self) -> str: ...

    def cache_key(self) -> CacheKey | None:
        """What the verify cache keys this store's findings by; None when the store cannot
        tell cheaply whether it changed (a server): its findings are never cached."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceType:
    name: str
    schemes: tuple[str, ...]
    module: str
    """Holds ``open_store(url: SourceUrl) -> CheckpointSource``."""
    url_form: str
    extra: str | None = None
    """The pip extra that installs the client, or None for the standard library."""
    clients: tuple[str, ...] = ()
    """The top-level modules the extra installs (the client, and cramjam for compressed
    states), looked up before the backend module is imported."""


SOURCE_TYPES: tuple[SourceType, ...] = (
    SourceType("sqlite", ("sqlite",), "dashfix.inputs.backends.sqlite",
               "sqlite:///relative/path.db or sqlite:////absolute/path.db"),
    SourceType("postgres", ("postgresql", "postgres"), "dashfix.inputs.backends.postgres",
               "postgresql://user@host:port/db?table=dashflow_checkpoints", "postgres",
               ("psycopg", "cramjam")),
    SourceType("redis", ("redis", "rediss"), "dashfix.inputs.backends.redis",
               "redis://host:port/db?prefix=dashflow", "redis", ("redis", "cramjam")),
    SourceType("s3", ("s3",), "dashfix.inputs.backends.s3",
               "s3://bucket/prefix?endpoint_url=http://host:port", "aws", ("boto3", "cramjam")),
    SourceType("dynamodb", ("dynamodb",), "dashfix.inputs.backends.dynamodb",
               "dynamodb://table?region=us-east-1&segments=4", "aws", ("boto3", "cramjam")),
)


def source_type(url: SourceUrl) -> SourceType:
    for candidate in SOURCE_TYPES:
        if url.scheme in candidate.schemes:
            return candidate
    if url.is_topic:
        raise UsageError(f"{url.display}: a Kafka topic is a stream, not a checkpoint store")
    known = ", ".join([f"{scheme}://" for t in SOURCE_TYPES for scheme in t.schemes]
                      + ["kafka://"])
    raise UsageError(f"{url.display}: no source reads {url.scheme}:// URLs (known: {known})")


def parse_locator(text: str | Path) -> Locator:
    """A PATH, or a URL of a known scheme (an unknown scheme is a usage error)."""
    if isinstance(text, Path):
        return text
    if is_url(text):
        url = SourceUrl(text)
        if not url.is_topic:
            source_type(url)
        return url
    return Path(text)


MAX_SEGMENTS = 64
"""The most parallel Scan segments of a DynamoDB table (``&segments=N``, ``--segments N``)."""
SEGMENTS_BACKEND = "dynamodb"
"""The one source whose scan is split in segments."""


def checked_segments(count: int | None) -> int | None:
    """``--segments N`` (None when not given): 1 to ``MAX_SEGMENTS``."""
    if count is not None and not 1 <= count <= MAX_SEGMENTS:
        raise UsageError(f"--segments must be 1 to {MAX_SEGMENTS}, not {count}")
    return count


def check_segments_apply(locators: Sequence[object]) -> None:
    """``--segments`` splits the scan of each ``dynamodb://`` URL given: without one it
    would do nothing, which is a usage error."""
    if not any(isinstance(locator, SourceUrl) and not locator.is_topic
               and source_type(locator).name == SEGMENTS_BACKEND for locator in locators):
        raise UsageError("--segments applies to dynamodb:// URLs (a parallel Scan), and none "
                         "was given")


def open_store(url: SourceUrl, *, segments: int | None = None) -> CheckpointSource:
    """The source a URL names, its client checked first: a missing extra is a usage error
    naming the extra. ``segments`` (``--segments``) applies to a DynamoDB table only."""
    kind = source_type(url)
    missing = [name for name in kind.clients if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"{url.display}: reading {kind.name} needs {' and '.join(missing)}, not "
            f"installed: install the '{kind.extra}' extra (python3 -m pip install "
            f"'.[{kind.extra}]' in the dashfix checkout)")
    module = import_module(kind.module)
    if segments is not None and kind.name == SEGMENTS_BACKEND:
        opened: CheckpointSource = module.open_store(url, segments)
    else:
        opened = module.open_store(url)
    return opened


# Record streams: stream logs, DLQ dumps and Kafka topics.

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
    # Imported here, not at the top: the stream readers import dashfix.context, which
    # (through findings and roots) needs ``redact`` from this module.
    from dashfix.inputs.streams import StreamRecord

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
    from dashfix.inputs.streams import iter_records  # see topic_records

    if isinstance(source, TopicSource):
        return topic_records(source)
    return iter_records(source.path, input_format, options)
