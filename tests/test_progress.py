from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest

from dashfix.context import NoProgress
from dashfix.progress import BarProgress, HeartbeatProgress, make_progress, time_left
from dashfix.testing.gate import symlink_farm


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_off_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = make_progress("auto", stream=stream, environ={})
    assert not isinstance(progress, BarProgress)
    progress.start("files", 3)
    progress.advance(3)
    progress.finish()
    assert stream.getvalue() == ""  # a short run prints no heartbeat and never a bar


@pytest.mark.parametrize(
    ("mode", "quiet", "stream", "environ", "kind"),
    [
        ("auto", False, Terminal(), {}, BarProgress),
        ("auto", False, Terminal(), {"TERM": "dumb"}, HeartbeatProgress),
        ("auto", False, io.StringIO(), {"FORCE_COLOR": "1"}, BarProgress),
        ("always", False, io.StringIO(), {}, BarProgress),
        ("never", False, Terminal(), {}, NoProgress),
        ("auto", True, Terminal(), {}, NoProgress),
        ("always", True, Terminal(), {}, NoProgress),
    ],
)
def test_mode_selection(mode: str, quiet: bool, stream: io.StringIO,
                        environ: dict[str, str], kind: type) -> None:
    assert type(make_progress(mode, quiet, stream, environ)) is kind


def _bar_output(environ: dict[str, str]) -> str:
    stream = Terminal()
    progress = make_progress("auto", stream=stream, environ=environ)
    progress.start("files", 2)
    progress.advance(2)
    progress.finish()
    return stream.getvalue()


def test_no_color_keeps_the_bar_but_drops_colour() -> None:
    assert "\x1b[3" in _bar_output({})  # rich colours the bar on a terminal
    plain = _bar_output({"NO_COLOR": "1"})
    assert plain and "\x1b[3" not in plain


def test_heartbeat_line_reports_counts_and_rate() -> None:
    stream = io.StringIO()
    beat = HeartbeatProgress(stream, interval=0.01)
    beat.start("files", 10)
    beat.advance(4)
    deadline = time.monotonic() + 10
    while "4/10 done" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    beat.finish()
    line = stream.getvalue().splitlines()[0]
    assert line.startswith("dashfix: still working: files 4/10 done, ")
    assert "/s" in line and "elapsed" in line


def test_cli_stdout_carries_only_the_document(cli, tmp_path: Path) -> None:
    symlink_farm(tmp_path, 2)
    quiet = cli("verify", str(tmp_path), "--format", "json")
    assert quiet.stderr == ""
    loud = cli("verify", str(tmp_path), "--format", "json", "--progress", "always")
    assert json.loads(loud.stdout)["summary"]["findings"] == 2
    assert loud.stderr != ""
    silenced = cli("verify", str(tmp_path), "--format", "json", "--progress", "always", "-q")
    assert silenced.stderr == ""


def test_heartbeat_has_a_total_and_time_left_once_the_listing_is_done() -> None:
    stream = io.StringIO()
    beat = HeartbeatProgress(stream, interval=3600)
    beat.start("run/checkpoints (files)", None)
    beat.advance(0)
    assert "left" not in beat.line()  # nothing listed yet: no total, no estimate
    beat.expect(200_000)
    time.sleep(0.05)
    beat.advance(50_000)
    line = beat.line()
    beat.finish()
    assert "run/checkpoints (files) 50,000/200,000 done, " in line
    assert re.search(r", about (\d+m )?\d+s left, \d+s elapsed$", line), line


def test_time_left_counts_from_the_rate_so_far() -> None:
    started = time.monotonic() - 10.0
    assert time_left(250, 1000, started) in ("about 30s left", "about 31s left")
    assert time_left(100, 10_000, started) == "about 16m 30s left"
    assert time_left(0, 1000, started) is None
    assert time_left(5, None, started) is None


def test_bar_shows_the_total_of_a_listed_store(cli, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from dashfix.testing.checkpoints import StoreBuilder

    monkeypatch.chdir(tmp_path)
    store = StoreBuilder(tmp_path / "checkpoints")
    store.chain("alpha", 7)
    store.index()
    result = cli("verify", "checkpoints", "--progress", "always")
    assert result.exit_code == 0, result.stderr
    shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", result.stderr)
    # rich's M/N column: the total came from the listing ("0/?" only before it).
    assert re.search(r"checkpoints \(files\) \S+ 7/7 .* left", shown), shown
