"""The core of ``dashfix inspect``: everything dashfix can read out of one checkpoint file,
and a thread's history as a tree of parent links. Read-only; nothing here prints."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashfix.checks.checkpoint_problems import problem_code
from dashfix.errors import InputError
from dashfix.formats import dchk
from dashfix.formats.bincode import Buffer, DecodeError
from dashfix.formats.checkpoint import CheckpointTail, parse_tail, read_head
from dashfix.formats.ids import id_matches_thread, parse_id
from dashfix.formats.index import IndexEntry
from dashfix.formats.variants import (
    INDEX_NAME,
    MAX_DECOMPRESSED_SIZE,
    Variant,
    classify,
    decode_versioned,
    gunzip_bounded,
    parse_temp_name,
    zero_filled,
)
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_record import FileRecord
from dashfix.inputs.latest import latest_per_thread
from dashfix.repair.index_rebuild import read_old_index
from dashfix.timefmt import format_utc

MAX_INSPECT_BYTES = MAX_DECOMPRESSED_SIZE + dchk.HEADER_SIZE
"""Larger files cannot be loaded by DashFlow either (state limit and gzip cap)."""


@dataclass
class HeaderView:
    magic: bytes
    version: int
    crc_stored: int
    crc_computed: int
    length_declared: int
    length_actual: int
    integrity_error: str | None
    integrity_kind: str | None
    damaged_magic: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "magic": self.magic.decode("latin-1") if self.magic.isascii() else self.magic.hex(),
            "magic_hex": self.magic.hex(),
            "version": self.version,
            "crc_stored": f"0x{self.crc_stored:08X}",
            "crc_computed": f"0x{self.crc_computed:08X}",
            "length_declared": self.length_declared,
            "length_actual": self.length_actual,
            "integrity": self.integrity_kind or "ok",
            "integrity_error": self.integrity_error,
            "damaged_magic": self.damaged_magic,
        }


@dataclass
class FileInspection:
    path: str
    size: int
    variant: str
    header: HeaderView | None = None
    payload_offset: int = 0
    """Where the bincode payload starts in the file (20 after a DCHK header, else 0)."""
    checkpoint_id: str | None = None
    thread_id: str | None = None
    id_scheme: str | None = None
    name_matches_id: bool | None = None
    id_matches_thread: bool | None = None
    node: str | None = None
    secs: int | None = None
    nanos: int | None = None
    parent_id: str | None = None
    metadata: dict[str, str] | None = None
    state_range: tuple[int, int] | None = None
    """[start, end) of the opaque state, relative to the payload."""
    tail: str = "not parsed"
    """unique, ambiguous, none or not parsed."""
    tail_candidates: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        state = None
        if self.state_range is not None:
            start, end = self.state_range
            state = {
                "payload_start": start,
                "payload_end": end,
                "file_start": start + self.payload_offset,
                "file_end": end + self.payload_offset,
                "length": end - start,
            }
        timestamp = None
        if self.secs is not None and self.nanos is not None:
            timestamp = {"secs": self.secs, "nanos": self.nanos,
                         "utc": format_utc(self.secs, self.nanos)}
        return {
            "path": self.path,
            "size": self.size,
            "variant": self.variant,
            "header": None if self.header is None else self.header.to_dict(),
            "payload_offset": self.payload_offset,
            "checkpoint_id": self.checkpoint_id,
            "thread_id": self.thread_id,
            "id_scheme": self.id_scheme,
            "name_matches_id": self.name_matches_id,
            "id_matches_thread": self.id_matches_thread,
            "node": self.node,
            "timestamp": timestamp,
            "parent_id": self.parent_id,
            "metadata": self.metadata,
            "state": state,
            "tail_parse": self.tail,
            "tail_candidates": self.tail_candidates,
            "extra": self.extra,
            "problems": self.problems,
        }


def read_regular_file(path: Path, limit: int = MAX_INSPECT_BYTES) -> bytes:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"{path} is a symlink; inspect the file it points to instead")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file")
    if info.st_size > limit:
        raise InputError(f"{path} is {info.st_size} bytes, above the {limit}-byte limit")
    try:
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _header_view(data: bytes) -> HeaderView | None:
    header = dchk.parse_header(data)
    if header is None:
        return None
    error = dchk.verify(data)
    return HeaderView(
        magic=header.magic,
        version=header.version,
        crc_stored=header.crc,
        crc_computed=dchk.crc32(memoryview(data)[dchk.HEADER_SIZE:]),
        length_declared=header.length,
        length_actual=len(data) - dchk.HEADER_SIZE,
        integrity_error=None if error is None else error.message,
        integrity_kind=None if error is None else error.kind.value,
        damaged_magic=dchk.has_damaged_magic(data),
    )


def _tail_dict(tail: CheckpointTail) -> dict[str, Any]:
    return {
        "state_end": tail.state_end, "node": tail.node, "secs": tail.secs, "nanos": tail.nanos,
        "parent_id": tail.parent_id, "metadata": tail.metadata,
    }


def _expected_stem(name: str, variant: Variant) -> str | None:
    """The checkpoint id a file of this name and variant should hold."""
    if variant is Variant.TEMP_CHECKPOINT:
        temp = parse_temp_name(name)
        return None if temp is None else temp[0]
    for suffix in (".v.bin.gz", ".v.bin", ".bin.gz", ".bin"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _read_checkpoint_payload(found: FileInspection, payload: Buffer) -> None:
    try:
        head = read_head(payload)
    except DecodeError as exc:
        found.problems.append(f"id/thread_id do not decode (payload {exc})")
        return
    found.checkpoint_id, found.thread_id = head.checkpoint_id, head.thread_id
    tail = parse_tail(payload, head)
    found.tail_candidates = [_tail_dict(candidate) for candidate in tail.candidates]
    chosen = tail.unique
    if chosen is not None:
        found.tail = "unique"
        found.node, found.secs, found.nanos = chosen.node, chosen.secs, chosen.nanos
        found.parent_id, found.metadata = chosen.parent_id, chosen.metadata
        found.state_range = (head.state_start, chosen.state_end)
    elif tail.ambiguous:
        found.tail = "ambiguous"
        found.problems.append(
            f"tail parse is ambiguous: {len(tail.candidates)} readings of node/timestamp/"
            "parent/metadata fit; node, timestamp and parent are not shown as facts"
        )
    else:
        found.tail = "none"
        found.problems.append(
            "no reading of node/timestamp/parent/metadata ends exactly at the payload end "
            "(truncated, trailing garbage, or an unknown layout)"
        )


def _read_versioned(found: FileInspection, payload: Buffer) -> None:
    try:
        versioned = decode_versioned(payload)
    except DecodeError as exc:
        found.problems.append(f"Versioned payload does not decode ({exc})")
        return
    found.checkpoint_id, found.thread_id = versioned.checkpoint_id, versioned.thread_id
    found.node, found.secs, found.nanos = versioned.node, versioned.secs, versioned.nanos
    found.parent_id, found.metadata = versioned.parent_id, versioned.metadata
    found.tail = "unique"
    found.extra = {"schema_version": versioned.version, "state_json_bytes":
                   len(versioned.data_json.encode()), "state_is_json": versioned.data_is_json}


def inspect_file(path: Path, display: str | None = None) -> FileInspection:
    data = read_regular_file(path)
    name = path.name
    variant = classify(name, data[:64])
    if variant is Variant.UNKNOWN and dchk.has_damaged_magic(data):
        variant = Variant.DCHK
    found = FileInspection(path=display or str(path), size=len(data), variant=variant.value)
    payload: Buffer | None = None
    if variant is not Variant.LEGACY_JSON and zero_filled(data):
        found.problems.append(f"all {len(data)} bytes are zero: a crash leftover (CK100), "
                              "nothing to decode; `dashfix repair --apply` quarantines it")
        return found
    if variant in (Variant.DCHK, Variant.TEMP_CHECKPOINT) and len(data) >= 4 and (
        dchk.is_wrapped(data) or dchk.has_damaged_magic(data)
    ):
        found.header = _header_view(data)
        found.payload_offset = dchk.HEADER_SIZE
        if found.header is None:
            found.problems.append(
                f"Checkpoint file too small: {len(data)} bytes (minimum {dchk.HEADER_SIZE} bytes)"
            )
        else:
            if found.header.damaged_magic:
                found.problems.append(
                    "only the magic is damaged: DashFlow reads this as a legacy file and fails; "
                    "`dashfix repair --apply` rewrites the magic"
                )
            elif found.header.integrity_error:
                found.problems.append(found.header.integrity_error)
            payload = memoryview(data)[dchk.HEADER_SIZE:]
    elif variant in (Variant.LEGACY_BINCODE, Variant.TEMP_CHECKPOINT):
        found.problems.append("no DCHK header: a legacy file, unverifiable (no CRC)")
        payload = data
    elif variant in (Variant.GZIP_BIN, Variant.VERSIONED_GZ):
        try:
            payload = gunzip_bounded(data)
        except DecodeError as exc:
            found.problems.append(f"gzip: {exc}")
    elif variant is Variant.VERSIONED:
        payload = data
    else:
        raise InputError(
            f"{path} is not a checkpoint file (looks like: {variant.value}); "
            "`dashfix verify` reports what it is"
        )
    if payload is not None:
        if variant in (Variant.VERSIONED, Variant.VERSIONED_GZ):
            _read_versioned(found, payload)
        else:
            _read_checkpoint_payload(found, payload)
    if found.checkpoint_id is not None:
        found.id_scheme = parse_id(found.checkpoint_id).scheme.value
        found.name_matches_id = _expected_stem(name, variant) == found.checkpoint_id
        if not found.name_matches_id:
            found.problems.append(
                f"file name {name!r} does not match the embedded id {found.checkpoint_id!r}"
            )
    if found.checkpoint_id is not None and found.thread_id is not None:
        found.id_matches_thread = id_matches_thread(found.checkpoint_id, found.thread_id)
    return found


@dataclass
class HistoryEntry:
    checkpoint_id: str
    name: str
    node: str | None
    secs: int | None
    nanos: int | None
    parent_id: str | None
    problem: str | None
    mtime_ns: int
    children: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkpoint_id": self.checkpoint_id, "name": self.name, "node": self.node,
            "secs": self.secs, "nanos": self.nanos, "parent_id": self.parent_id,
            "problem": self.problem, "children": self.children,
        }


@dataclass
class ThreadHistory:
    store: Path
    thread_id: str
    entries: dict[str, HistoryEntry]
    roots: list[str]
    """Checkpoints without a parent in this thread (one per run or resume), oldest first;
    a parent that is missing or in a parent cycle makes its child a root too."""
    index_entry: IndexEntry | None
    index_problem: str | None
    latest: str | None
    """Latest by DashFlow's rule (embedded timestamp, then id string) among readable files."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": str(self.store),
            "thread_id": self.thread_id,
            "index_entry": None if self.index_entry is None else {
                "checkpoint_id": self.index_entry.checkpoint_id,
                "secs": self.index_entry.secs, "nanos": self.index_entry.nanos},
            "index_problem": self.index_problem,
            "latest_by_dashflow_rule": self.latest,
            "roots": self.roots,
            "checkpoints": [entry.to_dict() for entry in self.entries.values()],
        }


def _history_entry(record: FileRecord) -> HistoryEntry:
    assert record.checkpoint_id is not None
    timestamp = record.timestamp
    problem = None if record.problem is None else problem_code(record.problem)
    if problem is None and timestamp is None:
        problem = "tail parse ambiguous" if record.tail_ambiguous else "tail parse failed"
    return HistoryEntry(
        record.checkpoint_id, record.name, record.node,
        None if timestamp is None else timestamp[0], None if timestamp is None else timestamp[1],
        record.parent_id, problem, record.mtime_ns,
    )


def _sort_key(entry: HistoryEntry) -> tuple[int, int, str]:
    return (entry.secs or 0, entry.nanos or 0, entry.checkpoint_id)


def thread_history(store: Path, thread_id: str) -> ThreadHistory:
    """Every checkpoint file of ``thread_id`` (its embedded thread, not its file name), from
    the same scan ``dashfix verify`` makes. Files too damaged to show their thread are not
    part of any history; ``dashfix verify`` lists them."""
    scan = scan_store(store, read_index=False)
    records = [r for r in scan.records
               if r.thread_id == thread_id and r.checkpoint_id is not None]
    entries: dict[str, HistoryEntry] = {}
    for record in sorted(records, key=lambda r: r.name):
        entry = _history_entry(record)
        # Two files with one embedded id: keep both, the second under its file name.
        entries[entry.checkpoint_id if entry.checkpoint_id not in entries else entry.name] = entry
    for key in sorted(entries, key=lambda k: _sort_key(entries[k])):
        parent = entries[key].parent_id
        if parent is not None and parent in entries and parent != key:
            entries[parent].children.append(key)
    latest = latest_per_thread(records).get(thread_id)
    old = read_old_index(store / INDEX_NAME, thread_id.__eq__)
    return ThreadHistory(
        store, thread_id, entries, _roots(entries), old.entries.get(thread_id), old.problem,
        None if latest is None else latest.checkpoint_id,
    )


def _reach(start: str, entries: dict[str, HistoryEntry], reached: set[str]) -> None:
    stack = [start]
    while stack:
        key = stack.pop()
        if key not in reached:
            reached.add(key)
            stack.extend(entries[key].children)


def _roots(entries: dict[str, HistoryEntry]) -> list[str]:
    """Parentless checkpoints first, then one member of each parent cycle left unreached."""
    ordered = sorted(entries, key=lambda k: _sort_key(entries[k]))
    roots = [k for k in ordered
             if entries[k].parent_id is None or entries[k].parent_id not in entries
             or entries[k].parent_id == k]
    reached: set[str] = set()
    for key in roots:
        _reach(key, entries, reached)
    for key in ordered:
        if key not in reached:
            roots.append(key)
            _reach(key, entries, reached)
    return roots
