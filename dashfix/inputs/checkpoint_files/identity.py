"""A checkpoint's id parts and identity flags (computed where a file is read)."""

from __future__ import annotations

import sys

from dashfix.formats.ids import IdScheme, id_matches_thread, is_path_unsafe
from dashfix.inputs.checkpoint_record import (
    FLAG_FOREIGN_ID,
    FLAG_NAME_MISMATCH,
    FLAG_PATH_UNSAFE,
    SUFFIX,
    FileRecord,
)

IdParts = tuple[IdScheme, str, int]
"""(scheme, proc, counter) of a current-scheme or counter-scheme id."""

_HEX_DIGITS = frozenset("0123456789abcdef")


def proc_and_counter(checkpoint_id: str) -> IdParts | None:
    """(scheme, proc, counter) of a current-scheme or counter-scheme id, else None.

    The same answer as ``parse_id`` without regexes: it runs for every checkpoint. The
    proc is interned: a store has a handful of distinct ones.
    """
    parts = checkpoint_id.rsplit("_", 2)
    if len(parts) == 3:
        proc, last = parts[1], parts[2]
        digits = last[5:]
        if (last[:5] == "chkpt" and digits.isdecimal() and digits.isascii()
                and 5 <= len(proc) <= 16 and _HEX_DIGITS.issuperset(proc)):
            return IdScheme.CURRENT, sys.intern(proc), int(digits)
    _, separator, digits = checkpoint_id.rpartition("_")
    if separator and digits.isdecimal() and digits.isascii():
        return IdScheme.COUNTER, "", int(digits)
    return None


def expected_name(record: FileRecord) -> str:
    """The file name DashFlow loads the record's embedded id from."""
    return f"{record.checkpoint_id}{SUFFIX[record.variant]}"


def identity_flags(name: str, variant: str, checkpoint_id: str, thread_id: str,
                   parsed: IdParts | None) -> int:
    """FLAG_* bits for a checkpoint's name and ids (computed where the file is read);
    ``parsed`` is ``proc_and_counter`` of its id."""
    flags = 0
    if is_path_unsafe(checkpoint_id) is not None or is_path_unsafe(thread_id) is not None:
        flags |= FLAG_PATH_UNSAFE
    elif name != checkpoint_id + SUFFIX[variant]:
        flags |= FLAG_NAME_MISMATCH
    if parsed is not None and parsed[0] is IdScheme.CURRENT:
        own = checkpoint_id.rsplit("_", 2)[0] == thread_id
    else:
        own = id_matches_thread(checkpoint_id, thread_id)
    if not own:
        flags |= FLAG_FOREIGN_ID
    return flags
