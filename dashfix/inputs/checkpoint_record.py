"""One store entry as primitives (``FileRecord``) and the constants that describe it.

Shared by the scanner (``dashfix.inputs.checkpoint_files``) and the column store of a scanned
folder (``dashfix.inputs.checkpoint_rows``).
"""

from __future__ import annotations

import stat
from enum import StrEnum
from typing import NamedTuple

from dashfix.formats.variants import Variant

# Variant values as interned constants: every record shares these strings.
DCHK = Variant.DCHK.value
LEGACY = Variant.LEGACY_BINCODE.value
GZIP = Variant.GZIP_BIN.value
VERSIONED = Variant.VERSIONED.value
VERSIONED_GZ = Variant.VERSIONED_GZ.value
JSON = Variant.LEGACY_JSON.value
TEMP_CHECKPOINT = Variant.TEMP_CHECKPOINT.value
TEMP_INDEX = Variant.TEMP_INDEX.value
FOREIGN = "foreign"
SYMLINK = "symlink"
DIRECTORY = "directory"
SPECIAL = "special"
"""A FIFO, socket or device: never opened (opening a FIFO waits for a writer)."""
UNREADABLE = "unreadable"

CHECKPOINT_VARIANTS = frozenset({DCHK, LEGACY, GZIP, VERSIONED, VERSIONED_GZ})
"""Variants DashFlow reads as checkpoints (one of its three file checkpointers)."""
LISTED_VARIANTS = CHECKPOINT_VARIANTS | {FOREIGN, DIRECTORY, SPECIAL, SYMLINK, UNREADABLE}
"""Everything some DashFlow file checkpointer lists and tries to read."""


def entry_kind(mode: int) -> str:
    """What a store entry is, in words, from its ``lstat`` mode."""
    for test, kind in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISLNK, "a symlink"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return f"an entry of unknown type (mode {mode:o})"



class FileProblem(StrEnum):
    """What is wrong with one store entry, found where it is read (``FileRecord.problem``).
    The checks give each its code and wording (``dashfix.checks.checkpoint_problems``), as
    they do for the stream side's ``ProblemKind``."""

    UNREADABLE = "unreadable"
    ZERO_FILLED = "zero-filled"
    TOO_SMALL = "too-small"
    UNSUPPORTED_VERSION = "unsupported-version"
    LENGTH_MISMATCH = "length-mismatch"
    CHECKSUM_MISMATCH = "checksum-mismatch"
    DAMAGED_MAGIC = "damaged-magic"
    FOREIGN = "foreign"
    PAYLOAD_UNDECODABLE = "payload-undecodable"
    LEGACY_TRUNCATED = "legacy-truncated"
    LEGACY_TRAILING_GARBAGE = "legacy-trailing-garbage"
    GZIP_CORRUPT = "gzip-corrupt"
    DECOMPRESSED_TOO_LARGE = "decompressed-too-large"
    VERSIONED_DATA_NOT_JSON = "versioned-data-not-json"
    SYMLINK = "symlink"
    INDEX_NOT_A_FILE = "index-not-a-file"
    LOCK_NOT_A_FILE = "lock-not-a-file"
    BIN_DIRECTORY = "bin-directory"
    BIN_SPECIAL_FILE = "bin-special-file"


FLAG_VERSION_ZERO = 1
FLAG_NAME_MISMATCH = 2
FLAG_FOREIGN_ID = 4
FLAG_PATH_UNSAFE = 8
IDENTITY_FLAGS = FLAG_NAME_MISMATCH | FLAG_FOREIGN_ID | FLAG_PATH_UNSAFE
LOAD_SUFFIXES = (".bin", ".bin.gz", ".v.bin.gz", ".v.bin")
"""The names DashFlow's three file checkpointers load an id from."""

class FileRecord(NamedTuple):
    """What one store entry is, as primitives only (msgpack-serialisable, cacheable).

    ``problem`` is the ``FileProblem`` of the entry's own damage (None when it reads cleanly),
    with ``message``/``offset``/``expected``/``actual`` describing it. ``secs`` is -1 when the
    timestamp is unknown (tail not parsed, or ambiguous). ``state_start``/``state_end`` are
    payload offsets (-1 unknown).
    """

    name: str
    variant: str
    size: int
    mtime_ns: int
    problem: FileProblem | None = None
    message: str | None = None
    offset: int | None = None
    expected: str | None = None
    actual: str | None = None
    checkpoint_id: str | None = None
    thread_id: str | None = None
    node: str | None = None
    secs: int = -1
    nanos: int = 0
    parent_id: str | None = None
    metadata_count: int = -1
    tail_ambiguous: bool = False
    state_start: int = -1
    state_end: int = -1
    schema_version: int = -1
    flags: int = 0
    proc: str | None = None
    """The id's process part: hex for the current scheme, "" for ``{thread}_{n}``, else None."""
    counter: int = -1

    @property
    def loadable(self) -> bool:
        """A checkpoint some DashFlow file checkpointer loads without error."""
        return self.problem is None and self.variant in CHECKPOINT_VARIANTS

    @property
    def timestamp(self) -> tuple[int, int] | None:
        return None if self.secs < 0 else (self.secs, self.nanos)


SUFFIX = {DCHK: ".bin", LEGACY: ".bin", GZIP: ".bin.gz", VERSIONED: ".v.bin",
          VERSIONED_GZ: ".v.bin.gz", JSON: ".json"}
"""Variant -> the suffix its writer appends to the checkpoint id."""




COUNTER_MAX = 2**63 - 1
"""The largest counter a row's int64 column holds. An id may carry a larger one (DashFlow's
counter is a u64); its row holds COUNTER_MAX and its record the true value."""

PLAIN, OTHER, ABSENT = 0, 1, 2
"""Row kinds of the column store: a healthy plain DCHK checkpoint (its columns are the whole
record), any other entry (its ``FileRecord`` is kept), or a listed name with no record."""

RowValues = tuple[int, str | None, str | None, str | None, int, int, int, int, int, int, int,
                  str | None]
"""One row for the column store: (kind, thread_id, node, proc, counter, secs, nanos, mtime_ns,
size, state_start, state_end, parent_id). ``secs`` is -1 unless the row is *timed* (a
loadable checkpoint with a known timestamp), and ``parent_id`` is None then too."""

ABSENT_ROW: RowValues = (ABSENT, None, None, None, -1, -1, 0, 0, 0, -1, -1, None)


def is_timed(record: FileRecord) -> bool:
    """A loadable checkpoint with a known timestamp: what latest, chains and writers compare."""
    return (record.problem is None and record.secs >= 0 and record.thread_id is not None
            and record.variant in CHECKPOINT_VARIANTS)


def is_plain(record: FileRecord) -> bool:
    """A healthy ``{id}.bin`` DCHK checkpoint that ``plain_record`` rebuilds exactly from
    its row: the shape of nearly every file of a store."""
    return (record.variant == DCHK and record.problem is None and record.flags == 0
            and record.secs >= 0 and record.metadata_count == 0 and not record.tail_ambiguous
            and record.schema_version == -1 and record.thread_id is not None
            and record.counter <= COUNTER_MAX and record.name == f"{record.checkpoint_id}.bin")


def row_values(record: FileRecord) -> RowValues:
    """The row of any record (the record itself is kept beside a row that is not PLAIN)."""
    timed = is_timed(record)
    return (PLAIN if is_plain(record) else OTHER,
            record.thread_id if record.variant in CHECKPOINT_VARIANTS else None,
            record.node, record.proc, min(record.counter, COUNTER_MAX),
            record.secs if timed else -1,
            record.nanos, record.mtime_ns, record.size, record.state_start, record.state_end,
            record.parent_id if timed else None)


def plain_record(name: str, row: RowValues) -> FileRecord:
    """The record of the PLAIN row of file ``name``."""
    (_, thread_id, node, proc, counter, secs, nanos, mtime_ns, size, state_start, state_end,
     parent_id) = row
    return FileRecord(name, DCHK, size, mtime_ns, None, None, None, None, None, name[:-4],
                      thread_id, node, secs, nanos, parent_id, 0, False, state_start,
                      state_end, -1, 0, proc, counter)
