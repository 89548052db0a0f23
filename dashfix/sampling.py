"""Partial verification: ``--sample N/M``, ``--sample P%`` and ``--max-duration SECONDS``.

A sample is a deterministic bucket of the path relative to the scanned root (or to the
store, for the files inside a store): ``xxh3_64(path) % M``.  Bucket ``N-1`` is run ``N/M``,
so the M runs ``1/M`` .. ``M/M`` read every file exactly once between them, whatever the
machine, the order of the listing or the Python hash seed.  ``P%`` keeps the paths whose
hash falls in the lowest P hundredths (steps of 0.01 %), so ``10%`` reads a subset of what
``20%`` reads.

A deadline stops the reading of *new* files once the time is up.  Inside one long file (a
stream log, a DLQ dump) the clock is checked between blocks of records too, so the check
stops part way; a checkpoint file is finished (its decoding is linear and bounded by the
256 MiB read limit).  Whatever was left out is counted, so the summary names it: a partial
run must never look like a clean run over files it did not read.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import xxhash

from dashfix.errors import UsageError

_PERCENT_STEPS = 10_000
"""``P%`` is resolved in hundredths of a percent."""


@dataclass(frozen=True, slots=True)
class Sample:
    """Which bucket of how many: ``--sample 3/10`` is ``Sample(3, 10)``; ``P%`` is
    ``Sample(round(P * 100), 10_000, percent=True)`` (buckets 1..k out of 10,000)."""

    part: int
    of: int
    percent: bool = False

    def selects(self, path: str) -> bool:
        return bool(self.select([path]))

    def select(self, paths: list[str]) -> list[str]:
        """The paths in the sample, in their order (one pass, no call per path)."""
        digest, of = xxhash.xxh3_64_intdigest, self.of
        if self.percent:
            below = self.part
            return [p for p in paths if digest(p.encode("utf-8", "surrogateescape")) % of < below]
        bucket = self.part - 1
        return [p for p in paths if digest(p.encode("utf-8", "surrogateescape")) % of == bucket]

    def describe(self) -> str:
        if self.percent:
            return f"--sample {self.part / 100:g}%"
        return f"--sample {self.part}/{self.of}"


_FRACTION = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


def parse_sample(text: str) -> Sample:
    """``N/M`` with 1 <= N <= M, or ``P%`` with 0 < P <= 100."""
    if fraction := _FRACTION.fullmatch(text):
        part, of = int(fraction[1]), int(fraction[2])
        if not 1 <= part <= of:
            raise UsageError(f"--sample {text!r}: N/M needs 1 <= N <= M, e.g. 1/10")
        return Sample(part, of)
    if percent := _PERCENT.fullmatch(text):
        steps = round(float(percent[1]) * _PERCENT_STEPS / 100)
        if not 0 < steps <= _PERCENT_STEPS:
            raise UsageError(f"--sample {text!r}: P% needs 0 < P <= 100 (0.01 % steps)")
        return Sample(steps, _PERCENT_STEPS, percent=True)
    raise UsageError(f"--sample {text!r}: expected N/M (e.g. 1/10) or P% (e.g. 5%)")


def parse_max_duration(seconds: float | None) -> float | None:
    if seconds is not None and not seconds > 0:
        raise UsageError(f"--max-duration {seconds}: must be a positive number of seconds")
    return seconds


@dataclass
class Selection:
    """Decides, file by file, what a run reads; counts what it leaves out and why.

    One Selection serves a whole run, so ``--max-duration`` is a budget for the run, not
    for each store.
    """

    sample: Sample | None = None
    max_duration: float | None = None
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    sampled_out: Counter[str] = field(default_factory=Counter)
    """Files left out by the sample, per target (its path relative to the scanned root)."""
    timed_out: Counter[str] = field(default_factory=Counter)
    """Files left unread because the time was up, per target."""
    stores_skipped: list[str] = field(default_factory=list)
    """Store folders not opened at all because the time was up."""
    cut_short: dict[str, str] = field(default_factory=dict)
    """Targets whose reading the time limit stopped part way: how far it got."""

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def partial(self) -> bool:
        """True when this run may leave files out (then cross-file checks must not treat
        an unread file as missing)."""
        return self.sample is not None or self.max_duration is not None

    def expired(self) -> bool:
        return self.max_duration is not None and self.clock() - self.started >= self.max_duration

    def admits(self, target: str, path: str) -> bool:
        """Whether to read ``path`` (relative to its target, or to the scanned root for a
        file target); a refusal is counted against ``target``."""
        if not self.sampled(target, path):
            return False
        if self.expired():
            self.ran_out(target, 1)
            return False
        return True

    def sampled(self, target: str, path: str) -> bool:
        """The sample alone (no clock): whether ``path`` is in it; a refusal is counted."""
        if self.sample is None or self.sample.selects(path):
            return True
        self.sampled_out[target] += 1
        return False

    def sampled_names(self, target: str, paths: list[str]) -> list[str]:
        """``sampled`` over a whole listing at once (the hot path of a 100,000-file store)."""
        if self.sample is None:
            return paths
        chosen = self.sample.select(paths)
        self.sampled_out[target] += len(paths) - len(chosen)
        return chosen

    def ran_out(self, target: str, count: int) -> None:
        """``count`` files of ``target`` were not read because the time was up."""
        self.timed_out[target] += count

    def deadline(self) -> Callable[[], bool] | None:
        """What long work inside one target calls between blocks (``expired``), or None
        without --max-duration."""
        return None if self.max_duration is None else self.expired

    def stopped(self, target: str, how_far: str) -> None:
        """The time ran out part way through ``target``; ``how_far`` says what was read."""
        self.cut_short[target] = how_far

    def skipped(self, target: str) -> int:
        return self.sampled_out[target] + self.timed_out[target] + (target in self.cut_short)

    def notes(self) -> list[str]:
        """One line per cause for the summary's "not checked" list."""
        notes = []
        if self.sample is not None and (count := sum(self.sampled_out.values())):
            notes.append(
                f"{count} file(s) outside {self.sample.describe()} were not read"
                f" (in {_places(self.sampled_out)})"
            )
        if count := sum(self.timed_out.values()):
            notes.append(
                f"{count} file(s) were not read because --max-duration {self.max_duration:g}s"
                f" ran out (in {_places(self.timed_out)})"
            )
        if self.cut_short:
            notes.append(
                f"{len(self.cut_short)} file(s) were checked only in part because"
                f" --max-duration {self.max_duration:g}s ran out ("
                + "; ".join(f"{target}: {how}" for target, how in self.cut_short.items()) + ")"
            )
        if self.stores_skipped:
            notes.append(
                f"{len(self.stores_skipped)} store(s) were not checked at all because"
                f" --max-duration {self.max_duration:g}s ran out"
                f" ({_places(Counter(self.stores_skipped))})"
            )
        return notes


def _places(counts: Counter[str], shown: int = 5) -> str:
    names = [name for name, _ in counts.most_common(shown)]
    more = len(counts) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")
