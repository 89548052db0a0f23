"""DashFlow file-backend JSONL: ``{"offset": i64, "timestamp_us": i64, "data": "<base64>"}``.

``data`` is standard padded base64 of the *unframed* protobuf DashStreamMessage.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import orjson


class LineFault(StrEnum):
    NOT_UTF8 = "not-utf8"
    NOT_JSON = "not-json"
    BAD_FIELDS = "bad-fields"
    BAD_BASE64 = "bad-base64"
    OVERSIZE = "oversize"


@dataclass(slots=True)
class FileLogEntry:
    """One decoded line (not frozen: a frozen __init__ is slow, and logs have millions)."""

    offset: int
    timestamp_us: int
    data: bytes


@dataclass(frozen=True, slots=True)
class LineProblem:
    fault: LineFault
    message: str
    column: int = 0
    """Byte position inside the line."""


def base64_cap(value_cap: int) -> int:
    """Longest padded base64 text of a value of at most ``value_cap`` bytes."""
    return 4 * ((value_cap + 2) // 3)


def _fields_problem(document: object) -> str:
    """What is wrong with a line that is JSON but not a file-backend record."""
    if not isinstance(document, dict):
        return f"line is JSON {type(document).__name__}, not an object"
    for name in ("offset", "timestamp_us"):
        value = document.get(name)
        if type(value) is not int:
            return f"field {name!r} must be an integer, found {type(value).__name__}"
    return f"field 'data' must be a base64 string, found {type(document.get('data')).__name__}"


def decode_line(line: bytes, *, value_cap: int) -> FileLogEntry | LineProblem:
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            return LineProblem(
                LineFault.NOT_UTF8, f"line is not UTF-8 text: {bad.reason}", bad.start
            )
        return LineProblem(LineFault.NOT_JSON, f"line is not JSON: {exc.msg}", exc.pos)
    if type(document) is dict:
        offset = document.get("offset")
        timestamp_us = document.get("timestamp_us")
        text = document.get("data")
    if not (type(document) is dict and type(offset) is int and type(timestamp_us) is int
            and type(text) is str):
        return LineProblem(LineFault.BAD_FIELDS, _fields_problem(document))
    if len(text) > base64_cap(value_cap):
        return LineProblem(
            LineFault.OVERSIZE,
            f"'data' holds {len(text)} base64 characters, more than the {base64_cap(value_cap)} "
            f"a {value_cap}-byte value can need; not decoded",
        )
    try:
        data = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        return LineProblem(LineFault.BAD_BASE64, f"'data' is not valid base64: {exc}")
    return FileLogEntry(offset, timestamp_us, data)


def encode_line(offset: int, timestamp_us: int, data: bytes) -> bytes:
    """One line as DashFlow writes it (keys in declaration order, newline-terminated)."""
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    return orjson.dumps({"offset": offset, "timestamp_us": timestamp_us, "data": encoded}) + b"\n"


_WALK_CHUNK = 1 << 20


def find_line_boundary(read_at: Callable[[int, int], bytes], start: int, count: int,
                       total_size: int) -> int | None:
    """Byte offset of the line ``count`` lines after the one starting at ``start``, or None
    when the log ends before that.  Reads ``_WALK_CHUNK`` bytes at a time through
    ``read_at(size, offset)`` (``os.pread`` on the log); nothing is decoded."""
    pos = start
    while count:
        block = read_at(_WALK_CHUNK, pos)
        if not block:
            return None
        newlines = block.count(b"\n")
        if newlines < count:
            count -= newlines
            pos += len(block)
            continue
        at = -1
        for _ in range(count):
            at = block.index(b"\n", at + 1)
        pos += at + 1
        count = 0
    return pos if pos < total_size else None
