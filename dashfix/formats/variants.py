"""File variants that share a checkpoint folder (spec 4.1-4.3, 2.1, 2.4).

Classification is by name, then by the first bytes (``classify``). Gzip is decompressed with
a hard output cap, and the Versioned and legacy JSON payloads are fully decoded.
"""

from __future__ import annotations

import enum
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from dashfix.formats import dchk
from dashfix.formats.bincode import Buffer, DecodeError, Reader, Writer
from dashfix.formats.checkpoint import ID_MAX_LEN, NANOS_PER_SEC

# DashFlow's MAX_DECOMPRESSED_SIZE for the Compressed and Versioned checkpointers.
MAX_DECOMPRESSED_SIZE = 100 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
INDEX_NAME = "index.bin"
LOCK_NAME = ".checkpoint.lock"

_DECOMPRESS_CHUNK = 1 << 20
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TEMP_INDEX = re.compile(rf"\.index(?:\.bin)?\.(?P<uuid>{_UUID})\.tmp", re.DOTALL)
_TEMP_CHECKPOINT = re.compile(rf"\.(?P<id>.+)\.bin\.(?P<uuid>{_UUID})\.tmp", re.DOTALL)


class Variant(enum.Enum):
    DCHK = "dchk"  # {id}.bin with the DCHK header (FileCheckpointer)
    LEGACY_BINCODE = "legacy-bincode"  # {id}.bin without header (old writer / Compressed None)
    GZIP_BIN = "gzip-bin"  # {id}.bin.gz (CompressedFileCheckpointer)
    VERSIONED = "versioned"  # {id}.v.bin (VersionedFileCheckpointer, no compression)
    VERSIONED_GZ = "versioned-gz"  # {id}.v.bin.gz (VersionedFileCheckpointer, default)
    LEGACY_JSON = "legacy-json"  # {id}.json (pre-bincode writer, doc evidence)
    INDEX = "index"  # index.bin
    LOCK = "lock"  # .checkpoint.lock
    TEMP_CHECKPOINT = "temp-checkpoint"  # .{id}.bin.{uuid}.tmp
    TEMP_INDEX = "temp-index"  # .index.{uuid}.tmp / .index.bin.{uuid}.tmp
    BACKUP = "backup"  # *.bak
    UNKNOWN = "unknown"


def parse_temp_name(name: str) -> tuple[str | None, str] | None:
    """(target checkpoint id, uuid) of a temp name; the id is None for index temps."""
    match = _TEMP_INDEX.fullmatch(name)
    if match is not None:
        return None, match["uuid"]
    match = _TEMP_CHECKPOINT.fullmatch(name)
    if match is not None:
        return match["id"], match["uuid"]
    return None


def classify_name(name: str) -> Variant:
    """Variant by name alone. A plain ``*.bin`` is reported as DCHK, the current writer;
    only ``classify`` can tell DCHK from legacy bincode, which needs the first bytes."""
    if name == INDEX_NAME:
        return Variant.INDEX
    if name == LOCK_NAME:
        return Variant.LOCK
    temp = parse_temp_name(name)
    if temp is not None:
        return Variant.TEMP_INDEX if temp[0] is None else Variant.TEMP_CHECKPOINT
    if name.endswith(".bak"):
        return Variant.BACKUP
    if name.endswith(".v.bin.gz"):
        return Variant.VERSIONED_GZ
    if name.endswith(".v.bin"):
        return Variant.VERSIONED
    if name.endswith(".bin.gz"):
        return Variant.GZIP_BIN
    if name.endswith(".bin"):
        return Variant.DCHK
    if name.endswith(".json"):
        return Variant.LEGACY_JSON
    return Variant.UNKNOWN


READ_THROUGH_A_LINK = frozenset({Variant.DCHK, Variant.INDEX, Variant.VERSIONED,
                                 Variant.VERSIONED_GZ, Variant.GZIP_BIN})
"""Names a DashFlow checkpointer reads as a checkpoint or as its index, through a symlink
too (a link to ``/dev/zero`` so named hangs it)."""


def _looks_like_string_start(head: bytes, at: int, max_len: int) -> bool:
    """A u64 length no larger than ``max_len`` at ``at`` (as far as ``head`` reaches)."""
    if len(head) < at + 8:
        return False
    return bool(_U64.unpack_from(head, at)[0] <= max_len)


def _looks_like_versioned(head: bytes) -> bool:
    # u32 schema version (any value), then u64 length of JSON text starting with {, [, " etc.
    if not _looks_like_string_start(head, 4, MAX_DECOMPRESSED_SIZE):
        return False
    if len(head) <= 12:
        return bool(_U64.unpack_from(head, 4)[0] == 0)
    first = head[12:13]
    return first in (b"{", b"[", b'"', b"n", b"t", b"f", b"-") or first.isdigit()


_ZERO_BLOCK = bytes(64 * 1024)


def zero_filled(data: bytes) -> bool:
    """Whether ``data`` is not empty and all zero bytes (a file extended but never written,
    CK100): decided before any parse, by ``memcmp`` against a zero block (``startswith`` at
    an offset copies nothing), one pass over ``data``."""
    size = len(data)
    if not size or data[0] or data[-1]:
        return False
    block = len(_ZERO_BLOCK)
    whole = size - size % block
    return all(data.startswith(_ZERO_BLOCK, at) for at in range(0, whole, block)) and (
        data.startswith(_ZERO_BLOCK[: size - whole], whole))


def classify(name: str, head: bytes) -> Variant:
    """Variant by name and the first bytes (at least 20 give a sure answer), per table 4.3.

    A name that promises a format the bytes do not have is UNKNOWN (a foreign file). A
    ``.bin`` whose magic alone is damaged is UNKNOWN here; ``dchk.has_damaged_magic`` on the
    whole file recognises it.
    """
    by_name = classify_name(name)
    if by_name is Variant.DCHK:
        if dchk.is_wrapped(head):
            return Variant.DCHK
        if _looks_like_string_start(head, 0, ID_MAX_LEN):
            return Variant.LEGACY_BINCODE
        return Variant.UNKNOWN
    if by_name in (Variant.GZIP_BIN, Variant.VERSIONED_GZ):
        return by_name if head.startswith(GZIP_MAGIC) else Variant.UNKNOWN
    if by_name is Variant.VERSIONED:
        return by_name if _looks_like_versioned(head) else Variant.UNKNOWN
    if by_name is Variant.LEGACY_JSON:
        return by_name if head.lstrip().startswith(b"{") else Variant.UNKNOWN
    return by_name


def gunzip_bounded(data: Buffer, max_size: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Decompress one gzip member, never producing more than ``max_size`` bytes.

    The ISIZE trailer is never used to size anything. Truncation, a bad header, a CRC or
    ISIZE mismatch, output above the cap and bytes after the member raise DecodeError; the
    offset is how far into the compressed input the failure was noticed.
    """
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    view = data if isinstance(data, memoryview) else memoryview(data)
    out = bytearray()
    pending: Buffer = view
    while not decompressor.eof:
        room = max_size + 1 - len(out)
        try:
            piece = decompressor.decompress(pending, min(_DECOMPRESS_CHUNK, room))
        except zlib.error as exc:
            consumed = len(view) - len(decompressor.unconsumed_tail)
            raise DecodeError(consumed, f"gzip stream is corrupt: {exc}") from None
        out += piece
        if len(out) > max_size:
            raise DecodeError(
                len(view) - len(decompressor.unconsumed_tail),
                f"decompressed size exceeds the {max_size}-byte limit",
            )
        pending = decompressor.unconsumed_tail
        if not piece and not pending:
            break
    if not decompressor.eof:
        raise DecodeError(len(view), "gzip stream is truncated")
    if decompressor.unused_data:
        trailing = len(decompressor.unused_data)
        raise DecodeError(
            len(view) - trailing, f"{trailing} bytes after the end of the gzip stream"
        )
    return bytes(out)


@dataclass(frozen=True, slots=True)
class VersionedCheckpoint:
    version: int
    data_json: str
    checkpoint_id: str
    thread_id: str
    node: str
    secs: int
    nanos: int
    parent_id: str | None
    metadata: dict[str, str]

    @property
    def data_is_json(self) -> bool:
        try:
            orjson.loads(self.data_json)
        except orjson.JSONDecodeError:
            return False
        return True


def _read_timestamp(reader: Reader) -> tuple[int, int]:
    secs = reader.u64()
    nanos_at = reader.pos
    nanos = reader.u32()
    if nanos >= NANOS_PER_SEC:
        raise DecodeError(nanos_at, f"nanos {nanos} is not below 1000000000")
    return secs, nanos


def _read_string_map(reader: Reader) -> dict[str, str]:
    count = reader.count(min_element_size=16)
    result: dict[str, str] = {}
    for _ in range(count):
        key = reader.string()
        result[key] = reader.string()
    return result


def decode_versioned(payload: Buffer) -> VersionedCheckpoint:
    """Decode a (decompressed) ``VersionedCheckpoint``; trailing bytes are an error."""
    reader = Reader(payload)
    version = reader.u32()
    data_json = reader.string()
    checkpoint_id = reader.string()
    thread_id = reader.string()
    node = reader.string()
    secs, nanos = _read_timestamp(reader)
    parent_id = reader.string() if reader.option_tag() else None
    metadata = _read_string_map(reader)
    reader.expect_end()
    return VersionedCheckpoint(
        version, data_json, checkpoint_id, thread_id, node, secs, nanos, parent_id, metadata
    )


def encode_versioned(checkpoint: VersionedCheckpoint) -> bytes:
    return (
        Writer()
        .u32(checkpoint.version)
        .string(checkpoint.data_json)
        .string(checkpoint.checkpoint_id)
        .string(checkpoint.thread_id)
        .string(checkpoint.node)
        .u64(checkpoint.secs)
        .u32(checkpoint.nanos)
        .option_string(checkpoint.parent_id)
        .string_map(checkpoint.metadata.items())
        .getvalue()
    )


@dataclass(frozen=True, slots=True)
class LegacyJsonCheckpoint:
    checkpoint_id: str
    thread_id: str
    state: object
    node: str
    secs: int
    nanos: int
    parent_id: str | None
    metadata: dict[str, str]


_TIMESTAMP_SPELLINGS = (("secs", "nanos"), ("secs_since_epoch", "nanos_since_epoch"))


def _json_str(obj: Mapping[str, object], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise DecodeError(0, f"legacy JSON field {key!r} is missing or not a string")
    return value


def _json_uint(obj: Mapping[str, object], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DecodeError(0, f"legacy JSON field {key!r} is missing or not an unsigned integer")
    return value


def _json_timestamp(value: object) -> tuple[int, int]:
    if isinstance(value, dict):
        for secs_key, nanos_key in _TIMESTAMP_SPELLINGS:
            if secs_key in value and nanos_key in value:
                secs = _json_uint(value, secs_key)
                nanos = _json_uint(value, nanos_key)
                if nanos >= NANOS_PER_SEC:
                    raise DecodeError(0, f"legacy JSON nanos {nanos} is not below 1000000000")
                return secs, nanos
    raise DecodeError(
        0, "legacy JSON timestamp is neither {secs, nanos} nor {secs_since_epoch, ...}"
    )


def decode_legacy_json(data: Buffer) -> LegacyJsonCheckpoint:
    """A pretty-printed serde_json ``Checkpoint``; both SystemTime spellings are accepted."""
    try:
        obj = orjson.loads(bytes(data))
    except orjson.JSONDecodeError as exc:
        raise DecodeError(exc.pos, f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise DecodeError(0, "legacy JSON checkpoint is not an object")
    parent = obj.get("parent_id")
    if parent is not None and not isinstance(parent, str):
        raise DecodeError(0, "legacy JSON field 'parent_id' is neither null nor a string")
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(value, str) for value in metadata.values()
    ):
        raise DecodeError(0, "legacy JSON field 'metadata' is not a map of strings")
    if "state" not in obj:
        raise DecodeError(0, "legacy JSON checkpoint has no 'state' field")
    secs, nanos = _json_timestamp(obj.get("timestamp"))
    return LegacyJsonCheckpoint(
        _json_str(obj, "id"),
        _json_str(obj, "thread_id"),
        obj["state"],
        _json_str(obj, "node"),
        secs,
        nanos,
        parent,
        dict(metadata),
    )
