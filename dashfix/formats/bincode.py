"""bincode 1.x (plain ``bincode::serialize``) reader and writer for the fields dashfix needs.

Wire rules (spec 1.1): little-endian fixed-width integers, ``usize`` as u64, strings and
sequences as a u64 count followed by the elements, ``Option`` as a 0/1 tag byte.

Every length or count is checked against the bytes that are actually present before anything
is sliced or allocated, so a declared length of 2**63 fails immediately.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")

Buffer = bytes | bytearray | memoryview


class DecodeError(ValueError):
    """Bytes that do not decode; ``offset`` is the byte position of the failing field."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(offset, reason)
        self.offset = offset
        self.reason = reason

    def __str__(self) -> str:
        return f"at byte {self.offset}: {self.reason}"


class Reader:
    """Cursor over a byte buffer; ``pos`` is relative to the start of the buffer."""

    __slots__ = ("_data", "_end", "pos")

    def __init__(self, data: Buffer, pos: int = 0, end: int | None = None) -> None:
        self._data = data if isinstance(data, memoryview) else memoryview(data)
        self._end = len(self._data) if end is None else end
        self.pos = pos

    @property
    def remaining(self) -> int:
        return self._end - self.pos

    @property
    def end(self) -> int:
        return self._end

    def _take(self, size: int, what: str) -> int:
        start = self.pos
        if size > self._end - start:
            raise DecodeError(
                start, f"{what} needs {size} bytes but only {self._end - start} remain"
            )
        self.pos = start + size
        return start

    def u8(self) -> int:
        start = self._take(1, "u8")
        return self._data[start]

    def u32(self) -> int:
        start = self._take(4, "u32")
        return int(_U32.unpack_from(self._data, start)[0])

    def u64(self) -> int:
        start = self._take(8, "u64")
        return int(_U64.unpack_from(self._data, start)[0])

    def i64(self) -> int:
        start = self._take(8, "i64")
        return int(_I64.unpack_from(self._data, start)[0])

    def f64(self) -> float:
        start = self._take(8, "f64")
        return float(_F64.unpack_from(self._data, start)[0])

    def bool_(self) -> bool:
        start = self.pos
        value = self.u8()
        if value > 1:
            raise DecodeError(start, f"bool byte must be 0 or 1, found {value}")
        return value == 1

    def option_tag(self) -> bool:
        """Read an ``Option`` tag; True means ``Some``."""
        start = self.pos
        tag = self.u8()
        if tag > 1:
            raise DecodeError(start, f"Option tag must be 0 or 1, found {tag}")
        return tag == 1

    def bytes_(self, size: int) -> bytes:
        start = self._take(size, "byte string")
        return bytes(self._data[start : start + size])

    def string(self, max_len: int | None = None) -> str:
        """A u64 byte length then strict UTF-8; the length is checked before slicing."""
        text, self.pos = string_at(self._data, self.pos, self._end, max_len)
        return text

    def count(self, max_count: int | None = None, min_element_size: int = 1) -> int:
        """A u64 element count, checked against what could still fit in the remaining bytes."""
        start = self.pos
        value = self.u64()
        if max_count is not None and value > max_count:
            self.pos = start
            raise DecodeError(start, f"element count {value} exceeds the limit of {max_count}")
        if min_element_size > 0 and value > self.remaining // min_element_size:
            self.pos = start
            raise DecodeError(
                start,
                f"element count {value} cannot fit in the {self.remaining} bytes that remain "
                f"(at least {min_element_size} bytes each)",
            )
        return value

    def skip(self, size: int) -> None:
        self._take(size, "skipped field")

    def expect_end(self) -> None:
        if self.pos != self._end:
            raise DecodeError(self.pos, f"{self._end - self.pos} trailing bytes after the value")


def string_at(data: Buffer, pos: int, end: int, max_len: int | None = None) -> tuple[str, int]:
    """Decode the string whose u64 length is at ``pos``; returns (text, position after it).

    The hot path of every checkpoint read, so it works on the buffer without a Reader.
    """
    if end - pos < 8:
        raise DecodeError(pos, f"u64 needs 8 bytes but only {end - pos} remain")
    length: int = _U64.unpack_from(data, pos)[0]
    if max_len is not None and length > max_len:
        raise DecodeError(pos, f"string length {length} exceeds the limit of {max_len}")
    body = pos + 8
    if length > end - body:
        raise DecodeError(pos, f"string length {length} exceeds the {end - body} bytes that remain")
    try:
        return str(data[body : body + length], "utf-8"), body + length
    except UnicodeDecodeError as exc:
        raise DecodeError(body + exc.start, "invalid UTF-8 in string") from None


def encode_u32(value: int) -> bytes:
    return _U32.pack(value)


def encode_u64(value: int) -> bytes:
    return _U64.pack(value)


def encode_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _U64.pack(len(raw)) + raw


def encode_option_string(value: str | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + encode_string(value)


def encode_string_map(items: Iterable[tuple[str, str]]) -> bytes:
    pairs = list(items)
    return _U64.pack(len(pairs)) + b"".join(
        encode_string(key) + encode_string(value) for key, value in pairs
    )


class Writer:
    """Accumulates bincode fields; ``getvalue()`` returns the bytes written so far."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes) -> Writer:
        self._parts.append(data)
        return self

    def u8(self, value: int) -> Writer:
        return self.raw(bytes((value,)))

    def u32(self, value: int) -> Writer:
        return self.raw(_U32.pack(value))

    def u64(self, value: int) -> Writer:
        return self.raw(_U64.pack(value))

    def i64(self, value: int) -> Writer:
        return self.raw(_I64.pack(value))

    def f64(self, value: float) -> Writer:
        return self.raw(_F64.pack(value))

    def bool_(self, value: bool) -> Writer:
        return self.u8(1 if value else 0)

    def string(self, value: str) -> Writer:
        return self.raw(encode_string(value))

    def option_string(self, value: str | None) -> Writer:
        return self.raw(encode_option_string(value))

    def string_map(self, items: Iterable[tuple[str, str]]) -> Writer:
        return self.raw(encode_string_map(items))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)
