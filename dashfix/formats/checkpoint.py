"""The bincode ``Checkpoint<S>`` payload (spec 2.3) without knowing the state type ``S``.

``id`` and ``thread_id`` are read from the front. ``node``, ``timestamp``, ``parent_id`` and
``metadata`` follow the opaque state, so they are recovered by a *tail parse*.

What a candidate is
-------------------
An offset ``p`` after ``thread_id`` is a *candidate* when parsing, from ``p``, a node string,
a timestamp, an ``Option<String>`` parent and a string map ends exactly at the payload end and
passes every plausibility rule:

* node: at most ``NODE_MAX_LEN`` bytes of UTF-8 without NUL;
* timestamp: ``nanos < 1e9`` and ``secs`` inside ``[min_year, max_year)`` (UTC);
* parent: Option tag 0 or 1; at most ``ID_MAX_LEN`` bytes of UTF-8 without NUL (it was a
  file name, which cannot hold NUL); when the checkpoint's own id is of the current scheme,
  it starts with ``thread_id + "_"`` or is itself a current-scheme id. The spec (2.3) asks
  for the prefix only; the other thread's current-scheme id is accepted too, so that a
  parent of another thread (an id collision) is read and reported as such (CK143) instead
  of leaving the whole tail unparsed;
* metadata: at most ``METADATA_MAX_ENTRIES`` entries of UTF-8 strings, at most
  ``METADATA_MAX_BYTES`` bytes in all. DashFlow itself writes none or two tiny entries; the
  bound keeps the search window (``MAX_TAIL_SIZE``) small even for a huge damaged file.

``TailParse.candidates`` lists every candidate the search found (by increasing
``state_end``); ``unique`` is the candidate when there is exactly one; ``ambiguous`` means
there are several: the bytes read correctly in more than one way (for example state bytes
that also parse as a tail), so node, timestamp and parent are not known for sure.

How candidates are searched
---------------------------
The executor writes empty metadata, so most payloads end with eight zero bytes. The *fast
path* reads those bytes as empty metadata and works backwards. Neither a parent nor a node may
contain NUL and both are shorter than 256 bytes, so the eight-byte length in front of such a
string ends at the last zero byte before the string's end: one ``rfind`` locates it. The only
remaining choice is parent None versus Some, and both are tried. So the fast path enumerates
*every* candidate with empty metadata, in constant time.

Only when the fast path finds nothing (non-empty metadata, or damage) does the *full search*
try every offset after ``thread_id``. ``TailParse.exhaustive`` says which search produced the
candidates. When the fast path succeeds, readings with non-empty metadata are not searched
for: such a reading would need its last metadata value to be an empty string, with a key, a
count, a parent tag, a plausible timestamp and a node all lining up in front of it.

Bounds (linear time)
--------------------
Every search reads at most the last ``MAX_TAIL_SIZE`` bytes of the payload, whatever its size,
and each of those bytes a fixed number of times (``SearchWork`` counts it; the tests assert it
on zero-filled, repeated-byte and random payloads of 1 KiB to 64 MiB):

* the fast path examines at most ``2 * (8 + NODE_MAX_LEN) + 12 + 1 + 8`` bytes;
* the full search tries each offset of the window at most once as a tail start and reads at
  most 37 bytes of fixed-size fields there (lengths, timestamp, tag, count); the node texts
  of two starts cannot overlap (a node holds no NUL, a length needs seven), nor can their
  parent texts, so each text byte is examined once. The metadata map is first
  followed by its lengths alone: how many strings lead from a position exactly to the payload
  end is remembered per position (``_strings_to_end``), so every position is followed once
  for all starts. Only a start whose strings end exactly at the payload end has its metadata
  decoded (UTF-8 checked);
* ``last_tail_end`` (where a legacy file's checkpoint ends before trailing bytes) tries only
  ends that follow a run of eight or more zero bytes by at most 20 bytes (a timestamp or a
  parent must lie in those 20 bytes, and neither is all zeros), each with the fast path. It
  finds tails with empty metadata, the only kind DashFlow writes; a tail with metadata that
  is followed by extra bytes is reported as cut short instead.
"""

from __future__ import annotations

import calendar
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from dashfix.formats.bincode import Buffer, DecodeError, Reader, Writer, string_at
from dashfix.formats.ids import is_current_scheme

NODE_MAX_LEN = 255
# A checkpoint id is a file name stem: NAME_MAX (255) minus ".bin".
ID_MAX_LEN = 251
METADATA_MAX_ENTRIES = 1024
METADATA_MAX_BYTES = 64 * 1024
NANOS_PER_SEC = 1_000_000_000

_TIMESTAMP = struct.Struct("<QI")
_U64 = struct.Struct("<Q")
_SMALL_U64_HIGH_BYTES = b"\x00" * 7
_EMPTY_MAP = b"\x00" * 8
# node len (8) + timestamp (12) + option tag (1) + metadata count (8)
MIN_TAIL_SIZE = 29
MAX_TAIL_SIZE = 8 + NODE_MAX_LEN + 12 + 1 + 8 + ID_MAX_LEN + METADATA_MAX_BYTES
# What precedes empty metadata: node (8 + 255), timestamp, tag, parent (8 + 251).
_FAST_WINDOW = 8 + NODE_MAX_LEN + 12 + 1 + 8 + ID_MAX_LEN


@dataclass(slots=True)
class SearchWork:
    """What a tail search did, counted so that tests and benchmarks can prove it linear
    without timing it: pass one to ``parse_tail`` or ``last_tail_end``."""

    positions: int = 0
    """Offsets tried as a tail start or a tail end."""
    steps: int = 0
    """Metadata strings followed by their length alone (``_strings_to_end``)."""
    bytes: int = 0
    """Bytes examined: scanned by ``find``/``rfind`` or read by a parse."""


@dataclass(frozen=True, slots=True)
class CheckpointHead:
    checkpoint_id: str
    thread_id: str
    state_start: int


@dataclass(frozen=True, slots=True)
class CheckpointTail:
    node: str
    secs: int
    nanos: int
    parent_id: str | None
    metadata: dict[str, str]
    state_end: int


@dataclass(frozen=True, slots=True)
class TailParse:
    candidates: tuple[CheckpointTail, ...]
    exhaustive: bool = False

    @property
    def unique(self) -> CheckpointTail | None:
        return self.candidates[0] if len(self.candidates) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def read_ids(data: Buffer, at: int = 0) -> tuple[str, str, int]:
    """(id, thread_id, state start relative to ``at``) of the payload starting at offset
    ``at`` of ``data``; a ``DecodeError`` offset is an offset into ``data``."""
    end = len(data)
    checkpoint_id, pos = string_at(data, at, end)
    thread_id, pos = string_at(data, pos, end)
    return checkpoint_id, thread_id, pos - at


def read_head(payload: Buffer) -> CheckpointHead:
    return CheckpointHead(*read_ids(payload))


@lru_cache(maxsize=64)
def _secs_bounds(min_year: int, max_year: int) -> tuple[int, int]:
    return (
        calendar.timegm((min_year, 1, 1, 0, 0, 0)),
        calendar.timegm((max_year, 1, 1, 0, 0, 0)),
    )


def _nul_free_string_ending_at(
    window: bytes, base: int, end: int, floor: int, max_len: int, work: SearchWork | None
) -> tuple[int, str] | None:
    """The one ``u64 len + text`` field without NUL that can end at payload offset ``end``:
    (start offset, text). ``window`` holds the payload bytes from offset ``base``.

    A length up to 255 has seven zero high bytes and the text has no zero byte, so the
    length's last byte is the last zero byte before ``end``.
    """
    lowest = max(floor, end - 8 - max_len) - base
    last_zero = window.rfind(0, lowest, end - base)
    if work is not None:
        work.bytes += end - base - max(last_zero, lowest)
    if last_zero < 0:
        return None
    start = last_zero - 7
    if start + base < floor or _U64.unpack_from(window, start)[0] != end - base - start - 8:
        return None
    try:
        return start + base, window[start + 8 : end - base].decode("utf-8")
    except UnicodeDecodeError:
        return None


RawTail = tuple[str, int, int, "str | None", int]
"""(node, secs, nanos, parent_id, state_end) of one candidate, before it becomes a
``CheckpointTail``: the per-file hot path builds its record from these directly."""


MIN_YEAR = 2000
MAX_YEAR = 2100
_DEFAULT_YEARS = (MIN_YEAR, MAX_YEAR)
DEFAULT_SECS_BOUNDS = _secs_bounds(MIN_YEAR, MAX_YEAR)
"""The seconds of a plausible timestamp by default: from MIN_YEAR up to, not including,
MAX_YEAR (UTC)."""


class TailRules:
    """The plausibility rules of one checkpoint, built once from its ids."""

    __slots__ = ("checkpoint_id", "max_secs", "min_secs", "thread_prefix")

    def __init__(self, checkpoint_id: str, thread_id: str, min_year: int = MIN_YEAR,
                 max_year: int = MAX_YEAR) -> None:
        self.min_secs, self.max_secs = (
            DEFAULT_SECS_BOUNDS if (min_year, max_year) == _DEFAULT_YEARS
            else _secs_bounds(min_year, max_year)
        )
        self.checkpoint_id = checkpoint_id
        self.thread_prefix = thread_id + "_"

    def timestamp_ok(self, secs: int, nanos: int) -> bool:
        return nanos < NANOS_PER_SEC and self.min_secs <= secs < self.max_secs

    def parent_ok(self, parent: str) -> bool:
        if "\x00" in parent:
            return False
        # The schemes are only worth parsing when the prefix is absent (the rare case).
        return parent.startswith(self.thread_prefix) or not is_current_scheme(
            self.checkpoint_id) or is_current_scheme(parent)


def empty_metadata_tails(window: bytes, base: int, floor: int, end: int,
                         rules: TailRules, work: SearchWork | None = None) -> list[RawTail]:
    """The fast path (module docstring): every candidate with empty metadata, by increasing
    ``state_end``. ``window`` holds the payload bytes from payload offset ``base`` (negative
    when it starts before the payload, e.g. a whole DCHK file has ``base = -20``) up to
    ``end``, the payload end; ``floor`` is where the state starts."""
    if end - floor < MIN_TAIL_SIZE or window[end - 8 - base : end - base] != _EMPTY_MAP:
        return []
    some = _some_parent_tail(window, base, floor, end - 8, rules, work)
    if window[end - 9 - base] != 0:
        # A parent None would end with its zero tag byte: only Some can end here.
        return [] if some is None else [some]
    found = []
    none = _node_and_time(window, base, floor, end - 9, None, rules, work)
    if none is not None:
        found.append(none)
    if some is not None:
        found.append(some)
        found.sort(key=_state_end)
    return found


def _some_parent_tail(window: bytes, base: int, floor: int, metadata_start: int,
                      rules: TailRules, work: SearchWork | None) -> RawTail | None:
    # A Some tag needs a node length and a timestamp (20 bytes) in front of it.
    found_parent = _nul_free_string_ending_at(window, base, metadata_start, floor + 21,
                                              ID_MAX_LEN, work)
    if found_parent is None:
        return None
    start, parent = found_parent
    if window[start - 1 - base] != 1 or not rules.parent_ok(parent):
        return None
    return _node_and_time(window, base, floor, start - 1, parent, rules, work)


def _node_and_time(window: bytes, base: int, floor: int, tag_pos: int, parent: str | None,
                   rules: TailRules, work: SearchWork | None) -> RawTail | None:
    """The candidate whose parent's Option tag is at payload offset ``tag_pos``."""
    timestamp_pos = tag_pos - 12
    if timestamp_pos - 8 < floor:
        return None
    secs, nanos = _TIMESTAMP.unpack_from(window, timestamp_pos - base)
    if not rules.timestamp_ok(secs, nanos):
        return None
    found_node = _nul_free_string_ending_at(window, base, timestamp_pos, floor, NODE_MAX_LEN,
                                            work)
    if found_node is None:
        return None
    node_start, node = found_node
    return node, secs, nanos, parent, node_start


def _state_end(tail: RawTail) -> int:
    return tail[4]


def _fast_candidates(view: memoryview, head: CheckpointHead, rules: TailRules,
                     work: SearchWork | None) -> list[CheckpointTail]:
    end = len(view)
    # One copy of the bytes that a parent, tag, timestamp, node and empty metadata occupy.
    base = max(head.state_start, end - 8 - _FAST_WINDOW)
    return [
        CheckpointTail(node, secs, nanos, parent, {}, state_end)
        for node, secs, nanos, parent, state_end in empty_metadata_tails(
            bytes(view[base:end]), base, head.state_start, end, rules, work)
    ]


_ZERO_BLOCKS = [bytes(1 << exponent) for exponent in range(17)]


def _zero_runs(data: bytes, min_len: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """The maximal runs of at least ``min_len`` zero bytes in ``data[start:]``, as (start,
    end) pairs, ascending. ``bytes.find`` jumps to the next run and a galloping ``memcmp``
    (``startswith`` at an offset, which copies nothing) finds its end: C speed throughout,
    a few Python steps per run."""
    needle = bytes(min_len)
    at = data.find(needle, start)
    while at != -1:
        end = at + min_len
        exponent = 0
        while exponent >= 0:
            if data.startswith(_ZERO_BLOCKS[exponent], end):
                end += 1 << exponent
                exponent = min(exponent + 1, len(_ZERO_BLOCKS) - 1)
            else:
                exponent -= 1
        yield at, end
        at = data.find(needle, end)


# A tail start q has a node length byte at q, seven zero bytes, then the node text (not NUL)
# or, for an empty node, the timestamp's secs at q+8..q+15: not zero when the earliest
# plausible year is after 1970. So some byte in q..q+15 is not zero.
_NONZERO_WITHIN = 16


def _small_length_prefixes(view: memoryview, lo: int, hi: int, timestamp_nonzero: bool,
                           work: SearchWork | None) -> Iterator[int]:
    """Offsets q in [lo, hi) whose u64 is at most 255 (bytes q+1..q+7 are zero) and, when
    ``timestamp_nonzero``, with a byte that is not zero in q..q+15; ascending.

    ``_zero_runs`` finds the runs of seven or more zero bytes at C speed; inside a run only
    the offset in front of it and the last few can start a tail, so a zero-filled window
    costs a handful of tries, not one per byte.
    """
    if hi <= lo:
        return
    region = bytes(view[lo : hi + 7])
    if work is not None:
        work.bytes += len(region)
    last = hi - lo - 1
    for start, end in _zero_runs(region, 7):
        if not timestamp_nonzero:
            yield from (lo + q for q in range(max(start - 1, 0), min(end - 8, last) + 1))
            continue
        if start >= 1 and start - 1 <= last:
            yield lo + start - 1  # its length byte is the non-zero byte in front of the run
        first = max(start, end - _NONZERO_WITHIN + 1)
        yield from (lo + q for q in range(first, min(end - 8, last) + 1))


def _strings_to_end(view: memoryview, pos: int, known: dict[int, int],
                    work: SearchWork | None) -> int:
    """How many back-to-back ``u64 len + bytes`` strings lead from ``pos`` exactly to the end
    of ``view`` (-1: none do). Only lengths are read; ``known`` remembers the answer of every
    position passed on the way, so one search follows each position once whatever the number
    of starts whose metadata runs through it."""
    end = len(view)
    path = []
    while (answer := known.get(pos)) is None:
        path.append(pos)
        if end - pos < 8:
            answer = -1
            break
        pos += 8 + _U64.unpack_from(view, pos)[0]
        if pos > end:
            answer = -1
            break
    if work is not None:
        work.steps += len(path)
    for passed in reversed(path):
        if answer >= 0:
            answer += 1
        known[passed] = answer
    return answer


def _parse_tail_at(view: memoryview, start: int, rules: TailRules, known: dict[int, int],
                   work: SearchWork | None) -> CheckpointTail | None:
    reader = Reader(view, start)
    try:
        node = reader.string(NODE_MAX_LEN)
        if "\x00" in node:
            return None
        secs = reader.u64()
        nanos = reader.u32()
        if not rules.timestamp_ok(secs, nanos):
            return None
        parent = reader.string(ID_MAX_LEN) if reader.option_tag() else None
        if parent is not None and not rules.parent_ok(parent):
            return None
        if reader.remaining > METADATA_MAX_BYTES:
            return None
        count = reader.count(METADATA_MAX_ENTRIES, min_element_size=16)
        # Decode the map only when its lengths alone already end exactly at the end.
        if _strings_to_end(view, reader.pos, known, work) != 2 * count:
            return None
        metadata: dict[str, str] = {}
        for _ in range(count):
            key = reader.string()
            metadata[key] = reader.string()
    except DecodeError:
        return None
    finally:
        if work is not None:
            work.positions += 1
            work.bytes += reader.pos - start
    return CheckpointTail(node, secs, nanos, parent, metadata, start)


def _all_offset_candidates(
    view: memoryview, head: CheckpointHead, rules: TailRules, work: SearchWork | None
) -> list[CheckpointTail]:
    # A node length is at most 255, so only offsets whose u64 has seven zero high bytes can
    # start a tail, and no tail is longer than MAX_TAIL_SIZE: visiting just those offsets is
    # exact, not a heuristic.
    found: list[CheckpointTail] = []
    first_start = max(head.state_start, len(view) - MAX_TAIL_SIZE)
    last_start = len(view) - MIN_TAIL_SIZE
    known = {len(view): 0}
    for start in _small_length_prefixes(view, first_start, last_start + 1,
                                        rules.min_secs > 0, work):
        tail = _parse_tail_at(view, start, rules, known, work)
        if tail is not None:
            found.append(tail)
    return found


def parse_tail(
    payload: Buffer,
    head: CheckpointHead,
    *,
    min_year: int = MIN_YEAR,
    max_year: int = MAX_YEAR,
    exhaustive: bool = False,
    work: SearchWork | None = None,
) -> TailParse:
    """Recover node, timestamp, parent and metadata; the module docstring gives the rules
    and the bounds (``work``, when given, counts what the search did).

    ``exhaustive=True`` skips the fast path and tries every offset.
    """
    view = payload if isinstance(payload, memoryview) else memoryview(payload)
    rules = TailRules(head.checkpoint_id, head.thread_id, min_year, max_year)
    if not exhaustive:
        fast = _fast_candidates(view, head, rules, work)
        if fast:
            return TailParse(tuple(fast), exhaustive=False)
    return TailParse(tuple(_all_offset_candidates(view, head, rules, work)), exhaustive=True)


# A tail's empty metadata is its last 8 bytes; a tail with parent None has its timestamp,
# with parent Some its parent's text or its tag 1, in the 13 bytes in front of them. Neither
# is all zeros (secs >= MIN_YEAR), so a tail ends at most 20 bytes after a zero run starts.
_LAST_END_AFTER_ZERO_RUN = 8 + 12


def last_tail_end(payload: Buffer, head: CheckpointHead, search_bytes: int,
                  work: SearchWork | None = None) -> int | None:
    """The greatest offset below ``len(payload)``, among its last ``search_bytes`` bytes, at
    which a tail with empty metadata ends: where the checkpoint of a legacy file with bytes
    appended to it ends. None when no such tail ends there. Linear: see the module docstring.
    """
    view = payload if isinstance(payload, memoryview) else memoryview(payload)
    size = len(view)
    floor = head.state_start
    lowest = max(floor, size - search_bytes)
    # The ends tried lie in [lowest + 8, size); their fast path reads up to _FAST_WINDOW
    # bytes in front of their metadata.
    base = max(floor, lowest - _FAST_WINDOW)
    window = bytes(view[base:size])
    if work is not None:
        work.bytes += size - lowest
    rules = TailRules(head.checkpoint_id, head.thread_id)
    runs = list(_zero_runs(window, 8, lowest - base))
    for run_start, run_end in reversed(runs):
        first = base + run_start + 8
        last = min(base + run_end, base + run_start + _LAST_END_AFTER_ZERO_RUN, size - 1)
        for end in range(last, first - 1, -1):
            if work is not None:
                work.positions += 1
            if empty_metadata_tails(window, base, floor, end, rules, work):
                return end
    return None


def encode_tail(
    node: str,
    secs: int,
    nanos: int,
    parent_id: str | None,
    metadata: Mapping[str, str],
) -> bytes:
    return (
        Writer()
        .string(node)
        .raw(_TIMESTAMP.pack(secs, nanos))
        .option_string(parent_id)
        .string_map(metadata.items())
        .getvalue()
    )


def encode_checkpoint(
    checkpoint_id: str,
    thread_id: str,
    state: bytes,
    node: str,
    secs: int,
    nanos: int,
    parent_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """The bincode payload of ``Checkpoint<S>``; ``state`` is already-encoded bincode of S."""
    return (
        Writer()
        .string(checkpoint_id)
        .string(thread_id)
        .raw(state)
        .raw(encode_tail(node, secs, nanos, parent_id, metadata or {}))
        .getvalue()
    )
