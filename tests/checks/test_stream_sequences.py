"""Per-thread sequence model: gaps closed by late arrivals, duplicates, node bucket."""

from __future__ import annotations

from typing import Any

from dashfix.checks.stream.sequences import SequenceTracker
from dashfix.testing.streams import BASE_US, Messages


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
