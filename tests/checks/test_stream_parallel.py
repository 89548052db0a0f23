"""Two processes checking a capture or JSONL log window by window give what one process
gives."""

from __future__ import annotations

import os
import pickle
import signal
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dashfix.checks.stream import parallel, sequences
from dashfix.checks.stream.log import LogResult, check_log
from dashfix.formats import filelog
from dashfix.inputs.streams import ReadOptions
from dashfix.testing.streams import BASE_US, Messages, encode_frame, unframe, write_kcat

LIMIT = 4096
OTHERS_RUNNING = parallel._others_running  # before the fixture below replaces it
KINDS = ["next", "next", "next", "next", "jump", "back", "again", "earlier", "batch", "diff",
         "node", "null", "bad-flag", "oversize", "late-stamp"]


def _values(plan: list[tuple[str, int]]) -> list[bytes | None]:
    msgs = Messages()
    last: dict[str, int] = {}
    values: list[bytes | None] = []
    for kind, thread_number in plan:
        thread = f"t-{thread_number}"
        sequence = last.get(thread, 0) + {"jump": 3, "back": -2}.get(kind, 1)
        last[thread] = sequence = max(sequence, 1)
        if kind == "again" and values:
            values.append(values[-1])
        elif kind == "earlier" and len(values) >= 3:
            values.append(values[-3])
        elif kind == "batch":
            values.append(encode_frame(msgs.batch(thread, range(sequence, sequence + 3))))
            last[thread] = sequence + 2
        elif kind == "diff":
            values.append(encode_frame(msgs.state_diff(thread, sequence, state_bytes=1500)))
        elif kind == "node":
            values.append(encode_frame(msgs.event(thread, sequence, event_type=80)))
        elif kind == "null":
            values.append(None)
        elif kind == "bad-flag":
            values.append(b"\x07not a frame")
        elif kind == "oversize":
            values.append(b"\x00" + b"x" * (LIMIT + 10))
        elif kind == "late-stamp":
            values.append(encode_frame(msgs.event(thread, sequence, timestamp_us=BASE_US - 7)))
        else:
            values.append(encode_frame(msgs.event(thread, sequence)))
    return values


@pytest.fixture(autouse=True)
def _two_idle_cpus(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The parallel path whatever this machine has and however busy it is."""
    monkeypatch.setattr(parallel, "parallel_workers", lambda: 2)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    monkeypatch.setattr(parallel, "_others_running", lambda: 0)
    yield


def _check(path: Path, window: int, *, in_parallel: bool) -> LogResult:
    return check_log(path, path.name, options=ReadOptions(limit=LIMIT, max_line_bytes=9000),
                     now_us=BASE_US, parallel=in_parallel, window=window)


def _same(one: LogResult, two: LogResult) -> None:
    assert [f.to_dict() for f in two.findings] == [f.to_dict() for f in one.findings]
    assert [t.to_dict() for t in two.threads] == [t.to_dict() for t in one.threads]
    assert (two.records, two.input_format) == (one.records, one.input_format)


def _compare(values: list[bytes | None], tail: bytes, window: int) -> LogResult:
    with tempfile.TemporaryDirectory() as folder:
        path = write_kcat(Path(folder) / "capture.kcat", values)
        with open(path, "ab") as out:
            out.write(tail)
        alone = _check(path, window, in_parallel=False)
        together = _check(path, window, in_parallel=True)
    _same(alone, together)
    return together


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 3)), min_size=1,
                max_size=60),
       st.sampled_from([b"", b"\x00\x00", struct.pack(">i", 500) + b"cut"]),
       st.integers(1, 9), st.sampled_from([4, sequences.DEDUP_WINDOW]))
def test_parallel_check_gives_the_sequential_findings(
        plan: list[tuple[str, int]], tail: bytes, window: int, remembered: int) -> None:
    with patch.object(sequences, "DEDUP_WINDOW", remembered):
        _compare(_values(plan), tail, window)


def test_sequence_findings_across_window_boundaries() -> None:
    plan = [("next", 0), ("next", 1), ("next", 0), ("jump", 0), ("next", 1), ("back", 1),
            ("again", 0), ("late-stamp", 0), ("next", 0), ("next", 1)]
    result = _compare(_values(plan), b"", 2)
    # Record 7 is t-0's first message of its window: the gap before it and its backwards
    # timestamp are owed by the merge; record 6 repeats record 5 from the previous window:
    # a retry.
    assert [(f.code, f.record) for f in result.findings] == [
        ("ST251", 5), ("ST252", 6), ("ST257", 7), ("ST251", 9), ("ST250", 3), ("ST250", 7)]


def test_retries_from_the_previous_window_but_not_from_the_one_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    msgs = Messages()
    t0 = [encode_frame(msgs.event("t-0", sequence)) for sequence in range(1, 7)]
    node = encode_frame(msgs.event("t-1", 1, event_type=80))
    # Windows of 4: records 4 and 5 repeat records 3 and 2 (a node event, which a fresh
    # tracker would take for a new one, and t-0's last); record 8 repeats record 1, two
    # windows back, so it is a sequence checked again.
    values: list[bytes | None] = [*t0[:3], node, node, t0[2], t0[3], t0[4], t0[1], t0[5]]
    adopted: list[int] = []
    adopt = sequences.SequenceTracker.adopt_ids

    def counted(self: sequences.SequenceTracker, checked: sequences.SequenceTracker) -> None:
        adopted.append(len(checked.threads))
        adopt(self, checked)

    monkeypatch.setattr(sequences.SequenceTracker, "adopt_ids", counted)
    result = _compare(values, b"", 4)
    assert [(f.code, f.record) for f in result.findings] == [
        ("ST252", 4), ("ST252", 5), ("ST251", 8)]
    assert [(t.thread_id, t.exact_duplicates, t.duplicates, t.node_messages)
            for t in result.threads] == [("t-0", 1, 1, 0), ("t-1", 1, 0, 1)]
    assert adopted == [2]  # window 0's message_ids, read again for window 1


_RETRIES_AND_A_GAP = [("earlier" if n % 7 == 4 else "next", n % 3) for n in range(40)] + [
    ("jump", 1)]
"""Three threads in turn, some records repeating one three records back (the previous
window, or two back, in windows of 4), then a gap."""


@pytest.mark.parametrize("dies_in", ["check", "boundary"])
def test_a_dying_worker_leaves_its_windows_to_this_process(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dies_in: str) -> None:
    """The worker crashes while checking a window, or exits while holding the token."""
    path = write_kcat(tmp_path / "capture.kcat", _values(_RETRIES_AND_A_GAP))
    alone = _check(path, 4, in_parallel=False)
    parent = os.getpid()
    original = getattr(parallel._Shared, dies_in)

    def dies_in_the_worker(self: Any, *args: Any) -> Any:
        if os.getpid() != parent:
            if dies_in == "check":
                raise RuntimeError("worker crash")
            os._exit(3)  # the token is never passed on
        return original(self, *args)

    monkeypatch.setattr(parallel._Shared, dies_in, dies_in_the_worker)
    monkeypatch.setattr(parallel, "_POLL_SECONDS", 0.05)
    _same(alone, _check(path, 4, in_parallel=True))


def _worker_dies_at(monkeypatch: pytest.MonkeyPatch, path: Path, dies_at: int) -> None:
    """Check ``path`` in windows of 4 with a worker that takes its first window only once
    this process is checking window ``dies_at - 1`` (as when the machine is too busy to run
    it sooner), and crashes in it: the findings are those of one process."""
    alone = _check(path, 4, in_parallel=False)
    parent = os.getpid()
    gate_r, gate_w = os.pipe()
    crashed_r, crashed_w = os.pipe()
    check = parallel._Shared.check
    take_windows = parallel._Shared.take_windows
    crashed_in: list[int] = []

    def gated(self: Any, *args: Any, **kwargs: Any) -> None:
        if os.getpid() != parent:
            os.read(gate_r, 1)  # until this process checks window dies_at - 1
        take_windows(self, *args, **kwargs)

    def crashes_in_the_worker(self: Any, number: int, *args: Any) -> Any:
        if os.getpid() != parent:
            os.write(crashed_w, struct.pack("<q", number))
            raise RuntimeError("worker crash")
        if number == dies_at - 1 and not crashed_in:
            # The token for window dies_at waits in the pipe: the worker takes it.
            os.write(gate_w, b"x")
            crashed_in.extend(struct.unpack("<q", os.read(crashed_r, 8)))
        return check(self, number, *args)

    monkeypatch.setattr(parallel._Shared, "take_windows", gated)
    monkeypatch.setattr(parallel._Shared, "check", crashes_in_the_worker)
    monkeypatch.setattr(parallel, "_POLL_SECONDS", 0.05)
    try:
        together = _check(path, 4, in_parallel=True)
    finally:
        for fd in (gate_r, gate_w, crashed_r, crashed_w):
            os.close(fd)
    assert crashed_in == [dies_at]
    _same(alone, together)


@pytest.mark.parametrize("dies_at", [1, 2, 4, 6])
def test_a_worker_dying_at_any_window_leaves_the_sequential_findings(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dies_at: int) -> None:
    """This process re-checks from the worker's window on: a retry at the start of window 4
    or 6 repeats the record before it, in the window before, so it is an exact duplicate
    (ST252) only if that window's message_ids are the previous window's there."""
    _worker_dies_at(monkeypatch, write_kcat(tmp_path / "capture.kcat",
                                            _values(_RETRIES_AND_A_GAP)), dies_at)


@pytest.mark.parametrize("dies_at", [2, 3, 4])
def test_a_worker_dying_next_to_a_window_of_blank_lines(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dies_at: int) -> None:
    """A JSONL log in windows of 4 whose window 2 is blank lines: record 12 repeats record
    7, two windows back (a sequence seen again, ST251), record 17 repeats record 15, the
    window before (a retry, ST252). The worker dies in the blank window, after it, or in
    window 4."""
    msgs = Messages()
    t0 = [encode_frame(msgs.event("t-0", sequence)) for sequence in range(1, 15)]
    values: list[bytes | None] = [*t0[:8], None, None, None, None, t0[7], *t0[8:12], t0[10],
                                  *t0[12:]]
    lines = [b"\n" if value is None else _jsonl_line(number, value)
             for number, value in enumerate(values)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    assert [(f.code, f.record) for f in _check(path, 4, in_parallel=False).findings] == [
        ("ST251", 12), ("ST252", 17)]
    _worker_dies_at(monkeypatch, path, dies_at)


def test_one_window_is_checked_without_a_worker(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_kcat(tmp_path / "capture.kcat", _values([("next", 0)] * 5))
    monkeypatch.setattr(os, "fork", _no_fork)
    assert _check(path, 5, in_parallel=True).records == 5


def _jsonl_line(number: int, value: bytes | None) -> bytes:
    """A file-backend line for a generated value; nulls become blank or broken lines."""
    if value is None:
        return [b"\n", b"not json\n", b'{"offset": 1}\n'][number % 3]
    data = unframe(value) if value[:1] in (b"\x00", b"\x01") else value
    return filelog.encode_line(number, BASE_US + number, data)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 3)), min_size=1,
                max_size=60),
       st.sampled_from([b"", b"\n\n", b'{"offset": 9, "timestamp_us": 1, "data": "AA'
                        + b"A" * 12000]),
       st.integers(1, 9))
# A blank line makes a window of no record: a retry after it is two windows on.
@example(plan=[("next", 0), ("again", 0), ("null", 0), ("earlier", 0)], tail=b"", window=1)
def test_parallel_check_of_a_jsonl_log_gives_the_sequential_findings(
        plan: list[tuple[str, int]], tail: bytes, window: int) -> None:
    # The first line makes the log a file-backend log for detection.
    values = [encode_frame(Messages(seed=9).event("t-9", 1)), *_values(plan)]
    lines = b"".join(_jsonl_line(number, value) for number, value in enumerate(values))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        path.write_bytes(lines + tail)
        alone = _check(path, window, in_parallel=False)
        together = _check(path, window, in_parallel=True)
    assert alone.input_format == "jsonl"
    _same(alone, together)


def _no_fork() -> int:
    raise AssertionError("forked a worker")


def test_a_crowded_machine_gets_no_worker(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    path = write_kcat(tmp_path / "capture.kcat", _values([("next", n % 3) for n in range(30)]))
    alone = _check(path, 4, in_parallel=False)
    monkeypatch.setattr(parallel, "_others_running", lambda: 2)  # both CPUs taken
    monkeypatch.setattr(os, "fork", _no_fork)
    _same(alone, _check(path, 4, in_parallel=True))


def test_others_running_is_the_instant_count_without_this_process(tmp_path: Path) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("2.10 1.50 0.90 3/97 12345\n")
    assert OTHERS_RUNNING(str(loadavg)) == 2
    loadavg.write_text("garbage\n")
    assert OTHERS_RUNNING(str(loadavg)) == 0
    assert OTHERS_RUNNING(str(tmp_path / "missing")) == 0


def test_no_process_to_spare_means_one_process(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    path = write_kcat(tmp_path / "capture.kcat", _values([("next", n % 3) for n in range(30)]))
    alone = _check(path, 4, in_parallel=False)

    def fork_fails() -> int:
        raise BlockingIOError("no more processes")

    monkeypatch.setattr(os, "fork", fork_fails)
    _same(alone, _check(path, 4, in_parallel=True))


def test_a_failure_here_propagates_and_reaps_the_worker(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    path = write_kcat(tmp_path / "capture.kcat", _values([("next", n % 3) for n in range(60)]))

    def fails(self: Any, window: Any) -> None:
        raise RuntimeError("merge failed")

    workers: list[int] = []
    real_fork = os.fork

    def recorded_fork() -> int:
        pid = real_fork()
        if pid:
            workers.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recorded_fork)
    monkeypatch.setattr(parallel._Merger, "_keep", fails)  # this process's first window
    with pytest.raises(RuntimeError, match="merge failed"):
        _check(path, 4, in_parallel=True)
    assert workers, "the check ran in one process: nothing was tested"
    # Only this check's workers: another test's child (a broker) may still be running.
    for pid in workers:
        with pytest.raises(ChildProcessError):  # the worker is not left running or unreaped
            os.waitpid(pid, os.WNOHANG)


def test_one_other_busy_task_still_gets_a_worker(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    path = write_kcat(tmp_path / "capture.kcat", _values([("next", n % 3) for n in range(30)]))
    forks: list[int] = []

    def counted_fork_that_fails() -> int:
        forks.append(1)
        raise BlockingIOError("no more processes")

    monkeypatch.setattr(parallel, "_others_running", lambda: 1)
    monkeypatch.setattr(os, "fork", counted_fork_that_fails)
    assert _check(path, 4, in_parallel=True).records == 30
    assert forks == [1]


def test_the_worker_runs_at_most_a_few_windows_ahead(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """This process checks its windows slowly; what waits to be merged stays bounded."""
    path = write_kcat(tmp_path / "capture.kcat", _values([("next", n % 3) for n in range(80)]))
    alone = _check(path, 1, in_parallel=False)
    parent = os.getpid()
    check = parallel._Shared.check
    merge_ready = parallel._Merger._merge_ready
    waiting: list[int] = []

    def slow_here(self: Any, *args: Any) -> Any:
        if os.getpid() == parent:
            time.sleep(0.02)
        return check(self, *args)

    def counted(self: Any) -> None:
        waiting.append(len(self.pending))
        merge_ready(self)

    monkeypatch.setattr(parallel._Shared, "check", slow_here)
    monkeypatch.setattr(parallel._Merger, "_merge_ready", counted)
    _same(alone, _check(path, 1, in_parallel=True))
    assert 0 < max(waiting) <= parallel._AHEAD + 1


def test_windows_arriving_late_do_not_stall_the_end(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """The worker's windows reach this process slowly, so it runs out of credits near the
    end while this process has already seen that no window is left."""
    path = write_kcat(tmp_path / "capture.kcat", _values([("next", n % 3) for n in range(80)]))
    alone = _check(path, 1, in_parallel=False)
    loads = pickle.loads

    def slow_loads(data: bytes) -> Any:
        time.sleep(0.03)
        return loads(data)

    monkeypatch.setattr(parallel.pickle, "loads", slow_loads)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the check stalled"))
    signal.alarm(20)
    try:
        _same(alone, _check(path, 1, in_parallel=True))
    finally:
        signal.alarm(0)
