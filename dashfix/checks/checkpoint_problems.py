"""The rule of each problem the store reader finds in a single entry (``FileProblem``): the
reader says what is wrong, the checks say which code that is."""

from __future__ import annotations

from dashfix.findings import Rule
from dashfix.inputs.checkpoint_record import FileProblem
from dashfix.rules import checkpoint as ck

PROBLEM_RULES: dict[FileProblem, Rule] = {
    FileProblem.UNREADABLE: ck.FILE_UNREADABLE,
    FileProblem.ZERO_FILLED: ck.ZERO_FILLED,
    FileProblem.TOO_SMALL: ck.FILE_TOO_SMALL,
    FileProblem.UNSUPPORTED_VERSION: ck.UNSUPPORTED_VERSION,
    FileProblem.LENGTH_MISMATCH: ck.LENGTH_MISMATCH,
    FileProblem.CHECKSUM_MISMATCH: ck.CHECKSUM_MISMATCH,
    FileProblem.DAMAGED_MAGIC: ck.DAMAGED_MAGIC,
    FileProblem.FOREIGN: ck.FOREIGN_BIN,
    FileProblem.PAYLOAD_UNDECODABLE: ck.PAYLOAD_UNDECODABLE,
    FileProblem.LEGACY_TRUNCATED: ck.LEGACY_TRUNCATED,
    FileProblem.LEGACY_TRAILING_GARBAGE: ck.LEGACY_TRAILING_GARBAGE,
    FileProblem.GZIP_CORRUPT: ck.GZIP_CORRUPT,
    FileProblem.DECOMPRESSED_TOO_LARGE: ck.DECOMPRESSED_TOO_LARGE,
    FileProblem.VERSIONED_DATA_NOT_JSON: ck.VERSIONED_DATA_NOT_JSON,
    FileProblem.SYMLINK: ck.SYMLINK_IN_STORE,
    FileProblem.INDEX_NOT_A_FILE: ck.INDEX_NOT_A_FILE,
    FileProblem.LOCK_NOT_A_FILE: ck.LOCK_NOT_A_FILE,
    FileProblem.BIN_DIRECTORY: ck.BIN_DIRECTORY,
    FileProblem.BIN_SPECIAL_FILE: ck.BIN_SPECIAL_FILE,
}


def problem_code(problem: FileProblem) -> str:
    """The code of a record's ``problem``."""
    return PROBLEM_RULES[problem].code
