"""Write DashFlow-format checkpoint stores: healthy ones and ones with each known fault.

Everything is deterministic: timestamps come from a fixed clock, UUIDs from a seeded
generator, gzip streams carry mtime 0. The state written is a bincode ``AgentState``
(the interop corpus's type) unless raw state bytes are given::

    store = StoreBuilder(tmp_path / "checkpoints")
    first = store.checkpoint("alpha")             # alpha_<proc>_chkpt0, parent None
    second = store.checkpoint("alpha")            # chained: parent is `first`
    store.index()                                 # consistent with the files
    store.lock()
    flip_byte(second.path, 40)                    # CRC mismatch
"""

from __future__ import annotations

import enum
import gzip
import os
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from dashfix.formats import dchk
from dashfix.formats.bincode import Writer, encode_string
from dashfix.formats.checkpoint import encode_checkpoint, encode_tail
from dashfix.formats.ids import IdScheme
from dashfix.formats.index import IndexEntry, encode_index
from dashfix.formats.variants import LOCK_NAME, VersionedCheckpoint, encode_versioned

# 2025-10-09T08:53:20Z: inside every plausibility window and far from any boundary.
BASE_SECS = 1_760_000_000
DEFAULT_PROC = "1a2b3c4d5e6f0a1b"
DEFAULT_STATE_SIZE = 256
# u64 message count + u64 message length + u32 step + u64 score count + bool + Option tag.
AGENT_STATE_OVERHEAD = 30
_FILLER = b"The quick brown fox jumps over the lazy dog while the agent plans its next step. "


class Header(enum.Enum):
    DCHK = "dchk"  # current FileCheckpointer: 20-byte integrity header
    LEGACY = "legacy"  # pre-#18 writer, or Compressed with None: bare bincode


class _Auto(enum.Enum):
    AUTO = "auto"


AUTO = _Auto.AUTO


def agent_state(
    step: int = 0,
    messages: Iterable[str] = ("hello",),
    scores: Mapping[str, float] | None = None,
    done: bool = False,
    note: str | None = None,
) -> bytes:
    """bincode of ``AgentState { messages, step: u32, scores: BTreeMap, done, note }``."""
    message_list = list(messages)
    writer = Writer().u64(len(message_list))
    for message in message_list:
        writer.string(message)
    ordered = sorted((scores or {}).items())
    writer.u32(step).u64(len(ordered))
    for key, value in ordered:
        writer.string(key).f64(value)
    return writer.bool_(done).option_string(note).getvalue()


def sized_agent_state(size: int, step: int = 0) -> bytes:
    """An ``AgentState`` of exactly ``size`` bytes: one message of filler text."""
    if size < AGENT_STATE_OVERHEAD:
        raise ValueError(f"an AgentState needs at least {AGENT_STATE_OVERHEAD} bytes")
    length = size - AGENT_STATE_OVERHEAD
    text = (_FILLER * (length // len(_FILLER) + 1))[:length].decode("ascii")
    return agent_state(step=step, messages=(text,))


def deterministic_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True, slots=True)
class WrittenCheckpoint:
    path: Path
    checkpoint_id: str
    thread_id: str
    node: str
    secs: int
    nanos: int
    parent_id: str | None
    metadata: dict[str, str]
    state: bytes
    payload: bytes  # the bincode Checkpoint<S>, without any header


@dataclass
class StoreBuilder:
    """Writes one store folder. Ids, counters, timestamps and parent chains are automatic
    unless given; every ``checkpoint`` call advances the clock by one second."""

    root: Path
    proc: str = DEFAULT_PROC
    base_secs: int = BASE_SECS
    seed: int = 0
    written: list[WrittenCheckpoint] = field(default_factory=list, init=False)
    _counters: dict[tuple[str, str], int] = field(default_factory=dict, init=False)
    _last_id: dict[str, str | None] = field(default_factory=dict, init=False)
    _ticks: int = field(default=0, init=False)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._rng = random.Random(self.seed)

    # ids and clock -------------------------------------------------------------------

    def next_secs(self) -> int:
        secs = self.base_secs + self._ticks
        self._ticks += 1
        return secs

    def make_id(
        self,
        thread_id: str,
        scheme: IdScheme = IdScheme.CURRENT,
        *,
        proc: str | None = None,
        counter: int | None = None,
        secs: int | None = None,
    ) -> str:
        """The next id of ``scheme``; counters run per (thread, proc) like DashFlow's."""
        proc = self.proc if proc is None else proc
        if counter is None:
            key = (thread_id, proc if scheme is IdScheme.CURRENT else "")
            counter = self._counters.get(key, 0)
            self._counters[key] = counter + 1
        if scheme is IdScheme.CURRENT:
            return f"{thread_id}_{proc}_chkpt{counter}"
        if scheme is IdScheme.COUNTER:
            return f"{thread_id}_{counter}"
        if scheme is IdScheme.UUID:
            return deterministic_uuid(self._rng)
        if scheme is IdScheme.UUID_PREFIXED:
            return f"{thread_id}_{deterministic_uuid(self._rng)}"
        if scheme is IdScheme.SECS_UUID:
            stamp = self.base_secs if secs is None else secs
            return f"{thread_id}_{stamp}_{deterministic_uuid(self._rng)}"
        raise ValueError(f"cannot generate ids of scheme {scheme.value}; pass checkpoint_id")

    def restart(self, thread_id: str | None = None) -> None:
        """A new process run: counters restart at 0 and the next parent is None."""
        if thread_id is None:
            self._counters.clear()
            self._last_id.clear()
            return
        for key in [key for key in self._counters if key[0] == thread_id]:
            del self._counters[key]
        self._last_id.pop(thread_id, None)

    def new_run(self, thread_id: str) -> None:
        """A new invoke/resume: the next checkpoint of ``thread_id`` is a root."""
        self._last_id[thread_id] = None

    # checkpoints -------------------------------------------------------------------

    def _identity(
        self,
        thread_id: str,
        *,
        scheme: IdScheme = IdScheme.CURRENT,
        secs: int | None = None,
        parent: str | _Auto | None = AUTO,
        proc: str | None = None,
        counter: int | None = None,
        checkpoint_id: str | None = None,
    ) -> tuple[str, int, str | None]:
        """(id, secs, parent) of the next checkpoint of ``thread_id``; AUTO chains parents."""
        secs = self.next_secs() if secs is None else secs
        if checkpoint_id is None:
            checkpoint_id = self.make_id(thread_id, scheme, proc=proc, counter=counter, secs=secs)
        parent_id = self._last_id.get(thread_id) if parent is AUTO else parent
        self._last_id[thread_id] = checkpoint_id
        return checkpoint_id, secs, parent_id

    def _state_bytes(self, state: bytes | int) -> bytes:
        return sized_agent_state(state, self._ticks) if isinstance(state, int) else state

    def checkpoint(
        self,
        thread_id: str,
        *,
        checkpoint_id: str | None = None,
        node: str = "step",
        secs: int | None = None,
        nanos: int = 0,
        parent: str | _Auto | None = AUTO,
        proc: str | None = None,
        counter: int | None = None,
        state: bytes | int = DEFAULT_STATE_SIZE,
        scheme: IdScheme = IdScheme.CURRENT,
        metadata: Mapping[str, str] | None = None,
        header: Header = Header.DCHK,
        version: int = dchk.SUPPORTED_VERSION,
        name: str | None = None,
    ) -> WrittenCheckpoint:
        """Write ``{id}.bin`` (or ``name``). ``state`` is raw bincode or a size in bytes."""
        checkpoint_id, secs, parent_id = self._identity(
            thread_id,
            scheme=scheme,
            secs=secs,
            parent=parent,
            proc=proc,
            counter=counter,
            checkpoint_id=checkpoint_id,
        )
        state_bytes = self._state_bytes(state)
        payload = encode_checkpoint(
            checkpoint_id, thread_id, state_bytes, node, secs, nanos, parent_id, metadata or {}
        )
        data = dchk.wrap(payload, version) if header is Header.DCHK else payload
        path = self.write_raw(name or f"{checkpoint_id}.bin", data)
        written = WrittenCheckpoint(
            path,
            checkpoint_id,
            thread_id,
            node,
            secs,
            nanos,
            parent_id,
            dict(metadata or {}),
            state_bytes,
            payload,
        )
        self.written = [item for item in self.written if item.path != path] + [written]
        return written

    def chain(
        self,
        thread_id: str,
        count: int,
        *,
        nodes: Iterable[str] = ("plan", "research", "draft", "review", "publish"),
        state: bytes | int = DEFAULT_STATE_SIZE,
        scheme: IdScheme = IdScheme.CURRENT,
        header: Header = Header.DCHK,
        proc: str | None = None,
    ) -> list[WrittenCheckpoint]:
        """``count`` chained checkpoints of one thread, cycling through ``nodes``."""
        node_names = list(nodes)
        return [
            self.checkpoint(
                thread_id,
                node=node_names[number % len(node_names)],
                state=state,
                scheme=scheme,
                header=header,
                proc=proc,
            )
            for number in range(count)
        ]

    def gzip_checkpoint(
        self,
        thread_id: str,
        *,
        node: str = "step",
        state: bytes | int = DEFAULT_STATE_SIZE,
        parent: str | _Auto | None = AUTO,
        secs: int | None = None,
    ) -> WrittenCheckpoint:
        """A CompressedFileCheckpointer ``{id}.bin.gz``: gzip of the bare payload."""
        checkpoint_id, secs, parent_id = self._identity(thread_id, secs=secs, parent=parent)
        state_bytes = self._state_bytes(state)
        payload = encode_checkpoint(checkpoint_id, thread_id, state_bytes, node, secs, 0, parent_id)
        path = self.write_raw(f"{checkpoint_id}.bin.gz", gzip.compress(payload, 6, mtime=0))
        return WrittenCheckpoint(
            path, checkpoint_id, thread_id, node, secs, 0, parent_id, {}, state_bytes, payload
        )

    def versioned_checkpoint(
        self,
        thread_id: str,
        *,
        compress: bool = False,
        data_json: str = '{"messages":["hi"],"step":0}',
        schema_version: int = 2,
        node: str = "n",
        parent: str | _Auto | None = AUTO,
        secs: int | None = None,
    ) -> WrittenCheckpoint:
        """A VersionedFileCheckpointer ``{id}.v.bin`` (or ``.v.bin.gz`` with ``compress``)."""
        checkpoint_id, secs, parent_id = self._identity(thread_id, secs=secs, parent=parent)
        versioned = VersionedCheckpoint(
            schema_version, data_json, checkpoint_id, thread_id, node, secs, 0, parent_id, {}
        )
        payload = encode_versioned(versioned)
        if compress:
            path = self.write_raw(f"{checkpoint_id}.v.bin.gz", gzip.compress(payload, mtime=0))
        else:
            path = self.write_raw(f"{checkpoint_id}.v.bin", payload)
        return WrittenCheckpoint(
            path, checkpoint_id, thread_id, node, secs, 0, parent_id, {}, b"", payload
        )

    def json_checkpoint(
        self,
        thread_id: str,
        *,
        node: str = "step",
        state: object = None,
        parent: str | _Auto | None = AUTO,
        secs: int | None = None,
        serde_default_time: bool = False,
    ) -> Path:
        """A legacy pretty-printed JSON ``{id}.json``; ``serde_default_time`` picks the
        ``secs_since_epoch`` spelling of the timestamp."""
        checkpoint_id, secs, parent_id = self._identity(
            thread_id, scheme=IdScheme.COUNTER, secs=secs, parent=parent
        )
        secs_key, nanos_key = (
            ("secs_since_epoch", "nanos_since_epoch") if serde_default_time else ("secs", "nanos")
        )
        document = {
            "id": checkpoint_id,
            "thread_id": thread_id,
            "state": {"messages": ["hello"], "step": 0} if state is None else state,
            "node": node,
            "timestamp": {secs_key: secs, nanos_key: 0},
            "parent_id": parent_id,
            "metadata": {},
        }
        return self.write_raw(
            f"{checkpoint_id}.json", orjson.dumps(document, option=orjson.OPT_INDENT_2)
        )

    # other store files ------------------------------------------------------------

    def write_raw(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    def latest_entries(self) -> dict[str, IndexEntry]:
        """What DashFlow's index would hold for the ``.bin`` checkpoints written so far:
        per thread the greatest (timestamp, id string)."""
        best: dict[str, WrittenCheckpoint] = {}
        for item in self.written:
            current = best.get(item.thread_id)
            if current is None or (item.secs, item.nanos, item.checkpoint_id) > (
                current.secs,
                current.nanos,
                current.checkpoint_id,
            ):
                best[item.thread_id] = item
        return {
            thread: IndexEntry(item.checkpoint_id, item.secs, item.nanos)
            for thread, item in best.items()
        }

    def index(
        self,
        entries: Mapping[str, IndexEntry]
        | Iterable[tuple[str, IndexEntry]]
        | Literal["auto"]
        | _Auto = AUTO,
    ) -> Path:
        """Write ``index.bin``: consistent with the files (AUTO or "auto"), a map, or a list
        of pairs (which may repeat a thread, as a damaged or foreign index could)."""
        if isinstance(entries, (str, _Auto)):
            return self.write_raw("index.bin", encode_index(self.latest_entries()))
        return self.write_raw("index.bin", index_bytes(entries))

    def lock(self) -> Path:
        """The zero-length ``.checkpoint.lock`` DashFlow creates on its first index save."""
        return self.write_raw(LOCK_NAME, b"")

    def temp_checkpoint(
        self,
        checkpoint: WrittenCheckpoint,
        *,
        complete: bool = True,
        remove_target: bool = False,
        uuid_text: str | None = None,
    ) -> Path:
        """``.{id}.bin.{uuid}.tmp`` holding the checkpoint's DCHK bytes, or the first half of
        them (a crash mid-write) when ``complete`` is False. ``remove_target`` deletes
        ``{id}.bin`` so that the temp is promotable."""
        data = dchk.wrap(checkpoint.payload)
        if not complete:
            data = data[: len(data) // 2]
        name = f".{checkpoint.checkpoint_id}.bin.{uuid_text or deterministic_uuid(self._rng)}.tmp"
        if remove_target:
            checkpoint.path.unlink(missing_ok=True)
            self.written = [item for item in self.written if item.path != checkpoint.path]
        return self.write_raw(name, data)

    def temp_index(
        self,
        entries: Mapping[str, IndexEntry] | None = None,
        *,
        bin_suffix: bool = False,
        uuid_text: str | None = None,
    ) -> Path:
        """``.index.{uuid}.tmp`` (FileCheckpointer) or ``.index.bin.{uuid}.tmp``
        (Compressed/Versioned variants)."""
        infix = ".index.bin." if bin_suffix else ".index."
        name = f"{infix}{uuid_text or deterministic_uuid(self._rng)}.tmp"
        return self.write_raw(
            name, encode_index(self.latest_entries() if entries is None else entries)
        )


def index_bytes(entries: Mapping[str, IndexEntry] | Iterable[tuple[str, IndexEntry]]) -> bytes:
    """``index.bin`` bytes; a list of pairs keeps its order and any duplicate threads."""
    if isinstance(entries, Mapping):
        return encode_index(entries)
    pairs = list(entries)
    return b"".join(
        [Writer().u64(len(pairs)).getvalue()]
        + [
            encode_string(thread)
            + encode_string(entry.checkpoint_id)
            + Writer().u64(entry.secs).u32(entry.nanos).getvalue()
            for thread, entry in pairs
        ]
    )


# damage ---------------------------------------------------------------------------


def _patch(path: Path, offset: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    if offset + len(data) > len(raw):
        raise ValueError(f"{path.name} has {len(raw)} bytes; cannot patch at {offset}")
    raw[offset : offset + len(data)] = data
    path.write_bytes(bytes(raw))


def flip_byte(path: Path, offset: int, mask: int = 0xFF) -> None:
    """XOR one byte (a bit flip when ``mask`` has one bit)."""
    raw = path.read_bytes()
    _patch(path, offset, bytes((raw[offset] ^ mask,)))


def truncate(path: Path, size: int) -> None:
    os.truncate(path, size)


def append_bytes(path: Path, data: bytes) -> None:
    with path.open("ab") as out:
        out.write(data)


def damage_magic(path: Path, magic: bytes = b"DCHX") -> None:
    _patch(path, dchk.MAGIC_OFFSET, magic)


def set_version(path: Path, version: int) -> None:
    _patch(path, dchk.VERSION_OFFSET, version.to_bytes(4, "little"))


def set_declared_length(path: Path, length: int) -> None:
    _patch(path, dchk.LENGTH_OFFSET, length.to_bytes(8, "little"))


def set_mtime(path: Path, secs: int) -> None:
    os.utime(path, (secs, secs))


# benchmark stores -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LargeStore:
    root: Path
    files: int
    threads: int
    payload_bytes: int


def large_store_thread(index: int) -> str:
    return f"thread-{index:05d}"


def build_large_store(
    path: Path,
    files: int = 100_000,
    threads: int = 1_000,
    state_size: int = 2048,
    proc: str = DEFAULT_PROC,
) -> LargeStore:
    """A healthy DCHK store for benchmarks: ``files`` checkpoints spread evenly (round-robin)
    over ``threads`` chained threads, a consistent ``index.bin`` and the lock file.

    Only the id/parent strings and the timestamp differ between files, so each payload is
    assembled from pre-encoded parts and written directly (no per-file encoder objects).
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    state = sized_agent_state(state_size)
    thread_names = [large_store_thread(t) for t in range(threads)]
    encoded_threads = [encode_string(name) for name in thread_names]
    latest: dict[str, IndexEntry] = {}
    previous: list[str | None] = [None] * threads
    total = 0
    for number in range(files):
        t = number % threads
        thread = thread_names[t]
        checkpoint_id = f"{thread}_{proc}_chkpt{number // threads}"
        secs = BASE_SECS + number
        payload = b"".join(
            (
                encode_string(checkpoint_id),
                encoded_threads[t],
                state,
                encode_tail("agent", secs, 0, previous[t], {}),
            )
        )
        data = dchk.encode_header(payload) + payload
        with open(root / f"{checkpoint_id}.bin", "wb") as out:
            out.write(data)
        total += len(payload)
        previous[t] = checkpoint_id
        latest[thread] = IndexEntry(checkpoint_id, secs, 0)
    (root / "index.bin").write_bytes(encode_index(latest))
    (root / LOCK_NAME).write_bytes(b"")
    return LargeStore(root, files, threads, total)
