"""Checkpoint ID schemes (spec section 3) and path-safety of ids and thread ids."""

from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

# The suffix each thread-prefixed scheme appends after "{thread}_". Thread ids may contain
# "_", so the thread is whatever precedes the suffix (proc and "chkpt<n>" contain no "_").
# The current and counter schemes ({thread}_{proc}_chkpt{n}, {thread}_{n}) are told by
# `proc_and_counter` without regexes: it runs for every checkpoint.
# The seconds are a u64 like the counter (at most 20 digits; see COUNTER_DIGITS_MAX).
_SECS_UUID_SUFFIX = rf"(?P<secs>[0-9]{{1,20}})_(?P<uuid>{_UUID})"
_UUID_SUFFIX = rf"(?P<uuid>{_UUID})"


class IdScheme(enum.Enum):
    CURRENT = "current"  # {thread}_{proc}_chkpt{n}
    COUNTER = "counter"  # {thread}_{n}, before the process id was added (bug #6)
    UUID = "uuid"  # bare UUID v4
    UUID_PREFIXED = "uuid-prefixed"  # {thread}_{uuid}
    SECS_UUID = "secs-uuid"  # {thread}_{unix_secs}_{uuid}, proposed in the bug analysis
    UNKNOWN = "unknown"


_UUID_SCHEMES: tuple[tuple[IdScheme, re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (
        scheme,
        re.compile(rf"(?P<thread>.*)_{suffix}", re.DOTALL),
        re.compile(suffix),
    )
    for scheme, suffix in (
        (IdScheme.SECS_UUID, _SECS_UUID_SUFFIX),
        (IdScheme.UUID_PREFIXED, _UUID_SUFFIX),
    )
)
_BARE_UUID = re.compile(_UUID)

IdParts = tuple[IdScheme, str, int]
"""(scheme, proc, counter) of a current-scheme or counter-scheme id (proc "" for the
counter scheme)."""

COUNTER_DIGITS_MAX = 20
"""DashFlow's counter is a u64, at most 20 digits: a longer run of digits is not one (and
turning it into a number would take time quadratic in its length)."""
_HEX_DIGITS = frozenset("0123456789abcdef")


def proc_and_counter(checkpoint_id: str) -> IdParts | None:
    """(scheme, proc, counter) of a current-scheme or counter-scheme id, else None: the one
    reading of those two schemes (``parse_id`` and ``is_current_scheme`` answer from it).

    Without regexes: it runs for every checkpoint. The proc is interned: a store has a
    handful of distinct ones.
    """
    parts = checkpoint_id.rsplit("_", 2)
    if len(parts) == 3:
        proc, last = parts[1], parts[2]
        digits = last[5:]
        if (last[:5] == "chkpt" and digits.isdecimal() and digits.isascii()
                and len(digits) <= COUNTER_DIGITS_MAX
                and 5 <= len(proc) <= 16 and _HEX_DIGITS.issuperset(proc)):
            return IdScheme.CURRENT, sys.intern(proc), int(digits)
    _, separator, digits = checkpoint_id.rpartition("_")
    if (separator and digits.isdecimal() and digits.isascii()
            and len(digits) <= COUNTER_DIGITS_MAX):
        return IdScheme.COUNTER, "", int(digits)
    return None


def thread_part(checkpoint_id: str, scheme: IdScheme) -> str:
    """The thread of a current-scheme or counter-scheme id (``proc_and_counter``'s
    ``scheme``): what precedes its proc and counter."""
    if scheme is IdScheme.CURRENT:
        return checkpoint_id.rsplit("_", 2)[0]
    return checkpoint_id.rpartition("_")[0]


@dataclass(frozen=True, slots=True)
class ParsedId:
    scheme: IdScheme
    thread_id: str | None
    proc: str | None
    counter: int | None
    uuid: str | None = None
    secs: int | None = None

    @property
    def pid_part(self) -> str | None:
        """The last 4 hex digits of a current-scheme proc: the pid modulo 0xFFFF."""
        return None if self.proc is None else self.proc[-4:]


def parse_id(checkpoint_id: str) -> ParsedId:
    parts = proc_and_counter(checkpoint_id)
    if parts is not None:
        scheme, proc, counter = parts
        return ParsedId(scheme, thread_part(checkpoint_id, scheme), proc or None, counter)
    for scheme, pattern, _suffix in _UUID_SCHEMES:
        match = pattern.fullmatch(checkpoint_id)
        if match is None:
            continue
        secs = match.groupdict().get("secs")
        return ParsedId(scheme, match["thread"], None, None, uuid=match["uuid"],
                        secs=None if secs is None else int(secs))
    if _BARE_UUID.fullmatch(checkpoint_id):
        return ParsedId(IdScheme.UUID, None, None, None, uuid=checkpoint_id)
    return ParsedId(IdScheme.UNKNOWN, None, None, None)


def is_current_scheme(checkpoint_id: str) -> bool:
    """``parse_id(id).scheme is IdScheme.CURRENT``, without building the parse."""
    parts = proc_and_counter(checkpoint_id)
    return parts is not None and parts[0] is IdScheme.CURRENT


def id_matches_thread(checkpoint_id: str, thread_id: str) -> bool:
    """Whether ``checkpoint_id`` is one that ``thread_id`` could have produced.

    A bare UUID carries no thread and matches any thread. Every other id must be
    ``thread_id + "_" + suffix`` with the suffix of a known scheme; an id of no known scheme
    matches only if it starts with ``thread_id + "_"``. Checking the suffix (instead of the
    greedy parse's thread) keeps thread ids that contain "_" or digits correct. (For the
    current and counter schemes the suffix is the id's last parts, so their thread is
    ``thread_part``.)
    """
    parts = proc_and_counter(checkpoint_id)
    if parts is not None:
        return thread_part(checkpoint_id, parts[0]) == thread_id
    if _BARE_UUID.fullmatch(checkpoint_id):
        return True
    prefix = thread_id + "_"
    if not checkpoint_id.startswith(prefix):
        return False
    rest = checkpoint_id[len(prefix) :]
    if any(suffix.fullmatch(rest) for _scheme, _pattern, suffix in _UUID_SCHEMES):
        return True
    return parse_id(checkpoint_id).scheme is IdScheme.UNKNOWN


def is_path_unsafe(value: str) -> str | None:
    """Why ``value`` used as a file name stem would leave or break the store, or None."""
    if value == "":
        return "is empty"
    if "\x00" in value:
        return "contains a NUL byte"
    if value.startswith("/"):
        return "starts with '/' (absolute path: Path::join discards the store folder)"
    if "/" in value:
        return "contains '/' (nested path)"
    if "\\" in value:
        return "contains '\\' (a path separator on Windows)"
    if ".." in value:
        return "contains '..' (may escape the store folder)"
    if ":" in value:
        return "contains ':' (drive or stream separator on Windows)"
    return None
