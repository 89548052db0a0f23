"""Checkpoint ID schemes (spec section 3) and path-safety of ids and thread ids."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

# The suffix each thread-prefixed scheme appends after "{thread}_". Thread ids may contain
# "_", so the thread is whatever precedes the suffix (proc and "chkpt<n>" contain no "_").
_CURRENT_SUFFIX = r"(?P<proc>[0-9a-f]{5,16})_chkpt(?P<n>[0-9]+)"
_SECS_UUID_SUFFIX = rf"(?P<secs>[0-9]+)_(?P<uuid>{_UUID})"
_UUID_SUFFIX = rf"(?P<uuid>{_UUID})"
_COUNTER_SUFFIX = r"(?P<n>[0-9]+)"


class IdScheme(enum.Enum):
    CURRENT = "current"  # {thread}_{proc}_chkpt{n}
    COUNTER = "counter"  # {thread}_{n}, before the process id was added (bug #6)
    UUID = "uuid"  # bare UUID v4
    UUID_PREFIXED = "uuid-prefixed"  # {thread}_{uuid}
    SECS_UUID = "secs-uuid"  # {thread}_{unix_secs}_{uuid}, proposed in the bug analysis
    UNKNOWN = "unknown"


_PREFIXED: tuple[tuple[IdScheme, re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (
        scheme,
        re.compile(rf"(?P<thread>.*)_{suffix}", re.DOTALL),
        re.compile(suffix),
    )
    for scheme, suffix in (
        (IdScheme.CURRENT, _CURRENT_SUFFIX),
        (IdScheme.SECS_UUID, _SECS_UUID_SUFFIX),
        (IdScheme.UUID_PREFIXED, _UUID_SUFFIX),
        (IdScheme.COUNTER, _COUNTER_SUFFIX),
    )
)
_BARE_UUID = re.compile(_UUID)


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
    for scheme, pattern, _suffix in _PREFIXED:
        match = pattern.fullmatch(checkpoint_id)
        if match is None:
            continue
        groups = match.groupdict()
        return ParsedId(
            scheme=scheme,
            thread_id=groups["thread"],
            proc=groups.get("proc"),
            counter=int(groups["n"]) if groups.get("n") is not None else None,
            uuid=groups.get("uuid"),
            secs=int(groups["secs"]) if groups.get("secs") is not None else None,
        )
    if _BARE_UUID.fullmatch(checkpoint_id):
        return ParsedId(IdScheme.UUID, None, None, None, uuid=checkpoint_id)
    return ParsedId(IdScheme.UNKNOWN, None, None, None)


_HEX_PROC = re.compile(r"[0-9a-f]{5,16}")


def is_current_scheme(checkpoint_id: str) -> bool:
    """Fast equivalent of ``parse_id(id).scheme is IdScheme.CURRENT``."""
    parts = checkpoint_id.rsplit("_", 2)
    return (
        len(parts) == 3
        and parts[2].startswith("chkpt")
        and parts[2][5:].isdigit()
        and parts[2][5:].isascii()
        and _HEX_PROC.fullmatch(parts[1]) is not None
    )


def id_matches_thread(checkpoint_id: str, thread_id: str) -> bool:
    """Whether ``checkpoint_id`` is one that ``thread_id`` could have produced.

    A bare UUID carries no thread and matches any thread. Every other id must be
    ``thread_id + "_" + suffix`` with the suffix of a known scheme; an id of no known scheme
    matches only if it starts with ``thread_id + "_"``. Checking the suffix (instead of the
    greedy parse's thread) keeps thread ids that contain "_" or digits correct.
    """
    if _BARE_UUID.fullmatch(checkpoint_id):
        return True
    prefix = thread_id + "_"
    if not checkpoint_id.startswith(prefix):
        return False
    rest = checkpoint_id[len(prefix) :]
    if any(suffix.fullmatch(rest) for _scheme, _pattern, suffix in _PREFIXED):
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
