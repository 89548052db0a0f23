"""What a check receives besides its target: options, counters and progress."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dashfix.findings import Severity
from dashfix.sampling import Sample, Selection

if TYPE_CHECKING:
    from dashfix.cache import VerifyCache

MIB = 1024 * 1024
CONSUMER_LIMIT = 1 * MIB
"""DashFlow's default max message size for consumer and producer."""
SERVER_LIMIT = 10 * MIB
"""The cap of DashFlow's CLI, websocket server and exporter."""


class Progress(Protocol):
    """Progress sink. Checks call ``advance`` as they finish files or records, and
    ``expect`` as soon as they know how many more are coming (a store once it is listed),
    so the phase has a total and a time left."""

    def start(self, label: str, total: int | None) -> None: ...

    def expect(self, count: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """Used when progress is off (``--progress never``, ``--quiet`` or the Python API)."""

    def start(self, label: str, total: int | None) -> None:
        return None

    def expect(self, count: int) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        return None

    def finish(self) -> None:
        return None


@dataclass
class VerifyOptions:
    fail_on: Severity | None = Severity.ERROR
    """Lowest severity that fails the run; None means never fail on findings."""
    limit_bytes: int = CONSUMER_LIMIT
    """Frame size cap for stream inputs (``--limits``)."""
    input_format: str | None = None
    """Force one stream input format instead of detecting it."""
    max_line_bytes: int | None = None
    """Cap on one JSON line; None derives it from ``limit_bytes``."""
    cache_dir: Path | None = None
    """``--cache DIR``: reuse what unchanged files decoded to last time."""
    sample: Sample | None = None
    """``--sample N/M|P%``: read only this bucket of the files."""
    max_duration: float | None = None
    """``--max-duration SECONDS``: read no new file once this much time has passed."""
    kafka_properties: dict[str, str] = field(default_factory=dict)
    """librdkafka client properties for ``kafka://`` targets (``--kafka-config``)."""
    kafka_timeout: float = 30.0
    """How long to wait on a Kafka broker at each step (``--kafka-timeout``)."""
    allow_empty: bool = False
    """``--allow-empty``: a PATH with nothing to check is a note, not DF003 (exit code 3)."""
    segments: int | None = None
    """``--segments N``: parallel Scan segments of each ``dynamodb://`` URL, over its own
    ``&segments``."""


@dataclass
class CheckContext:
    root: Path | str
    """The scanned PATH, or a store's URL (without its password)."""
    options: VerifyOptions
    stats: Counter[str] = field(default_factory=Counter)
    """Counts for the summary: files, threads, stores, logs, dumps, records, ..."""
    not_checked: list[str] = field(default_factory=list)
    """Human-readable notes on what was deliberately not checked (sampling, time limit)."""
    progress: Progress = field(default_factory=NoProgress)
    selection: Selection = field(default_factory=Selection)
    """Which files this run reads (sample, time limit); shared by every target of the run."""
    cache: VerifyCache | None = None
    """The run's verify cache, when ``--cache`` is on and its folder is usable."""
