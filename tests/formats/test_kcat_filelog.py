"""kcat captures and file-backend lines: round trips, damage, and fuzzing."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix.formats import filelog, kcat

values = st.lists(st.one_of(st.none(), st.binary(max_size=300)), max_size=30)


Item = tuple[int, int, bytes | None] | kcat.KcatProblem


def _flat(blocks: Iterable[list[kcat.Record] | kcat.KcatProblem]) -> list[Item]:
    return [record for item in blocks
            for record in (item if isinstance(item, list) else [item])]


def _read(data: bytes, cap: int = 1 << 20) -> list[Item]:
    return _flat(kcat.read_blocks(io.BytesIO(data), len(data), max_value_bytes=cap))


@given(values)
def test_kcat_round_trip(records: list[bytes | None]) -> None:
    data = b"".join(kcat.encode_record(v) for v in records)
    decoded = _read(data)
    assert [item[2] for item in decoded if isinstance(item, tuple)] == records
    offsets = [item[1] for item in decoded if isinstance(item, tuple)]
    expected_offsets = []
    position = 0
    for value in records:
        expected_offsets.append(position)
        position += 4 + (0 if value is None else len(value))
    assert offsets == expected_offsets


def test_kcat_damage_is_located() -> None:
    good = kcat.encode_record(b"abc")
    (problem,) = [p for p in _read(good + struct.pack(">i", 50) + b"xy")
                  if isinstance(p, kcat.KcatProblem)]
    assert (problem.fault, problem.index, problem.offset, problem.remaining) == (
        kcat.KcatFault.TRUNCATED_VALUE, 1, 7, 2)
    (problem,) = [p for p in _read(good + struct.pack(">i", -7)) if isinstance(p, kcat.KcatProblem)]
    assert problem.fault is kcat.KcatFault.NEGATIVE_LENGTH
    (problem,) = [p for p in _read(good + b"\x00\x00") if isinstance(p, kcat.KcatProblem)]
    assert (problem.fault, problem.offset) == (kcat.KcatFault.TRUNCATED_PREFIX, 7)


def test_kcat_oversize_value_is_skipped_unread() -> None:
    data = kcat.encode_record(b"x" * 5000) + kcat.encode_record(b"ok")
    items = _read(data, cap=100)
    assert isinstance(items[0], kcat.KcatProblem) and items[0].fault is kcat.KcatFault.OVERSIZE
    assert items[1] == (1, 5004, b"ok")


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=400), values.map(
    lambda rs: b"".join(kcat.encode_record(v) for v in rs))).flatmap(
    lambda data: st.tuples(st.just(data), st.integers(0, max(len(data) - 1, 0)),
                           st.integers(0, 255))))
def test_kcat_reader_never_raises(case: tuple[bytes, int, int]) -> None:
    data, position, xor = case
    mutated = bytearray(data)
    if mutated:
        mutated[position] ^= xor
    for item in _read(bytes(mutated), cap=200):
        if isinstance(item, tuple):
            assert item[2] is None or len(item[2]) <= 200


@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1),
       st.binary(max_size=500))
def test_filelog_line_round_trip(offset: int, stamp: int, data: bytes) -> None:
    line = filelog.encode_line(offset, stamp, data)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    decoded = filelog.decode_line(line[:-1], value_cap=1000)
    assert decoded == filelog.FileLogEntry(offset, stamp, data)


def test_filelog_problems() -> None:
    def fault(line: bytes) -> filelog.LineFault:
        problem = filelog.decode_line(line, value_cap=10)
        assert isinstance(problem, filelog.LineProblem)
        return problem.fault

    assert fault(b'{"offset":1,"timestamp_us":2,"data":"\xff"}') is filelog.LineFault.NOT_UTF8
    assert fault(b'{"offset":1,') is filelog.LineFault.NOT_JSON
    assert fault(b'[1,2]') is filelog.LineFault.BAD_FIELDS
    assert fault(b'{"offset":true,"timestamp_us":2,"data":""}') is filelog.LineFault.BAD_FIELDS
    assert fault(b'{"offset":1,"timestamp_us":2,"data":"A*=="}') is filelog.LineFault.BAD_BASE64
    assert fault(b'{"offset":1,"timestamp_us":2,"data":"' + b"QUFB" * 5 + b'"}') is (
        filelog.LineFault.OVERSIZE)


@given(st.binary(max_size=300))
def test_filelog_decoder_never_raises(line: bytes) -> None:
    filelog.decode_line(line, value_cap=100)


def _runs(data: bytes, count: int, cap: int) -> list[Item]:
    """Every record of ``data`` read as runs of ``count`` records cut by find_boundary."""
    def read_at(size: int, offset: int) -> bytes:
        return data[offset:offset + size]

    items: list[Item] = []
    start, index = 0, 0
    while True:
        end = kcat.find_boundary(read_at, start, count, len(data))
        items += _flat(kcat.read_blocks(io.BytesIO(data), len(data), max_value_bytes=cap,
                                        start=start, first_index=index, end=end))
        if end is None:
            return items
        start, index = end, index + count


damaged_tail = st.sampled_from([b"", b"\x00\x00", struct.pack(">i", 99) + b"ab",
                                struct.pack(">i", -7) + b"abcd"])


@given(values, damaged_tail, st.integers(1, 5), st.integers(0, 64))
def test_runs_between_boundaries_read_like_the_whole_capture(
        records: list[bytes | None], tail: bytes, count: int, cap: int) -> None:
    data = b"".join(kcat.encode_record(v) for v in records) + tail
    assert _runs(data, count, cap) == _read(data, cap)


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.booleans(), st.integers(0, 30), st.integers(1, 12))
def test_line_boundary_is_the_start_of_the_line_count_lines_on(
        lines: list[bytes], last_newline: bool, start_line: int, count: int) -> None:
    data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    starts = [0]
    for position, byte in enumerate(data):
        if byte == 0x0A:
            starts.append(position + 1)
    starts = [s for s in starts if s < len(data)]
    if start_line >= len(starts):
        return
    with patch.object(filelog, "_WALK_CHUNK", 16):  # lines across several reads
        found = filelog.find_line_boundary(lambda size, offset: data[offset:offset + size],
                                           starts[start_line], count, len(data))
    target = start_line + count
    assert found == (starts[target] if target < len(starts) else None)


def _reference(data: bytes, cap: int) -> list[Item]:
    """The format read the plainest way, one record at a time."""
    items: list[Item] = []
    offset = index = 0
    while offset < len(data):
        left = len(data) - offset - 4
        if left < 0:
            items.append(kcat.KcatProblem(kcat.KcatFault.TRUNCATED_PREFIX, index, offset, None,
                                          left + 4))
            break
        (length,) = struct.unpack_from(">i", data, offset)
        if length == -1:
            items.append((index, offset, None))
            length = 0
        elif length < 0:
            items.append(kcat.KcatProblem(kcat.KcatFault.NEGATIVE_LENGTH, index, offset, length,
                                          left))
            break
        elif length > left:
            items.append(kcat.KcatProblem(kcat.KcatFault.TRUNCATED_VALUE, index, offset, length,
                                          left))
            break
        elif length > cap:
            items.append(kcat.KcatProblem(kcat.KcatFault.OVERSIZE, index, offset, length, left))
        else:
            items.append((index, offset, data[offset + 4:offset + 4 + length]))
        offset += 4 + length
        index += 1
    return items


@given(values, damaged_tail, st.integers(1, 64), st.integers(1, 4), st.integers(0, 300))
def test_blocks_read_like_the_plain_reader_whatever_the_chunk(
        records: list[bytes | None], tail: bytes, chunk: int, block: int, cap: int) -> None:
    data = b"".join(kcat.encode_record(v) for v in records) + tail
    with patch.object(kcat, "_CHUNK", chunk), patch.object(kcat, "BLOCK_RECORDS", block):
        blocks = list(kcat.read_blocks(io.BytesIO(data), len(data), max_value_bytes=cap))
    assert all(len(item) <= block for item in blocks if isinstance(item, list))
    assert _flat(blocks) == _reference(data, cap)
