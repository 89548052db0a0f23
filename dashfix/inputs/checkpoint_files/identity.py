"""A checkpoint file's identity flags (computed where the file is read) and expected name."""

from __future__ import annotations

from dashfix.formats.ids import IdParts, id_matches_thread, is_path_unsafe, thread_part
from dashfix.inputs.checkpoint_record import (
    FLAG_FOREIGN_ID,
    FLAG_NAME_MISMATCH,
    FLAG_PATH_UNSAFE,
    SUFFIX,
    FileRecord,
)


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
    if parsed is not None:
        own = thread_part(checkpoint_id, parsed[0]) == thread_id
    else:
        own = id_matches_thread(checkpoint_id, thread_id)
    if not own:
        flags |= FLAG_FOREIGN_ID
    return flags
