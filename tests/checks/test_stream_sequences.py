"""Per-thread sequence model: gaps closed by late arrivals, duplicates, node bucket."""

from __future__ import annotations

from itertools import pairwise
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix import native
from dashfix.checks.stream import sequences
from dashfix.checks.stream.scan import scan_message, scan_message_python, scan_record
from dashfix.checks.stream.sequences import (
    NODE_PAYLOADS,
    SequenceTracker,
    ThreadSummary,
)
from dashfix.rules import stream as rules
from dashfix.testing.streams import BASE_US, Messages

SCANNERS = {"default": scan_message, "python": scan_message_python}


def _track(messages: list[Any]) -> SequenceTracker:
    tracker = SequenceTracker("log", now_us=BASE_US)
    for number, message in enumerate(messages):
        tracker.observe(message, number, number * 100)
    tracker.finish()
    return tracker


def _codes(tracker: SequenceTracker) -> list[str]:
    return [f.code for f in tracker.findings]


def test_in_order_threads_are_clean() -> None:
    msgs = Messages()
    messages = [msgs.event(thread, seq) for seq in range(1, 6) for thread in ("a", "b")]
    tracker = _track(messages)
    assert tracker.findings == []
    assert [(t.thread_id, t.first_sequence, t.last_sequence, t.sequenced)
            for t in tracker.summaries()] == [("a", 1, 5, 5), ("b", 1, 5, 5)]


def test_late_arrival_closes_part_of_a_gap() -> None:
    msgs = Messages()
    tracker = _track([msgs.event("a", s) for s in (1, 2, 6, 4)])
    assert _codes(tracker) == ["ST253", "ST250", "ST250"]
    gaps = [f for f in tracker.findings if f.code == "ST250"]
    assert [(g.details["missing_first"], g.details["missing_last"], g.record) for g in gaps] == [
        (3, 3, 2), (5, 5, 2)]
    (summary,) = tracker.summaries()
    assert (summary.missing, summary.gaps, summary.reorders) == (2, 2, 1)


def test_exact_duplicates_are_counted_apart_from_sequence_duplicates() -> None:
    msgs = Messages()
    first, second = msgs.event("a", 1), msgs.event("a", 2)
    restart = msgs.event("a", 2)
    tracker = _track([first, second, second, restart])
    assert _codes(tracker) == ["ST252", "ST251"]
    (summary,) = tracker.summaries()
    assert (summary.exact_duplicates, summary.duplicates, summary.messages) == (1, 1, 3)


def test_batches_skip_sequence_zero_and_track_inner_events() -> None:
    msgs = Messages()
    tracker = _track([msgs.event("a", 1), msgs.batch("a", (2, 3, 4)), msgs.event("a", 5)])
    assert tracker.findings == []
    (summary,) = tracker.summaries()
    assert (summary.sequenced, summary.last_sequence) == (5, 5)


def test_node_context_telemetry_has_its_own_bucket() -> None:
    msgs = Messages()
    node = [msgs.event("a", s, event_type=80) for s in (1, 1, 2, 1)]
    tracker = _track([msgs.event("a", 1), *node, msgs.event("a", 2)])
    assert tracker.findings == []
    (summary,) = tracker.summaries()
    assert (summary.node_messages, summary.sequenced) == (4, 2)


def test_error_events_need_their_text() -> None:
    msgs = Messages()
    with_text = msgs.event("a", 1, event_type=12, attributes={"error": "boom"})
    without = msgs.event("a", 2, event_type=12)
    tracker = _track([with_text, without, msgs.error("a", 3, text="")])
    assert _codes(tracker) == ["ST258", "ST258"]
    assert [f.record for f in tracker.findings] == [1, 2]


def test_timestamps() -> None:
    msgs = Messages()
    stamps = [BASE_US, 0, -1, BASE_US + 10**12, BASE_US - 5]
    tracker = _track([msgs.event("a", n + 1, timestamp_us=ts) for n, ts in enumerate(stamps)])
    assert _codes(tracker) == ["ST254", "ST255", "ST256", "ST257"]


# -- windows checked apart and merged (absorb) -----------------------------------------

Step = tuple[str, str, int, int]
"""(kind, thread, sequence step, timestamp choice) of one generated message."""

steps = st.lists(st.tuples(
    st.sampled_from(["event", "event", "event", "node", "batch", "run", "error", "again",
                     "reuse"]),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from([1, 1, 1, 1, 1, 0, 2, 3, -1, -3, -20]),
    st.integers(0, 9)), min_size=8, max_size=40)


def _messages(plan: list[Step]) -> list[Any]:
    """Mostly the next sequence of the thread; sometimes a repeat, a jump or a step back."""
    msgs = Messages()
    built: list[Any] = []
    last: dict[str, int] = {}
    for kind, thread, step, stamp_choice in plan:
        sequence = last[thread] = max(0, last.get(thread, 0) + step)
        # Mostly on time; sometimes 0, negative or a step back.
        stamp = {0: 0, 1: -5, 2: BASE_US - 10**6}.get(stamp_choice, BASE_US + msgs.count * 1000)
        if kind == "again" and built:
            built.append(built[sequence % len(built)])
        elif kind == "reuse" and built:
            earlier = built[sequence % len(built)]
            which = earlier.WhichOneof("message")
            message_id = getattr(earlier, which).header.message_id
            built.append(msgs.event(thread, sequence, message_id=message_id))
        elif kind == "node":
            built.append(msgs.event(thread, sequence, event_type=80, timestamp_us=stamp))
        elif kind == "batch":
            built.append(msgs.batch(thread, (sequence, sequence + 1, sequence + 3)))
            last[thread] = sequence + 3
        elif kind == "run":
            built.append(msgs.batch(thread, (sequence, sequence + 1, sequence + 2)))
            last[thread] = sequence + 2
        elif kind == "error":
            built.append(msgs.error(thread, sequence, text="" if stamp_choice < 5 else "x"))
        else:
            built.append(msgs.event(thread, sequence, timestamp_us=stamp))
    return built


def _windowed(messages: list[Any], window: int) -> tuple[SequenceTracker, SequenceTracker, int]:
    """The same messages through one tracker (a new window every ``window`` records) and
    through a fresh tracker per window merged with ``absorb``; and how many merges had
    to fall back to observing the window again."""
    whole = SequenceTracker("log", now_us=BASE_US)
    merged = SequenceTracker("log", now_us=BASE_US, merging=True)
    fallbacks = 0
    for first in range(0, len(messages), window):
        part = messages[first:first + window]
        chunk = merged.spawn()
        whole.new_window()
        for number, message in enumerate(part, first):
            whole.observe(message, number, number * 100)
            chunk.observe(message, number, number * 100)
        chunk.end_window(keep_ids=True)  # absorb hands them on: no rereading needed here
        if not merged.absorb(chunk):
            fallbacks += 1
            merged.new_window()
            for number, message in enumerate(part, first):
                merged.observe(message, number, number * 100)
            merged.end_window(keep_ids=True)
    whole.finish()
    merged.finish()
    return whole, merged, fallbacks


def _state(tracker: SequenceTracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return ([f.to_dict() for f in tracker.findings], [t.to_dict() for t in tracker.summaries()])


@settings(max_examples=300, deadline=None)
@given(steps, st.integers(1, 8), st.sampled_from([2, 1000]),
       st.sampled_from([3, sequences.DEDUP_WINDOW]))
def test_absorbing_windows_gives_what_one_tracker_gives(
        plan: list[Step], window: int, max_gaps: int, remembered: int) -> None:
    with (patch.object(sequences, "MAX_OPEN_GAPS", max_gaps),
          patch.object(sequences, "DEDUP_WINDOW", remembered)):
        whole, merged, _ = _windowed(_messages(plan), window)
    assert _state(merged) == _state(whole)


def test_absorb_settles_gaps_and_backward_timestamps_across_windows() -> None:
    msgs = Messages()
    messages = [msgs.event("a", 1), msgs.event("a", 2, timestamp_us=BASE_US + 10**9),
                msgs.event("a", 5), msgs.event("a", 6), msgs.event("b", 1)]
    whole, merged, fallbacks = _windowed(messages, 2)
    assert fallbacks == 0
    assert _codes(merged) == ["ST257", "ST250"]  # backwards at 5, then 3..4 missing
    assert _state(merged) == _state(whole)


def test_a_retry_from_the_previous_window_is_an_exact_duplicate() -> None:
    msgs = Messages()
    first, second, node = msgs.event("a", 1), msgs.event("a", 2), msgs.event("b", 1, event_type=80)
    # Windows of 2: records 2 and 4 repeat records 1 and 3, just across a boundary.
    whole, merged, fallbacks = _windowed(
        [first, node, node, second, second, msgs.event("a", 3)], 2)
    assert [(f.code, f.record) for f in whole.findings] == [("ST252", 2), ("ST252", 4)]
    assert [(t.exact_duplicates, t.messages) for t in whole.summaries()] == [(1, 3), (1, 1)]
    # Window 1 looks fine on its own (a node event, then the next of "a"): only the
    # message_ids it shares with window 0 make absorb decline it.
    assert fallbacks == 2
    assert _state(merged) == _state(whole)


def test_a_retry_from_two_windows_back_is_checked_as_a_new_message() -> None:
    msgs = Messages()
    messages = [msgs.event("a", sequence) for sequence in range(1, 5)]
    whole, merged, _ = _windowed([*messages, messages[0]], 2)
    assert [(f.code, f.record) for f in whole.findings] == [("ST251", 4)]
    assert _state(merged) == _state(whole)


def test_absorb_declines_a_late_arrival_from_an_earlier_window() -> None:
    msgs = Messages()
    messages = [msgs.event("a", 1), msgs.event("a", 3), msgs.event("a", 2)]
    whole, merged, fallbacks = _windowed(messages, 2)
    assert fallbacks == 1
    assert _codes(merged) == ["ST253"]
    assert _state(merged) == _state(whole)


def _observe_without_inline_path(tracker: SequenceTracker, message: Any, record: int) -> None:
    """``observe`` as it would be without the inline common case of ``observe_payload``:
    every message through ``_message``."""
    which = message.WhichOneof("message")
    payload = getattr(message, which)
    header = payload.header
    if not header.thread_id:
        return
    tracker._record, tracker._offset, tracker._path = record, record * 100, tracker.path
    thread = tracker.threads.setdefault(header.thread_id, ThreadSummary(header.thread_id))
    if which == "event_batch":
        thread.messages += 1
        tracker._timestamp(header.timestamp_us, thread)
    for item in payload.events if which == "event_batch" else [payload]:
        inner = item.header
        typed = which in ("event", "event_batch")
        tracker._message(thread, inner.sequence, inner.timestamp_us, inner.message_id,
                         item.event_type if typed else 0, item if typed else None,
                         which in NODE_PAYLOADS)
    if which == "error" and not payload.message:
        tracker._add(rules.ERROR_WITHOUT_TEXT,
                     f"Error message (code {payload.error_code!r}) has an empty message",
                     header.thread_id, f"error:{header.message_id.hex()}")


@settings(max_examples=300, deadline=None)
@given(steps)
def test_inline_common_case_changes_nothing(plan: list[Step]) -> None:
    messages = _messages(plan)
    inline = SequenceTracker("log", now_us=BASE_US)
    general = SequenceTracker("log", now_us=BASE_US)
    for number, message in enumerate(messages):
        inline.observe(message, number, number * 100)
        _observe_without_inline_path(general, message, number)
    inline.finish()
    general.finish()
    assert _state(inline) == _state(general)


@settings(max_examples=300, deadline=None)
@given(steps, st.sampled_from([3, sequences.DEDUP_WINDOW]),
       st.sampled_from(sorted(SCANNERS)))
def test_the_hot_path_tracks_what_observe_tracks(plan: list[Step], remembered: int,
                                                 scanner: str) -> None:
    """What ``check_records`` hands the tracker (``scan_record``: items, or whole runs)
    leaves it as ``observe`` of the decoded message does."""
    hot = SequenceTracker("log", now_us=BASE_US)
    slow = SequenceTracker("log", now_us=BASE_US)
    with patch.object(sequences, "DEDUP_WINDOW", remembered):
        for number, message in enumerate(_messages(plan)):
            slow.observe(message, number, number * 100)
            scanned = scan_record(b"\x00" + message.SerializeToString(), 1 << 20, False,
                                  scan=SCANNERS[scanner])
            if scanned is None:
                hot.observe(message, number, number * 100)
            else:
                hot.observe_block([scanned], [(number, number * 100, None)])
    hot.finish()
    slow.finish()
    assert _state(hot) == _state(slow)


# -- the common case: take_common in C, its Python twin, and no common case at all -------

TAKERS: dict[str, sequences.TakeCommon] = {
    "python": sequences.take_common_python,
    "nothing": lambda threads, scans, start, future_us, remembered, *_: (start, remembered),
}
"""``take_common`` implementations: the Python twin, one that takes no scan (every message
through the general path), and the C one when the extension is in use."""
if native.MODULE is not None:
    TAKERS["c"] = native.MODULE.take_common

far_steps = st.lists(st.tuples(
    st.sampled_from(["event", "event", "event", "event", "run", "run", "batch", "again",
                     "reuse", "node", "error", "far"]),
    st.sampled_from(["a", "b", "c", "d", "e"]),
    st.sampled_from([1, 1, 1, 1, 1, 1, 0, 2, -1, -5]),
    st.sampled_from([5, 6, 7, 8, 9, 5, 6, 7, 8, 9, 0, 1, 2, 3])), min_size=1, max_size=60)
"""Like ``steps``, mostly healthy (so that most scans are Singles and Runs) and with more
threads; "far" jumps a thread to a sequence past 2**63, and timestamp choice 3 is more than
a day after the check."""


def _far_messages(plan: list[Step]) -> list[Any]:
    """``_messages`` of ``far_steps``: a thread's first "far" step jumps by 2**63 - 2, a
    later one is the next sequence."""
    gone_far: set[str] = set()
    shifted: list[Step] = []
    for kind, thread, step, stamp in plan:
        if kind == "far":
            shifted.append(("event", thread, 1 if thread in gone_far else 2**63 - 2, stamp))
            gone_far.add(thread)
        else:
            shifted.append((kind, thread, step, stamp))
    messages = _messages(shifted)
    for message, (_, _, _, stamp) in zip(messages, shifted, strict=True):
        if stamp == 3 and message.WhichOneof("message") == "event":
            message.event.header.timestamp_us = BASE_US + 10**12
    return messages


def _scans(messages: list[Any]) -> list[Any]:
    """What ``check_records`` hands the tracker for each message (None: observe it)."""
    return [scan_record(b"\x00" + message.SerializeToString(), 1 << 20, False)
            for message in messages]


def _feed(tracker: SequenceTracker, messages: list[Any], scans: list[Any], first: int,
          cuts: list[int]) -> None:
    """``messages`` (records ``first``...) as ``check_records`` feeds them: in blocks cut
    at ``cuts``, the scanned ones in one ``observe_block`` per run between the others."""
    bounds = sorted({0, len(messages), *(cut % (len(messages) + 1) for cut in cuts)})
    for start, stop in pairwise(bounds):
        at = start
        while at < stop:
            if scans[at] is None:
                tracker.observe(messages[at], first + at, (first + at) * 100)
                at += 1
                continue
            end = at
            while end < stop and scans[end] is not None:
                end += 1
            tracker.observe_block(scans[at:end], [(first + n, (first + n) * 100, None)
                                                  for n in range(at, end)])
            at = end


def _inner_state(tracker: SequenceTracker) -> Any:
    """Everything a tracker holds, its dedup memory included."""
    return (
        _state(tracker),
        {name: (thread.expected, thread.last_ordered_us,
                [(g.first, g.last, g.record, g.offset, g.before) for g in thread.open_gaps],
                dict(thread.seen), dict(thread.previous))
         for name, thread in tracker.threads.items()},
        tracker._remembered, tracker._entries, tracker._late_below, tracker._peak_gaps,
        list(tracker._id_hashes))


def _windows(messages: list[Any], scans: list[Any], window: int, cuts: list[int],
             parallel: bool) -> tuple[Any, Any]:
    """One tracker over windows of ``window`` records (``parallel``: a fresh tracker per
    window, merged with ``absorb`` or observed again when it declines): its whole state
    before ``finish``, and its findings and summaries after."""
    tracker = SequenceTracker("log", now_us=BASE_US, merging=parallel)
    for first in range(0, len(messages), window):
        part, part_scans = messages[first:first + window], scans[first:first + window]
        if parallel:
            chunk = tracker.spawn()
            _feed(chunk, part, part_scans, first, cuts)
            chunk.end_window(keep_ids=True)
            if tracker.absorb(chunk):
                continue
        if first:
            tracker.new_window()
        _feed(tracker, part, part_scans, first, cuts)
        if parallel:
            tracker.end_window(keep_ids=True)
    before = _inner_state(tracker)
    tracker.finish()
    return before, _state(tracker)


@settings(max_examples=400, deadline=None)
@given(far_steps, st.lists(st.integers(0, 60), max_size=6), st.sampled_from([3, 7, 1000]),
       st.sampled_from([2, 5, sequences.DEDUP_WINDOW]), st.sampled_from([2, 1000]),
       st.booleans())
def test_take_common_in_c_and_python_and_the_general_path_agree(
        plan: list[Step], cuts: list[int], window: int, remembered: int, max_gaps: int,
        parallel: bool) -> None:
    """Gaps, duplicates, retries, reordering, sequences reset and past 2**63, timestamps
    zero, negative, backwards and in the future, several threads, in blocks cut anywhere,
    over dedup windows (``new_window``) checked in one tracker or merged (``absorb``): the
    C ``take_common``, its Python twin and no common case at all leave every tracker in the
    same state (dedup memory included), with the same findings."""
    messages = _far_messages(plan)
    scans = _scans(messages)
    results = {}
    with (patch.object(sequences, "MAX_OPEN_GAPS", max_gaps),
          patch.object(sequences, "DEDUP_WINDOW", remembered)):
        for name, take in TAKERS.items():
            with patch.object(sequences, "take_common", take):
                results[name] = _windows(messages, scans, window, cuts, parallel)
    assert results["python"] == results["nothing"]
    if "c" in results:
        assert results["c"] == results["python"]


def test_take_common_stops_at_what_it_cannot_take() -> None:
    """A thread's first message and an id already seen end the common case there; the
    scans before it are taken."""
    msgs = Messages()
    scans = _scans([msgs.event("a", 1), msgs.event("a", 2), msgs.event("a", 3)])
    for take in TAKERS.values():
        tracker = SequenceTracker("log", now_us=BASE_US)
        assert take(tracker.threads, scans, 0, tracker.future_us, 0, 10, None, None) == (0, 0)
        tracker.observe_block(scans[:1], [(0, 0, None)])
        if take is not TAKERS["nothing"]:
            assert take(tracker.threads, scans, 1, tracker.future_us, 1, 10, None, None) == (3, 3)
            tracker.threads["a"].seen.pop(scans[2][4])
            tracker.threads["a"].expected = 3
            assert take(tracker.threads, scans, 1, tracker.future_us, 0, 10, None, None) == (1, 0)


def test_take_common_in_c_leaves_what_it_cannot_read_to_the_general_path() -> None:
    """A summary of another type, a counter that is not an int or lies past int64, a
    message_id that is not bytes: the C walk stops there and changes nothing."""
    if "c" not in TAKERS:
        pytest.skip("the C helpers are not in use")
    msgs = Messages()
    scans = _scans([msgs.event("a", 1), msgs.event("a", 2)])
    tracker = SequenceTracker("log", now_us=BASE_US)
    tracker.observe_block(scans[:1], [(0, 0, None)])
    thread = tracker.threads["a"]
    take = TAKERS["c"]

    class Other(ThreadSummary):
        __slots__ = ()

    edits: list[tuple[str, Any]] = [("messages", 2**63), ("sequenced", "1"),
                                    ("last_ordered_us", -(2**64)), ("expected", 2.0)]
    for name, value in edits:
        kept = getattr(thread, name)
        setattr(thread, name, value)
        assert take(tracker.threads, scans, 1, tracker.future_us, 1, 10, None, None) == (1, 1)
        setattr(thread, name, kept)
    other = tracker.threads["a"] = Other("a", expected=2, first_timestamp_us=1)
    assert take(tracker.threads, scans, 1, tracker.future_us, 1, 10, None, None) == (1, 1)
    tracker.threads["a"] = thread
    odd = (*scans[1][:4], bytearray(scans[1][4]), scans[1][5])
    assert take(tracker.threads, [odd], 0, tracker.future_us, 1, 10, None, None) == (0, 1)
    assert take(tracker.threads, scans, 1, tracker.future_us, 1, 10, None, None) == (2, 2)
    assert other.messages == 0 and len(thread.seen) == 2
