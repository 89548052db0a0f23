"""Per-thread sequence and timestamp checks over decoded messages (spec sections 5 and 9).

Model (spec 5.3): key by thread_id; skip sequence 0 (batch headers, execution traces);
deduplicate by message_id first (exact duplicates counted on their own); then classify
each sequence against the next one expected, remembering the *missing* ranges instead of
every seen value, so a late arrival closes its gap (reported as a reorder) and memory
stays proportional to the gaps, not the log.  NodeContext telemetry (node progress
events, token chunks, tool executions, metrics, errors) has independent counters that
restart per node execution: it is kept in a bucket of its own and only counted.

This runs on every message of logs with millions of records, so the common case (next
sequence, sane timestamp, new message_id) is a few comparisons (``take_common``, in C when
the extension is built); everything else goes to a slow path that builds findings.
"""

from __future__ import annotations

import struct
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from dashfix import native
from dashfix.findings import Finding, Rule
from dashfix.native import key_hashes, shares_any
from dashfix.rules import stream as rules
from dashfix.timefmt import format_utc_us

ERROR_EVENT_TYPES = frozenset((3, 12, 32, 42))
"""GRAPH_ERROR, NODE_ERROR, LLM_ERROR, TOOL_ERROR."""
NODE_EVENT_TYPES = frozenset((80, 81, 82, 83))
"""NODE_PROGRESS, NODE_THINKING, NODE_SUBSTEP, NODE_WARNING: emitted through NodeContext."""
ONEOF_NUMBERS = {
    "event": 1, "state_diff": 2, "token_chunk": 3, "tool_execution": 4, "checkpoint": 5,
    "metrics": 6, "error": 7, "event_batch": 8, "execution_trace": 9,
}
"""DashStreamMessage's oneof members by field number (spec section 1.6)."""
NODE_PAYLOADS = frozenset(("token_chunk", "tool_execution", "metrics", "error"))
NODE_PAYLOAD_NUMBERS = frozenset(ONEOF_NUMBERS[name] for name in NODE_PAYLOADS)
EVENT = ONEOF_NUMBERS["event"]
EVENT_BATCH = ONEOF_NUMBERS["event_batch"]
_UNUSUAL_EVENT_TYPES = ERROR_EVENT_TYPES | NODE_EVENT_TYPES
FUTURE_SLACK_US = 24 * 3600 * 1_000_000
DEDUP_WINDOW = 200_000
"""message_ids remembered for deduplication in one window; when more are held, every
thread forgets them (and those of the previous window) and starts afresh.  Retry
duplicates arrive close together, so this bounds memory without missing them in
practice."""
WINDOW_RECORDS = 1 << 16
"""Logs are also checked in windows of this many records (``new_window``): a message is
deduplicated against the message_ids of its own window and of the previous one, so each
window can be checked on its own (by another process) and its tracker merged into the
previous ones with ``absorb``."""
MAX_OPEN_GAPS = 1000
"""Open gap ranges kept per thread; older ones are reported as final."""


COMPRESSION_ZSTD = 1
MESSAGE_ID_BYTES = 16

Item: TypeAlias = tuple[int, int, bytes, int, Any]
"""One message the tracker takes: ``(sequence, timestamp_us, message_id, event_type,
event)``; event_type is 0 for a payload that is not an Event, and ``event`` is the decoded
Event where its error text must be checked (error event types), else may be None."""
Scanned: TypeAlias = tuple[int, str, int, tuple[Item, ...]]
"""A message as ``scan.scan_message`` reads it: oneof number, thread_id, the payload
header's timestamp_us, and the items."""
Run: TypeAlias = tuple[int, str, int, int, int, int, int, tuple[bytes, ...], tuple[bytes, ...]]
"""An EventBatch whose events continue one another (``scan.compact``), told by what the
tracker's fast path needs: oneof number, thread_id, the batch header's timestamp_us, the
first and last sequence, the first and last timestamp_us, and each event's message_id and
dedup fingerprint."""
Single: TypeAlias = tuple[int, str, int, int, bytes, bytes]
"""A payload that is one sequenced message (``scan.compact``): oneof number, thread_id,
sequence, timestamp_us, message_id and its dedup fingerprint."""
dedup_fingerprint = struct.Struct("<Qq").pack
"""What dedup keeps of a message besides its id: ``dedup_fingerprint(sequence,
timestamp_us)``.  A retry re-sends the same encoded bytes, so the same id, sequence and
timestamp."""
_unfingerprint = struct.Struct("<Qq").unpack


def _item(header: Any, event: Any) -> Item:
    return (header.sequence, header.timestamp_us, header.message_id,
            0 if event is None else event.event_type, event)


@dataclass(frozen=True, slots=True)
class _Entry:
    """A thread's first sequenced message in a tracker, where ``absorb`` may have to
    report what a tracker that saw the earlier messages would have reported."""

    sequence: int
    stamp: int
    record: int
    offset: int
    path: str
    position: int
    """``len(findings)`` once the message was observed: where a finding it owes goes."""
    order: int


@dataclass
class _Gap:
    first: int
    last: int
    record: int
    offset: int
    before: int
    """The sequence whose arrival revealed the gap."""
    path: str


@dataclass(slots=True)
class ThreadSummary:
    """What one thread looked like (the per-thread table), plus its tracking state."""

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
    expected: int = 0
    """Next sequence expected; 0 before the first sequenced message."""
    last_ordered_us: int = 0
    """Timestamp of the last in-order sequenced message (for the backwards check)."""
    open_gaps: list[_Gap] = field(default_factory=list)
    seen: dict[bytes, bytes] = field(default_factory=dict)
    """message_id -> ``dedup_fingerprint`` of the messages kept for dedup: those of the
    current window."""
    previous: dict[bytes, bytes] = field(default_factory=dict)
    """``seen`` of the previous window."""

    def goes_on(self, count: int, last: int, last_us: int) -> None:
        """``count`` new sequenced messages, each the next of the thread and on time, the
        last one sequence ``last`` at ``last_us``."""
        self.messages += count
        self.sequenced += count
        self.last_timestamp_us = last_us
        self.expected = last + 1
        self.last_sequence = last
        self.last_ordered_us = last_us

    def to_dict(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id, "messages": self.messages, "sequenced": self.sequenced,
            "first_sequence": self.first_sequence, "last_sequence": self.last_sequence,
            "missing": self.missing, "gaps": self.gaps, "duplicates": self.duplicates,
            "exact_duplicates": self.exact_duplicates, "reorders": self.reorders,
            "node_messages": self.node_messages, "first_timestamp_us": self.first_timestamp_us,
            "last_timestamp_us": self.last_timestamp_us,
        }


def take_common_python(threads: dict[str, ThreadSummary],
                       scans: Sequence[Scanned | Single | Run], start: int, future_us: int,
                       remembered: int, dedup_window: int, seen_filter: bytearray | None,
                       previous_filter: bytearray | None) -> tuple[int, int]:
    """The tracker's common cases, from ``scans[start]`` on, while there are any: a
    ``Single`` that is new, the next of its thread and on time; a ``Run`` that continues
    its thread as a healthy thread goes on, taken whole (two set operations on the dedup
    dictionaries instead of ten steps).  Returns where it stopped (the first scan that is
    not one of them, for ``_observe_scan``) and ``remembered`` (the ids the window holds)
    plus the ids taken.  A thread's first message, an id already seen (which setdefault
    leaves as it was) or a full dedup window are not the common case.  The id filters are
    the C side's (``SequenceTracker._seen_filter``): here every id is looked up."""
    at = start
    end = len(scans)
    # mypy narrows a union of tuples by len() only on simple names: hence the ignores.
    while at < end:
        scanned = scans[at]
        shape = len(scanned)
        if shape == 6:
            (_, thread_id, sequence, stamp, message_id,
             fingerprint) = scanned  # type: ignore[misc]
            thread = threads.get(thread_id)
            if not (thread is not None and sequence == thread.expected and stamp <= future_us
                    and thread.last_ordered_us <= stamp
                    and thread.first_timestamp_us is not None
                    and remembered < dedup_window
                    and message_id not in thread.previous
                    and thread.seen.setdefault(message_id, fingerprint) is fingerprint):
                break
            thread.goes_on(1, sequence, stamp)
            remembered += 1
        elif shape == 9:
            (_, thread_id, timestamp_us, first, last, first_us, last_us, ids,
             fingerprints) = scanned  # type: ignore[misc]
            thread = threads.get(thread_id)
            count = len(ids)
            if not (thread is not None and first == thread.expected and last_us <= future_us
                    and thread.last_ordered_us <= first_us
                    and thread.first_timestamp_us is not None
                    and timestamp_us <= future_us  # the batch header's
                    and remembered + count <= dedup_window
                    and thread.previous.keys().isdisjoint(ids)
                    and thread.seen.keys().isdisjoint(ids)):
                break
            thread.seen.update(zip(ids, fingerprints, strict=True))
            thread.messages += 1  # the batch, then its events
            thread.goes_on(count, last, last_us)
            remembered += count
        else:
            break
        at += 1
    return at, remembered


TakeCommon: TypeAlias = Callable[[dict[str, ThreadSummary], Sequence[Scanned | Single | Run],
                                  int, int, int, int, bytearray | None, bytearray | None],
                                 tuple[int, int]]


def _native_take_common() -> TakeCommon | None:
    """``take_common_python`` in C (``dashfix/_native.c``), told where ThreadSummary keeps
    its fields; None without the extension, or when a field is not a slot it can use."""
    if native.MODULE is None:
        return None
    try:
        native.MODULE.track_configure(ThreadSummary)
    except ValueError:
        return None
    take: TakeCommon = native.MODULE.take_common
    return take


_native_take = _native_take_common()
take_common: TakeCommon = _native_take or take_common_python
_FILTERS: Any = None if _native_take is None else native.MODULE


def _id_filter() -> bytearray | None:
    """A window's empty id filter for ``take_common`` in C, which sets two bits per id it
    puts in a ``seen`` dict and, for the next window, tests them before it looks an id up in
    ``previous`` (most are not there, and each lookup is a cache miss or two); None without
    the extension.  A tracker keeps the filter of its window's ``seen`` dicts and of its
    ``previous`` ones (None: unknown, every id is looked up): ``_note`` sets the bits of the
    ids its general path puts in ``seen``, and whatever replaces the dicts replaces the
    filters with them."""
    return None if _FILTERS is None else _FILTERS.new_filter()


class SequenceTracker:
    """Feed decoded messages in log order with ``observe``; call ``finish`` at the end."""

    def __init__(self, path: str, *, now_us: int | None = None, merging: bool = False) -> None:
        self.path = path
        self.merging = merging
        """Whether ``absorb`` compares this tracker's windows: then it keeps the ``hash`` of
        the message_ids it forgets over ``DEDUP_WINDOW`` until the window ends."""
        self.future_us = (now_us if now_us is not None else int(time.time() * 1e6)) + (
            FUTURE_SLACK_US
        )
        self.threads: dict[str, ThreadSummary] = {}
        self._remembered = 0
        self.findings: list[Finding] = []
        self._record = 0
        self._offset = 0
        self._path = path
        # What ``absorb`` needs to know about the messages that depend on earlier ones.
        self._entries: dict[str, _Entry] = {}
        self._late_below: dict[str, int] = {}
        """Per thread: the lowest sequence that arrived below the next one expected."""
        self._peak_gaps: dict[str, int] = {}
        self._id_hashes = array("q")
        """``hash`` of the message_ids this window forgot over ``DEDUP_WINDOW`` (when
        ``merging``) and, once it ends (``end_window``), of all the others: what ``absorb``
        compares."""
        self._seen_filter = _id_filter()
        self._previous_filter: bytearray | None = None

    def spawn(self) -> SequenceTracker:
        """A fresh tracker for the same log and clock, for a window checked elsewhere."""
        return SequenceTracker(self.path, now_us=self.future_us - FUTURE_SLACK_US,
                               merging=True)

    def _add(self, rule: Rule, message: str, thread_id: str | None, key: str, **kw: Any) -> None:
        self.findings.append(
            rule.at(self._path, f"record {self._record} (byte {self._offset}): {message}",
                    record=self._record, offset=self._offset, thread_id=thread_id, key=key, **kw)
        )

    @staticmethod
    def _backwards(thread_id: str, sequence: int, stamp: int, last: int, record: int,
                   offset: int, path: str) -> Finding:
        return rules.TIMESTAMP_BACKWARDS.at(
            path, f"record {record} (byte {offset}): sequence {sequence} is {last - stamp} us "
            "older than the message before it", record=record, offset=offset,
            thread_id=thread_id, key=f"back:{thread_id}:{sequence}", expected=f">= {last}",
            actual=stamp,
        )

    def observe(self, message: Any, record: int, offset: int, path: str | None = None) -> None:
        """One decoded DashStreamMessage, located at ``record`` / byte ``offset`` (of the
        member file ``path`` when the log is a folder of frames), whatever is wrong with
        it (``observe_block`` takes the healthy ones, as ``scan`` reads them)."""
        which = message.WhichOneof("message")
        if which is None:
            return
        payload = getattr(message, which)
        header = payload.header
        if not header.thread_id:
            return  # nothing to key it by: validate_frame reported it
        number = ONEOF_NUMBERS[which]
        if number == EVENT_BATCH:
            items = tuple(_item(event.header, event) for event in payload.events)
        else:
            items = (_item(header, payload if number == EVENT else None),)
        self.observe_block([(number, header.thread_id, header.timestamp_us, items)],
                           [(record, offset, None)], path)
        if which == "error" and not payload.message:
            self._at(record, offset, path)
            self._add(rules.ERROR_WITHOUT_TEXT,
                      f"Error message (code {payload.error_code!r}) has an empty message",
                      header.thread_id, f"error:{header.message_id.hex()}")

    def observe_block(self, scans: Sequence[Scanned | Single | Run],
                      records: Sequence[tuple[int, int, Any]], path: str | None = None) -> None:
        """Messages in log order, as ``scan.scan_message`` reads them, each with a thread_id;
        ``records[i]`` starts with the record number and byte offset of ``scans[i]``.

        The common cases go to ``take_common`` (in C when the extension is built), the
        others one by one to ``_observe_scan``.
        """
        end = len(scans)
        at = 0
        while True:
            at, self._remembered = take_common(self.threads, scans, at, self.future_us,
                                               self._remembered, DEDUP_WINDOW,
                                               self._seen_filter, self._previous_filter)
            if at >= end:
                return
            record, offset, _ = records[at]
            self._observe_scan(scans[at], record, offset, path)
            at += 1

    def _observe_scan(self, scanned: Scanned | Single | Run, record: int, offset: int,
                      path: str | None) -> None:
        """One scan ``take_common`` did not take: each of its items that is new, the next
        of its thread, on time and no error or node event inline, the others through
        ``_message``."""
        future = self.future_us
        # mypy narrows a union of tuples by len() only on simple names, not here: the
        # ignores below are for that.
        shape = len(scanned)
        items: Iterable[Item]
        if shape == 6:
            number, thread_id, sequence, stamp, message_id, _ = scanned  # type: ignore[misc]
            timestamp_us = stamp
            items = ((sequence, stamp, message_id, 0, None),)
        elif shape == 9:
            (number, thread_id, timestamp_us, _, _, _, _, ids,
             fingerprints) = scanned  # type: ignore[misc]
            items = [(*_unfingerprint(packed), message_id, 0, None)
                     for message_id, packed in zip(ids, fingerprints, strict=True)]
        else:
            number, thread_id, timestamp_us, items = scanned  # type: ignore[misc]
        thread = self.threads.get(thread_id)
        if thread is None:
            thread = self.threads[thread_id] = ThreadSummary(thread_id)
        if number == EVENT_BATCH:
            thread.messages += 1
            if 0 < timestamp_us <= future and thread.first_timestamp_us is not None:
                thread.last_timestamp_us = timestamp_us
            else:
                self._at(record, offset, path)
                self._timestamp(timestamp_us, thread)
            node = False
        else:
            node = number in NODE_PAYLOAD_NUMBERS
        seen = thread.seen
        previous = thread.previous
        for sequence, stamp, message_id, event_type, event in items:
            if (sequence and sequence == thread.expected and 0 < stamp <= future
                    and thread.last_ordered_us <= stamp and not node
                    and thread.first_timestamp_us is not None
                    and event_type not in _UNUSUAL_EVENT_TYPES
                    and message_id not in previous):
                fingerprint = dedup_fingerprint(sequence, stamp)
                if seen.setdefault(message_id, fingerprint) is fingerprint:
                    self._note(message_id)
                    thread.goes_on(1, sequence, stamp)
                    self._remembered += 1
                    if self._remembered > DEDUP_WINDOW:
                        self._forget()
                    continue
            self._at(record, offset, path)
            self._message(thread, sequence, stamp, message_id, event_type, event, node)

    def _at(self, record: int, offset: int, path: str | None) -> None:
        """Where the findings of the message being observed point."""
        self._record = record
        self._offset = offset
        self._path = path or self.path

    def _message(self, thread: ThreadSummary, sequence: int, stamp: int, message_id: bytes,
                 event_type: int, event: Any, node: bool) -> None:
        if sequence:
            # Spec order: sequence 0 (batch headers, traces) is skipped before dedup.
            fingerprint = dedup_fingerprint(sequence, stamp)
            current = thread.seen.setdefault(message_id, fingerprint)
            if current is fingerprint:
                self._note(message_id)
                # New to this window: remembered whatever the previous window held, so
                # what a window remembers never depends on the one before (``absorb``).
                earlier = thread.previous.get(message_id)
                retry = earlier is not None and self._duplicate(thread, message_id, earlier,
                                                                fingerprint)
                self._remember()
                if retry:
                    return
            elif self._duplicate(thread, message_id, current, fingerprint):
                return
            else:
                self._remember()
        thread.messages += 1
        if not 0 < stamp <= self.future_us or thread.first_timestamp_us is None:
            self._timestamp(stamp, thread)
        else:
            thread.last_timestamp_us = stamp
        if event_type in ERROR_EVENT_TYPES:
            self._check_error_event(event, thread.thread_id, message_id)
        node = node or event_type in NODE_EVENT_TYPES
        if not sequence:
            return
        if node:
            thread.node_messages += 1
            return
        thread.sequenced += 1
        if sequence == thread.expected and thread.last_ordered_us <= stamp:
            thread.expected = sequence + 1
            thread.last_sequence = sequence
            thread.last_ordered_us = stamp
            return
        self._classify(thread, sequence, stamp)

    def _note(self, message_id: bytes) -> None:
        """``message_id`` was put in a ``seen`` dict: its bits go in the window's filter."""
        if self._seen_filter is not None:
            _FILTERS.filter_add(self._seen_filter, message_id)

    def _remember(self) -> None:
        self._remembered += 1
        if self._remembered > DEDUP_WINDOW:
            self._forget()

    def _forget(self) -> None:
        if self.merging:
            self._hash_ids()
        self._drop_ids()
        self._remembered = 0

    def _hash_ids(self) -> None:
        self._id_hashes.extend(key_hashes([thread.seen for thread in self.threads.values()]))

    def _drop_ids(self) -> None:
        # In place: observe_block holds the dicts of the thread it is on.
        for thread in self.threads.values():
            thread.seen.clear()
            thread.previous.clear()
        # Until the next window, ids go in ``seen`` unnoted: no filter then.
        self._seen_filter = self._previous_filter = None

    def new_window(self) -> None:
        """Start a window of records (``WINDOW_RECORDS``): the message_ids of the previous
        window are forgotten, those of the window that ends are kept as the previous
        window's."""
        for thread in self.threads.values():
            thread.previous = thread.seen
            thread.seen = {}
        self._previous_filter = self._seen_filter
        self._seen_filter = _id_filter()
        self._remembered = 0
        self._id_hashes = array("q")

    def end_window(self, *, keep_ids: bool = False) -> None:
        """This tracker's window ends, and the next one is ``absorb``-ed (or checked) by
        another tracker: note what ``absorb`` compares, and unless ``keep_ids``, drop the
        message_ids (the other tracker starts without them)."""
        self._hash_ids()
        if not keep_ids:
            self._drop_ids()

    def shares_ids(self, chunk: SequenceTracker) -> bool:
        """Whether a message_id of ``chunk``'s window (the one right after this tracker's
        last) may be one of this tracker's last window (the same ``hash``), that is, one
        the previous window's message_ids may have to deduplicate.  (A forked worker's
        ``hash`` of bytes agrees with this process's: it shares the hash seed.)"""
        return shares_any(self._id_hashes, chunk._id_hashes)

    def adopt_ids(self, checked: SequenceTracker) -> None:
        """Remember the message_ids of ``checked``, a tracker that observed the window
        this tracker ``absorb``-ed last (they were dropped with ``end_window``)."""
        for thread_id, thread in self.threads.items():
            earlier = checked.threads.get(thread_id)
            thread.seen = {} if earlier is None else earlier.seen
        self._seen_filter = checked._seen_filter

    def absorb(self, chunk: SequenceTracker) -> bool:
        """Go on as if this tracker had observed itself what ``chunk`` observed: ``chunk``
        started fresh on the window of records right after the messages seen here.

        A window's messages depend on earlier ones only through each thread's first
        sequenced message (the gap or backwards timestamp it reveals) and late arrivals
        below it; both are settled here.  Returns False, having changed nothing, in the
        rare cases that cannot be settled from the chunk's state (a thread's first sequence
        at or below one already seen, a late arrival below it, a timestamp that is not
        positive after positive ones, too many open gaps, a message_id the previous window
        may hold: ``shares_ids``): the caller then observes the window's records with this
        tracker instead.  ``chunk`` has called ``end_window``.
        """
        if self.shares_ids(chunk):
            return False
        owed: list[tuple[int, int, Finding]] = []
        opened: dict[str, _Gap] = {}
        for thread_id, entry in chunk._entries.items():
            known = self.threads.get(thread_id)
            if known is None or not known.expected:
                continue  # the chunk's first sequenced message was this thread's first
            if (entry.sequence < known.expected
                    or chunk._late_below.get(thread_id, entry.sequence) < entry.sequence
                    or (entry.stamp <= 0 < known.last_ordered_us)):
                return False
            gap = entry.sequence > known.expected
            carried = len(known.open_gaps) + gap
            if carried and carried + chunk._peak_gaps.get(thread_id, 0) > MAX_OPEN_GAPS:
                return False
            if gap:
                opened[thread_id] = _Gap(known.expected, entry.sequence - 1, entry.record,
                                         entry.offset, entry.sequence, entry.path)
            if 0 < entry.stamp < known.last_ordered_us:
                owed.append((entry.position, entry.order, self._backwards(
                    thread_id, entry.sequence, entry.stamp, known.last_ordered_us,
                    entry.record, entry.offset, entry.path)))
        self._drop_ids()
        for thread_id, later in chunk.threads.items():
            known = self.threads.get(thread_id)
            if known is None:
                self.threads[thread_id] = later
                continue
            _continue_thread(known, later, opened.get(thread_id))
        self._remembered = chunk._remembered
        self._id_hashes = chunk._id_hashes
        self._seen_filter = chunk._seen_filter
        self._previous_filter = chunk._previous_filter
        done = 0
        for position, _, finding in sorted(owed, key=lambda item: item[:2]):
            self.findings.extend(chunk.findings[done:position])
            self.findings.append(finding)
            done = position
        self.findings.extend(chunk.findings[done:])
        return True

    def _duplicate(self, thread: ThreadSummary, raw_id: bytes, previous: bytes,
                   fingerprint: bytes) -> bool:
        """True for an exact duplicate (skip it); a reused id is reported and kept (its
        newest message is the one remembered)."""
        message_id = raw_id.hex()
        if previous == fingerprint:
            thread.exact_duplicates += 1
            self._add(rules.EXACT_DUPLICATE,
                      f"exact duplicate of message {message_id} (retry or redelivery)",
                      thread.thread_id, f"dup:{message_id}")
            return True
        self._add(rules.MESSAGE_ID_REUSED,
                  f"message_id {message_id} already used by a different message",
                  thread.thread_id, f"reuse:{message_id}")
        thread.seen[raw_id] = fingerprint
        return False

    def _check_error_event(self, event: Any, thread_id: str, message_id: bytes) -> None:
        attribute = event.attributes.get("error")
        if attribute is None or not attribute.string_value:
            self._add(rules.ERROR_WITHOUT_TEXT,
                      f"error event (type {event.event_type}, node {event.node_id!r}) has no "
                      "'error' attribute text", thread_id, f"error:{message_id.hex()}")

    def _timestamp(self, stamp: int, thread: ThreadSummary) -> None:
        if 0 < stamp <= self.future_us:
            if thread.first_timestamp_us is None:
                thread.first_timestamp_us = stamp
            thread.last_timestamp_us = stamp
            return
        key = f"ts:{self._record}"
        thread_id = thread.thread_id
        if stamp == 0:
            self._add(rules.TIMESTAMP_ZERO, "timestamp_us is 0", thread_id, key, actual=0)
        elif stamp < 0:
            self._add(rules.TIMESTAMP_NEGATIVE, f"timestamp_us is {stamp}", thread_id, key,
                      actual=stamp)
        else:
            self._add(rules.TIMESTAMP_FUTURE,
                      f"timestamp_us {stamp} ({format_utc_us(stamp)}) is more than a day after "
                      "the check",
                      thread_id, key, expected=f"<= {self.future_us}", actual=stamp)

    def _classify(self, thread: ThreadSummary, sequence: int, stamp: int) -> None:
        """Everything but "the next sequence, on time": baseline, gap, late, duplicate."""
        thread_id = thread.thread_id
        expected = thread.expected
        if expected == 0 or sequence >= expected:
            if expected and sequence > expected:
                self._open_gap(thread, expected, sequence)
            thread.expected = sequence + 1
            if thread.first_sequence is None:
                thread.first_sequence = sequence
            thread.last_sequence = sequence
            last = thread.last_ordered_us
            if 0 < stamp < last:
                self.findings.append(self._backwards(thread_id, sequence, stamp, last,
                                                     self._record, self._offset, self._path))
            if stamp > 0:
                thread.last_ordered_us = stamp
            if not expected:
                self._entries[thread_id] = _Entry(sequence, stamp, self._record, self._offset,
                                                  self._path, len(self.findings),
                                                  len(self._entries))
            return
        if sequence < self._late_below.get(thread_id, sequence + 1):
            self._late_below[thread_id] = sequence
        if self._close_gap(thread, sequence):
            thread.reorders += 1
            self._add(rules.SEQUENCE_REORDER,
                      f"sequence {sequence} arrived after {expected - 1} (late; fills a gap)",
                      thread_id, f"reorder:{thread_id}:{sequence}",
                      expected=expected, actual=sequence)
        else:
            thread.duplicates += 1
            self._add(rules.SEQUENCE_DUPLICATE,
                      f"sequence {sequence} seen again with a different message_id",
                      thread_id, f"dupseq:{thread_id}:{sequence}",
                      expected=expected, actual=sequence)

    def _open_gap(self, thread: ThreadSummary, expected: int, sequence: int) -> None:
        thread.open_gaps.append(_Gap(expected, sequence - 1, self._record, self._offset,
                                     sequence, self._path))
        thread_id = thread.thread_id
        self._peak_gaps[thread_id] = max(self._peak_gaps.get(thread_id, 0),
                                         len(thread.open_gaps))
        if len(thread.open_gaps) > MAX_OPEN_GAPS:
            self._report_gap(thread.open_gaps.pop(0), thread)

    @staticmethod
    def _close_gap(thread: ThreadSummary, sequence: int) -> bool:
        gaps = thread.open_gaps
        for position, gap in enumerate(gaps):
            if gap.first <= sequence <= gap.last:
                gaps[position:position + 1] = [
                    _Gap(start, end, gap.record, gap.offset, gap.before, gap.path)
                    for start, end in ((gap.first, sequence - 1), (sequence + 1, gap.last))
                    if start <= end
                ]
                return True
        return False

    def _report_gap(self, gap: _Gap, thread: ThreadSummary) -> None:
        count = gap.last - gap.first + 1
        thread.gaps += 1
        thread.missing += count
        span = str(gap.first) if count == 1 else f"{gap.first}..{gap.last}"
        thread_id = thread.thread_id
        self.findings.append(
            rules.SEQUENCE_GAP.at(
                gap.path,
                f"record {gap.record} (byte {gap.offset}): thread {thread_id!r} is missing "
                f"sequence {span} ({count} message(s)) before {gap.before}",
                record=gap.record, offset=gap.offset, thread_id=thread_id,
                expected=gap.first, actual=gap.before, key=f"gap:{thread_id}:{gap.first}",
                details={"missing_first": gap.first, "missing_last": gap.last,
                         "missing_count": count},
            )
        )

    def finish(self) -> list[Finding]:
        """Report the gaps no late arrival closed and forget the message_ids (nothing more
        is observed: the summaries stay, their dedup memory goes); return every finding of
        the log."""
        for thread in self.threads.values():
            for gap in thread.open_gaps:
                self._report_gap(gap, thread)
            thread.open_gaps.clear()
        self._drop_ids()
        return self.findings

    def summaries(self) -> list[ThreadSummary]:
        return [self.threads[name] for name in sorted(self.threads)]


def _continue_thread(known: ThreadSummary, later: ThreadSummary, opened: _Gap | None) -> None:
    """``known`` then ``later`` (the same thread in the next window, tracked from a fresh
    start) as one thread; ``opened`` is the gap between them (see ``absorb``)."""
    known.messages += later.messages
    known.sequenced += later.sequenced
    known.missing += later.missing
    known.gaps += later.gaps
    known.duplicates += later.duplicates
    known.exact_duplicates += later.exact_duplicates
    known.reorders += later.reorders
    known.node_messages += later.node_messages
    if known.first_timestamp_us is None:
        known.first_timestamp_us = later.first_timestamp_us
    if later.last_timestamp_us is not None:
        known.last_timestamp_us = later.last_timestamp_us
    if later.expected:
        if known.first_sequence is None:
            known.first_sequence = later.first_sequence
        known.last_sequence = later.last_sequence
        known.expected = later.expected
        known.last_ordered_us = later.last_ordered_us
        if opened is not None:
            known.open_gaps.append(opened)
        known.open_gaps.extend(later.open_gaps)
    known.seen = later.seen
    known.previous = later.previous
