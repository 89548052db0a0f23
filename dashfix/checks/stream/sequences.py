"""Per-thread sequence and timestamp checks over decoded messages (spec sections 5 and 9).

Model (spec 5.3): key by thread_id; skip sequence 0 (batch headers, execution traces);
deduplicate by message_id first (exact duplicates counted on their own); then classify
each sequence against the next one expected, remembering the *missing* ranges instead of
every seen value, so a late arrival closes its gap (reported as a reorder) and memory
stays proportional to the gaps, not the log.  NodeContext telemetry (node progress
events, token chunks, tool executions, metrics, errors) has independent counters that
restart per node execution: it is kept in a bucket of its own and only counted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dashfix.findings import Finding, Rule
from dashfix.rules import stream as rules

ERROR_EVENT_TYPES = frozenset((3, 12, 32, 42))
"""GRAPH_ERROR, NODE_ERROR, LLM_ERROR, TOOL_ERROR."""
NODE_EVENT_TYPES = frozenset((80, 81, 82, 83))
"""NODE_PROGRESS, NODE_THINKING, NODE_SUBSTEP, NODE_WARNING: emitted through NodeContext."""
NODE_PAYLOADS = frozenset(("token_chunk", "tool_execution", "metrics", "error"))
FUTURE_SLACK_US = 24 * 3600 * 1_000_000
DEDUP_WINDOW = 100_000
"""(thread_id, message_id) pairs remembered for deduplication, oldest dropped first; bounds
memory. Retry duplicates arrive close together, so a window is enough for them."""
MAX_OPEN_GAPS = 1000
"""Open gap ranges kept per thread; older ones are reported as final."""


@dataclass
class _Gap:
    first: int
    last: int
    record: int
    offset: int
    before: int
    """The sequence whose arrival revealed the gap."""


@dataclass
class ThreadSummary:
    """What one thread looked like; printed as the per-thread table."""

    thread_id: str
    messages: int = 0
    sequenced: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    missing: int = 0
    gaps: int = 0
    duplicates: int = 0
    exact_duplicates: int = 0
    reorders: int = 0
    node_messages: int = 0
    first_timestamp_us: int | None = None
    last_timestamp_us: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Bucket:
    expected: int | None = None
    last_timestamp: int | None = None
    gaps: list[_Gap] = field(default_factory=list)


class SequenceTracker:
    """Feed decoded messages in log order with ``observe``; call ``finish`` at the end."""

    def __init__(self, path: str, *, now_us: int | None = None) -> None:
        self.path = path
        self.future_us = (now_us if now_us is not None else int(time.time() * 1e6)) + (
            FUTURE_SLACK_US
        )
        self.threads: dict[str, ThreadSummary] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._seen: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self.findings: list[Finding] = []
        self._record = 0
        self._offset = 0

    def _add(self, rule: Rule, message: str, thread_id: str | None, key: str, **kw: Any) -> None:
        self.findings.append(
            rule.at(self.path, f"record {self._record} (byte {self._offset}): {message}",
                    record=self._record, offset=self._offset, thread_id=thread_id, key=key, **kw)
        )

    def _summary(self, thread_id: str) -> ThreadSummary:
        summary = self.threads.get(thread_id)
        if summary is None:
            summary = self.threads[thread_id] = ThreadSummary(thread_id)
        return summary

    def _first_sight(self, message_id: bytes, fingerprint: int, thread_id: str,
                     summary: ThreadSummary) -> bool:
        """False for an exact duplicate (already counted)."""
        if not message_id:
            return True
        seen = self._seen
        key = (thread_id, message_id)
        previous = seen.get(key)
        if previous is None:
            seen[key] = fingerprint
            if len(seen) > DEDUP_WINDOW:
                seen.popitem(last=False)
            return True
        if previous == fingerprint:
            summary.exact_duplicates += 1
            self._add(rules.EXACT_DUPLICATE,
                      f"exact duplicate of message {message_id.hex()} (retry or redelivery)",
                      thread_id, f"dup:{message_id.hex()}")
            return False
        self._add(rules.MESSAGE_ID_REUSED,
                  f"message_id {message_id.hex()} already used by a different message",
                  thread_id, f"reuse:{message_id.hex()}")
        return True

    def observe(self, message: Any, value: bytes, record: int, offset: int) -> None:
        """One decoded DashStreamMessage; ``value`` is the raw record (for exact dedup)."""
        which = message.WhichOneof("message")
        if which is None:
            return
        payload = getattr(message, which)
        if not payload.HasField("header"):
            return
        header = payload.header
        thread_id = header.thread_id
        if not thread_id:
            return
        self._record = record
        self._offset = offset
        summary = self._summary(thread_id)
        sequence = header.sequence
        # Spec order: sequence 0 (batch headers, traces) is skipped before deduplication.
        if sequence and not self._first_sight(header.message_id, hash(value), thread_id,
                                              summary):
            return
        summary.messages += 1
        self._timestamp(header.timestamp_us, thread_id, summary)
        if which == "event_batch":
            for event in payload.events:
                if event.HasField("header"):
                    self._inner_event(event, thread_id, summary)
            return
        if which == "error" and not payload.message:
            self._add(rules.ERROR_WITHOUT_TEXT,
                      f"Error message (code {payload.error_code!r}) has an empty message",
                      thread_id, f"error:{header.message_id.hex()}")
        elif which == "event":
            self._check_error_event(payload, thread_id, header)
        node = which in NODE_PAYLOADS or (
            which == "event" and payload.event_type in NODE_EVENT_TYPES
        )
        self._sequence(sequence, header.timestamp_us, thread_id, summary, node)

    def _inner_event(self, event: Any, thread_id: str, summary: ThreadSummary) -> None:
        header = event.header
        fingerprint = hash((header.sequence, header.timestamp_us, event.event_type))
        if header.sequence and not self._first_sight(header.message_id, fingerprint, thread_id,
                                                     summary):
            return
        summary.messages += 1
        self._timestamp(header.timestamp_us, thread_id, summary)
        self._check_error_event(event, thread_id, header)
        self._sequence(header.sequence, header.timestamp_us, thread_id, summary,
                       event.event_type in NODE_EVENT_TYPES)

    def _check_error_event(self, event: Any, thread_id: str, header: Any) -> None:
        if event.event_type not in ERROR_EVENT_TYPES:
            return
        attribute = event.attributes.get("error")
        if attribute is None or not attribute.string_value:
            self._add(rules.ERROR_WITHOUT_TEXT,
                      f"error event (type {event.event_type}, node {event.node_id!r}) has no "
                      "'error' attribute text", thread_id, f"error:{header.message_id.hex()}")

    def _timestamp(self, stamp: int, thread_id: str, summary: ThreadSummary) -> None:
        if 0 < stamp <= self.future_us:
            if summary.first_timestamp_us is None:
                summary.first_timestamp_us = stamp
            summary.last_timestamp_us = stamp
            return
        key = f"ts:{self._record}"
        if stamp == 0:
            self._add(rules.TIMESTAMP_ZERO, "timestamp_us is 0", thread_id, key, actual=0)
        elif stamp < 0:
            self._add(rules.TIMESTAMP_NEGATIVE, f"timestamp_us is {stamp}", thread_id, key,
                      actual=stamp)
        else:
            self._add(rules.TIMESTAMP_FUTURE,
                      f"timestamp_us {stamp} is more than a day after the check",
                      thread_id, key, expected=f"<= {self.future_us}", actual=stamp)

    def _sequence(self, sequence: int, stamp: int, thread_id: str, summary: ThreadSummary,
                  node: bool) -> None:
        if sequence == 0:
            return
        if node:
            summary.node_messages += 1
            return
        summary.sequenced += 1
        bucket = self._buckets.get(thread_id)
        if bucket is None:
            bucket = self._buckets[thread_id] = _Bucket()
        expected = bucket.expected
        if expected is None or sequence >= expected:
            if expected is not None and sequence > expected:
                self._open_gap(bucket, expected, sequence, thread_id)
            bucket.expected = sequence + 1
            if summary.first_sequence is None:
                summary.first_sequence = sequence
            summary.last_sequence = sequence
            last = bucket.last_timestamp
            if last is not None and stamp < last and stamp > 0:
                self._add(rules.TIMESTAMP_BACKWARDS,
                          f"sequence {sequence} is {last - stamp} us older than the message "
                          "before it", thread_id, f"back:{thread_id}:{sequence}",
                          expected=f">= {last}", actual=stamp)
            if stamp > 0:
                bucket.last_timestamp = stamp
            return
        if self._close_gap(bucket, sequence):
            summary.reorders += 1
            self._add(rules.SEQUENCE_REORDER,
                      f"sequence {sequence} arrived after {expected - 1} (late; fills a gap)",
                      thread_id, f"reorder:{thread_id}:{sequence}",
                      expected=expected, actual=sequence)
        else:
            summary.duplicates += 1
            self._add(rules.SEQUENCE_DUPLICATE,
                      f"sequence {sequence} seen again with a different message_id",
                      thread_id, f"dupseq:{thread_id}:{sequence}",
                      expected=expected, actual=sequence)

    def _open_gap(self, bucket: _Bucket, expected: int, sequence: int, thread_id: str) -> None:
        bucket.gaps.append(_Gap(expected, sequence - 1, self._record, self._offset, sequence))
        if len(bucket.gaps) > MAX_OPEN_GAPS:
            self._report_gap(bucket.gaps.pop(0), thread_id)

    @staticmethod
    def _close_gap(bucket: _Bucket, sequence: int) -> bool:
        for position, gap in enumerate(bucket.gaps):
            if gap.first <= sequence <= gap.last:
                pieces = [
                    _Gap(start, end, gap.record, gap.offset, gap.before)
                    for start, end in ((gap.first, sequence - 1), (sequence + 1, gap.last))
                    if start <= end
                ]
                bucket.gaps[position:position + 1] = pieces
                return True
        return False

    def _report_gap(self, gap: _Gap, thread_id: str) -> None:
        count = gap.last - gap.first + 1
        summary = self._summary(thread_id)
        summary.gaps += 1
        summary.missing += count
        span = str(gap.first) if count == 1 else f"{gap.first}..{gap.last}"
        self.findings.append(
            rules.SEQUENCE_GAP.at(
                self.path,
                f"record {gap.record} (byte {gap.offset}): thread {thread_id!r} is missing "
                f"sequence {span} ({count} message(s)) before {gap.before}",
                record=gap.record, offset=gap.offset, thread_id=thread_id,
                expected=gap.first, actual=gap.before, key=f"gap:{thread_id}:{gap.first}",
                details={"missing_first": gap.first, "missing_last": gap.last,
                         "missing_count": count},
            )
        )

    def finish(self) -> list[Finding]:
        """Report the gaps no late arrival closed; return every finding of the log."""
        for thread_id, bucket in self._buckets.items():
            for gap in bucket.gaps:
                self._report_gap(gap, thread_id)
            bucket.gaps.clear()
        return self.findings

    def summaries(self) -> list[ThreadSummary]:
        return [self.threads[name] for name in sorted(self.threads)]
