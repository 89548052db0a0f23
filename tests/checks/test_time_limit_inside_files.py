"""--max-duration stops long work inside one file: a stream log or a DLQ dump is checked
part way and the summary says how far. A deterministic clock decides, never a timer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from dashfix.checks.dlq import DEADLINE_LINES, check_dlq_target
from dashfix.checks.stream.log import check_stream_target
from dashfix.context import CheckContext, VerifyOptions
from dashfix.findings import Finding
from dashfix.inputs import Target
from dashfix.sampling import Selection
from dashfix.testing.dlq import library_record, valid_payload, write_dump
from dashfix.testing.streams import Messages, encode_frame, write_kcat


class StepClock:
    """Each reading advances one second: the limit is reached after ``limit`` readings."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return float(self.readings)


def _context(tmp_path: Path, limit: float | None) -> CheckContext:
    selection = Selection(max_duration=limit, clock=StepClock())
    return CheckContext(root=tmp_path, options=VerifyOptions(), selection=selection)


def _kcat_log(tmp_path: Path, records: int) -> Target:
    msgs = Messages()
    values = [encode_frame(msgs.event("t-a", seq)) for seq in range(1, records + 1)]
    path = write_kcat(tmp_path / "log.kcat", values)
    return Target("stream-log", path, "log.kcat", tmp_path)


def _run(check: Callable[[Target, CheckContext], Iterator[Finding]], target: Target,
         ctx: CheckContext) -> list[Finding]:
    return list(check(target, ctx))


def test_a_stream_log_stops_at_the_block_where_the_time_ran_out(tmp_path: Path) -> None:
    target = _kcat_log(tmp_path, 5 * 1024)
    whole = _context(tmp_path, None)
    _run(check_stream_target, target, whole)
    assert whole.stats["records"] == 5 * 1024 and not whole.selection.cut_short

    # started = reading 1; the check after block k is reading k + 1: expired at 3 seconds.
    limited = _context(tmp_path, 2.0)
    _run(check_stream_target, target, limited)
    assert limited.stats["records"] == 2 * 1024
    assert limited.selection.cut_short == {"log.kcat": "the first 2048 record(s)"}
    assert limited.selection.skipped("log.kcat") == 1
    [note] = limited.selection.notes()
    assert "checked only in part because --max-duration 2s ran out" in note
    assert "log.kcat: the first 2048 record(s)" in note


def test_a_stream_log_read_within_the_limit_is_complete(tmp_path: Path) -> None:
    target = _kcat_log(tmp_path, 1024)
    ctx = _context(tmp_path, 100.0)
    _run(check_stream_target, target, ctx)
    assert ctx.stats["records"] == 1024 and ctx.selection.notes() == []


def test_a_dlq_dump_stops_every_deadline_lines(tmp_path: Path) -> None:
    lines = [library_record(valid_payload(n + 1), offset=n, number=n)
             for n in range(3 * DEADLINE_LINES + 10)]
    path = write_dump(tmp_path / "dlq.jsonl", lines)
    target = Target("dlq-dump", path, "dlq.jsonl", tmp_path)
    # started = reading 1; the check after line 1000k is reading k + 1: expired at 2 s.
    ctx = _context(tmp_path, 1.5)
    _run(check_dlq_target, target, ctx)
    assert ctx.stats["records"] == 2 * DEADLINE_LINES
    assert ctx.selection.cut_short == {"dlq.jsonl": f"the first {2 * DEADLINE_LINES} record(s)"}
