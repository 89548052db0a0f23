"""Decode the Rust-written interop stores (fixtures/interop/) and check every field.

Expected values come from an independent forward decode that knows the state type
``AgentState`` (written here with ``struct`` only, sharing no code with dashfix.formats), and
from the facts the corpus README states. The tail parse must agree with both.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from dashfix.formats import dchk
from dashfix.formats.bincode import DecodeError
from dashfix.formats.checkpoint import parse_tail, read_head
from dashfix.formats.ids import IdScheme, parse_id
from dashfix.formats.index import decode_index
from dashfix.formats.variants import Variant, VersionedCheckpoint, classify, decode_versioned

INTEROP = Path(__file__).resolve().parents[2] / "fixtures" / "interop"
BINCODE_STORES = (
    "ckpt-healthy",
    "ckpt-crc-flip",
    "ckpt-legacy",
    "ckpt-corrupt-index",
    "ckpt-collision-restart",
)


@dataclass(frozen=True)
class AgentState:
    messages: list[str]
    step: int
    scores: dict[str, float]
    done: bool
    note: str | None


@dataclass(frozen=True)
class FullCheckpoint:
    checkpoint_id: str
    thread_id: str
    state: AgentState
    state_start: int
    state_end: int
    node: str
    secs: int
    nanos: int
    parent_id: str | None
    metadata: dict[str, str]


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int | float:
        value: int | float = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def uint(self, fmt: str) -> int:
        value = self.take(fmt)
        assert isinstance(value, int)
        return value

    def text(self) -> str:
        length = self.uint("<Q")
        assert self.pos + length <= len(self.data)
        value = self.data[self.pos : self.pos + length].decode("utf-8")
        self.pos += length
        return value

    def flag(self) -> bool:
        value = self.uint("<B")
        assert value in (0, 1)
        return value == 1


def decode_full(payload: bytes) -> FullCheckpoint:
    """Forward decode of ``Checkpoint<AgentState>``; it must consume every byte."""
    cursor = _Cursor(payload)
    checkpoint_id = cursor.text()
    thread_id = cursor.text()
    state_start = cursor.pos
    messages = [cursor.text() for _ in range(cursor.uint("<Q"))]
    step = cursor.uint("<I")
    scores: dict[str, float] = {}
    for _ in range(cursor.uint("<Q")):
        key = cursor.text()
        scores[key] = float(cursor.take("<d"))
    done = cursor.flag()
    note = cursor.text() if cursor.flag() else None
    state_end = cursor.pos
    node = cursor.text()
    secs = cursor.uint("<Q")
    nanos = cursor.uint("<I")
    parent_id = cursor.text() if cursor.flag() else None
    metadata: dict[str, str] = {}
    for _ in range(cursor.uint("<Q")):
        key = cursor.text()
        metadata[key] = cursor.text()
    assert cursor.pos == len(payload), "payload has trailing bytes"
    return FullCheckpoint(
        checkpoint_id,
        thread_id,
        AgentState(messages, step, scores, done, note),
        state_start,
        state_end,
        node,
        secs,
        nanos,
        parent_id,
        metadata,
    )


def checkpoint_files(store: str) -> list[Path]:
    return sorted(
        p for p in (INTEROP / store).iterdir() if p.suffix == ".bin" and p.name != "index.bin"
    )


def payload_of(path: Path) -> bytes:
    data = path.read_bytes()
    return data[dchk.HEADER_SIZE :] if dchk.is_wrapped(data) else data


def full_decodes(store: str) -> dict[str, FullCheckpoint]:
    return {path.name: decode_full(payload_of(path)) for path in checkpoint_files(store)}


def test_fixtures_are_present() -> None:
    for store in (*BINCODE_STORES, "ckpt-versioned"):
        assert (INTEROP / store / "index.bin").is_file(), store


@pytest.mark.parametrize("store", BINCODE_STORES)
def test_tail_parse_matches_full_decode(store: str) -> None:
    files = checkpoint_files(store)
    assert files
    for path in files:
        payload = payload_of(path)
        expected = decode_full(payload)
        head = read_head(payload)
        assert (head.checkpoint_id, head.thread_id, head.state_start) == (
            expected.checkpoint_id,
            expected.thread_id,
            expected.state_start,
        )
        for exhaustive in (False, True):
            tail = parse_tail(payload, head, exhaustive=exhaustive).unique
            assert tail is not None, path.name
            assert (tail.node, tail.secs, tail.nanos, tail.parent_id, tail.metadata) == (
                expected.node,
                expected.secs,
                expected.nanos,
                expected.parent_id,
                expected.metadata,
            ), path.name
            assert tail.state_end == expected.state_end, path.name
        assert path.name == f"{expected.checkpoint_id}.bin"


def test_healthy_store_matches_the_corpus_description() -> None:
    decoded = full_decodes("ckpt-healthy")
    by_thread: dict[str, list[FullCheckpoint]] = {}
    for item in decoded.values():
        by_thread.setdefault(item.thread_id, []).append(item)
    assert sorted(by_thread) == ["alpha", "beta_team_7", "gamma"]
    for thread, items in by_thread.items():
        items.sort(key=lambda item: parse_id(item.checkpoint_id).counter or 0)
        assert [parse_id(item.checkpoint_id).counter for item in items] == [0, 1, 2, 3, 4]
        assert all(parse_id(i.checkpoint_id).scheme is IdScheme.CURRENT for i in items)
        assert all(parse_id(i.checkpoint_id).thread_id == thread for i in items)
        assert [item.parent_id for item in items] == [None] + [
            item.checkpoint_id for item in items[:-1]
        ]
        times = [(item.secs, item.nanos) for item in items]
        assert times == sorted(times) and len(set(times)) == 5
        assert all(item.metadata == {} for item in items)
    for path in checkpoint_files("ckpt-healthy"):
        assert classify(path.name, path.read_bytes()[:64]) is Variant.DCHK
        assert dchk.verify(path.read_bytes()) is None


@pytest.mark.parametrize(
    "store", ["ckpt-healthy", "ckpt-crc-flip", "ckpt-legacy", "ckpt-collision-restart"]
)
def test_index_points_at_each_threads_latest_checkpoint(store: str) -> None:
    decoded = full_decodes(store)
    latest: dict[str, FullCheckpoint] = {}
    for item in decoded.values():
        best = latest.get(item.thread_id)
        if best is None or (item.secs, item.nanos, item.checkpoint_id) > (
            best.secs,
            best.nanos,
            best.checkpoint_id,
        ):
            latest[item.thread_id] = item
    index = decode_index((INTEROP / store / "index.bin").read_bytes())
    assert {thread: (e.checkpoint_id, e.secs, e.nanos) for thread, e in index.items()} == {
        thread: (item.checkpoint_id, item.secs, item.nanos) for thread, item in latest.items()
    }


def test_crc_flip_only_chkpt2_fails_its_checksum() -> None:
    failures = {}
    for path in checkpoint_files("ckpt-crc-flip"):
        error = dchk.verify(path.read_bytes())
        if error is not None:
            failures[path.name] = error.kind
    assert failures == {
        "alpha_1a2b3c4d5e6f0a1b_chkpt2.bin": dchk.IntegrityErrorKind.CHECKSUM_MISMATCH
    }


def test_legacy_files_have_no_header_and_counter_ids() -> None:
    for path in checkpoint_files("ckpt-legacy"):
        data = path.read_bytes()
        assert classify(path.name, data[:64]) is Variant.LEGACY_BINCODE
        parsed = parse_id(decode_full(data).checkpoint_id)
        assert (parsed.scheme, parsed.thread_id) == (IdScheme.COUNTER, "legacy_thread")


def test_corrupt_index_is_rejected_and_latest_is_chkpt2() -> None:
    data = (INTEROP / "ckpt-corrupt-index" / "index.bin").read_bytes()
    with pytest.raises(DecodeError) as caught:
        decode_index(data)
    assert caught.value.offset <= len(data)
    latest: dict[str, FullCheckpoint] = {}
    for item in full_decodes("ckpt-corrupt-index").values():
        if item.thread_id not in latest or item.secs > latest[item.thread_id].secs:
            latest[item.thread_id] = item
    assert {t: parse_id(i.checkpoint_id).counter for t, i in latest.items()} == {
        "alpha": 2,
        "beta": 2,
    }


def test_collision_restart_parent_is_newer_than_child() -> None:
    decoded = full_decodes("ckpt-collision-restart")
    child = decoded["demo_1_3.bin"]
    parent = decoded["demo_1_2.bin"]
    assert child.parent_id == "demo_1_2"
    assert parent.secs - child.secs >= 3000  # about an hour
    assert parse_id(child.checkpoint_id) == parse_id("demo_1_3")
    assert parse_id("demo_1_3").scheme is IdScheme.COUNTER


def test_versioned_files_decode_fully() -> None:
    paths = sorted((INTEROP / "ckpt-versioned").glob("*.v.bin"))
    assert len(paths) == 3
    decoded: list[VersionedCheckpoint] = []
    for path in paths:
        data = path.read_bytes()
        assert classify(path.name, data[:64]) is Variant.VERSIONED
        checkpoint = decode_versioned(data)
        assert path.name == f"{checkpoint.checkpoint_id}.v.bin"
        assert checkpoint.version == 2
        assert checkpoint.thread_id == "vthread"
        assert checkpoint.data_is_json
        assert orjson.loads(checkpoint.data_json)["step"] == len(decoded)
        decoded.append(checkpoint)
    assert [c.parent_id for c in decoded] == [None] + [c.checkpoint_id for c in decoded[:-1]]
    index = decode_index((INTEROP / "ckpt-versioned" / "index.bin").read_bytes())
    last = decoded[-1]
    assert {t: (e.checkpoint_id, e.secs, e.nanos) for t, e in index.items()} == {
        "vthread": (last.checkpoint_id, last.secs, last.nanos)
    }


def _listed_hashes(readme: Path, line: str) -> dict[str, str]:
    """Path (relative to the README's folder) -> sha256, of each line of ``readme`` that
    ``line`` matches (named groups ``path`` and ``hash``)."""
    return {match["path"]: match["hash"]
            for match in re.finditer(line, readme.read_text(), re.M)}


def _actual_hashes(folder: Path, files: list[Path]) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in files}


def test_the_readme_hash_lists_match_the_files() -> None:
    """Each README lists every file of its folders, each with the hash it has: a file
    listed that is not there, or one there and not listed, fails."""
    listed = _listed_hashes(INTEROP / "README.md",
                            r"^(?P<hash>[0-9a-f]{64})  \./(?P<path>\S+)$")
    stores = sorted(path for path in INTEROP.glob("ckpt-*/*") if path.is_file())
    assert listed == _actual_hashes(INTEROP, stores)
    streams = INTEROP / "streams"
    listed = _listed_hashes(streams / "README.md",
                            r"^\| (?P<path>\S+) \| (?P<hash>[0-9a-f]{64}) \|$")
    captures = sorted(path for path in streams.iterdir() if path.name != "README.md")
    assert listed == _actual_hashes(streams, captures)
