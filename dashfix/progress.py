"""Progress on stderr: rich bars on a terminal, heartbeat lines elsewhere (CI logs).

stdout is never touched, so it carries only the chosen output format.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from dashfix.context import NoProgress, Progress

if TYPE_CHECKING:
    from rich.progress import TaskID

HEARTBEAT_SECONDS = 10.0
PROGRESS_MODES = ("auto", "always", "never")


def _set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(name))


def wants_bars(mode: str, stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Bars in ``always`` mode, or in ``auto`` mode on a capable terminal."""
    if mode == "always":
        return True
    if mode != "auto" or environ.get("TERM") == "dumb":
        return False
    return stream.isatty() or _set(environ, "FORCE_COLOR")


def _rate(count: int, started: float) -> str:
    elapsed = time.monotonic() - started
    return f"{count / elapsed:,.0f}/s" if elapsed > 0 else "-"


def time_left(count: int, total: int | None, started: float) -> str | None:
    """"about 1m 05s left" at the phase's rate so far; None while there is no total or no
    rate yet."""
    elapsed = time.monotonic() - started
    if total is None or count <= 0 or elapsed <= 0:
        return None
    seconds = round(max(total - count, 0) * elapsed / count)
    minutes, seconds = divmod(seconds, 60)
    return f"about {minutes}m {seconds:02d}s left" if minutes else f"about {seconds}s left"


class BarProgress:
    """A rich progress bar per started phase, with counts done, rate and elapsed time."""

    def __init__(self, stream: TextIO, environ: Mapping[str, str]) -> None:
        # rich is imported only when bars are shown: CI runs and --progress never skip it.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichBars

        no_color = _set(environ, "NO_COLOR") or environ.get("TERM") == "dumb"
        console = Console(
            file=stream,
            force_terminal=True,
            no_color=no_color,
            color_system=None if no_color else "auto",
        )
        self._bars = RichBars(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._count = 0
        self._total: int | None = None
        self._started = time.monotonic()

    def start(self, label: str, total: int | None) -> None:
        """A new phase (one per checked store or log) on the same bar."""
        self._count, self._total = 0, total
        self._started = time.monotonic()
        if self._task is None:
            self._bars.start()
            self._task = self._bars.add_task(label, total=total, rate="")
        else:
            self._bars.reset(self._task, total=total, completed=0, description=label, rate="")

    def expect(self, count: int) -> None:
        if self._task is None:
            self.start("checking", None)
        assert self._task is not None
        self._total = (self._total or 0) + count
        self._bars.update(self._task, total=self._total)

    def advance(self, count: int = 1) -> None:
        if self._task is None:
            self.start("checking", None)
        assert self._task is not None
        self._count += count
        self._bars.update(self._task, advance=count, rate=_rate(self._count, self._started))

    def finish(self) -> None:
        if self._task is not None:
            self._bars.stop()
            self._task = None


class HeartbeatProgress:
    """One line on stderr every ``interval`` seconds while a run is going, so CI logs show
    the run is alive even when a single file takes long (a timer, not the advance calls)."""

    def __init__(self, stream: TextIO, interval: float = HEARTBEAT_SECONDS) -> None:
        self._stream = stream
        self._interval = interval
        self._label = "checking"
        self._total: int | None = None
        self._count = 0
        self._started = time.monotonic()
        self._phase_started = self._started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, label: str, total: int | None) -> None:
        self._label, self._total, self._count = label, total, 0
        self._phase_started = time.monotonic()
        if self._thread is None:
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._beat, name="dashfix-heartbeat",
                                            daemon=True)
            self._thread.start()

    def expect(self, count: int) -> None:
        self._total = (self._total or 0) + count

    def advance(self, count: int = 1) -> None:
        if self._thread is None:
            self.start(self._label, None)
        self._count += count

    def line(self) -> str:
        done = f"{self._count:,}" if self._total is None else f"{self._count:,}/{self._total:,}"
        elapsed = time.monotonic() - self._started
        left = time_left(self._count, self._total, self._phase_started)
        return (
            f"dashfix: still working: {self._label} {done} done, "
            f"{_rate(self._count, self._phase_started)}, "
            + (f"{left}, " if left else "")
            + f"{elapsed:.0f}s elapsed"
        )

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            print(self.line(), file=self._stream, flush=True)

    def finish(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._stop = threading.Event()


def make_progress(
    mode: str,
    quiet: bool = False,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> Progress:
    """The progress sink for ``--progress MODE`` (and ``--quiet``)."""
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    if quiet or mode == "never":
        return NoProgress()
    if wants_bars(mode, stream, environ):
        return BarProgress(stream, environ)
    return HeartbeatProgress(stream)
