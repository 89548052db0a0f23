"""The verify cache (``--cache DIR``): what each file decoded to, keyed by its stat.

Per target (a checkpoint store, a stream log) one file in DIR maps each file name to
``(device, inode, size, mtime_ns)`` (plus the mode, since a chmod decides readability
without touching the mtime), the xxh3 digest of the content and the file's record
(the compact summary the cross-file checks need).  A file whose stat key is unchanged is
not read again; its record comes from the cache.

Trust rules, because a wrong "clean" is worse than a slow run:

- the cache file starts with a magic, the cache format version and an xxh3 checksum of the
  rest; a header names the dashfix version, the input kind, the target and a salt (the
  options the records depend on).  Anything that does not match, does not decode or fails
  the checksum is ignored and rebuilt, never used;
- an entry whose mtime lies within ``RACY_WINDOW_NS`` of the run that recorded it is
  "racy": the file could have changed again within the same timestamp tick without its
  stat changing, so the next run re-reads it and reuses the record only when the content
  digest is the same;
- a file whose stat changed is re-read; if its digest is unchanged (touched, copied with a
  new inode) the record is reused without decoding, otherwise it is decoded again.

The cache lives only where the user put it: it is written with a temp file and a rename in
DIR, never in the scanned folders unless DIR is there.  A folder that cannot be created or
written, or a full disk, turns into a warning; the run itself goes on without the cache.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgpack
import xxhash

from dashfix import __version__

FORMAT_VERSION = 1
MAGIC = b"DFXCACHE"
_PREFIX = struct.Struct("<8sHQ")
"""Magic, format version, xxh3_64 of everything after the prefix."""
SUFFIX = ".dfcache"
RACY_WINDOW_NS = 2_000_000_000
"""Coarsest mtime granularity we allow for (FAT has 2 s)."""

StatKey = tuple[int, int, int, int, int]
Entry = tuple[int, int, int, int, int, int, bool, Any]
"""device, inode, size, mtime_ns, mode, content digest, racy, record."""
_ENTRY_FIELDS = 8
_INT_FIELDS = 6

R = TypeVar("R")


def stat_key(info: os.stat_result) -> StatKey:
    """(device, inode, size, mtime_ns) plus the mode: a chmod does not touch the mtime but
    decides whether DashFlow can read the file."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode)


def read_at(dir_fd: int | str, name: str) -> bytes | None:
    """The whole content of regular file ``name`` in folder ``dir_fd`` (descriptor or path),
    without following a symlink; None when it cannot be read."""
    path = name if isinstance(dir_fd, int) else os.path.join(dir_fd, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=dir_fd if isinstance(dir_fd, int) else None)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def content_digest(data: bytes | memoryview) -> int:
    return xxhash.xxh3_64_intdigest(data)


class CacheError(Exception):
    """The cache file cannot be trusted; the message says why."""


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, tuple)
        and len(entry) == _ENTRY_FIELDS
        and all(type(value) is int for value in entry[:_INT_FIELDS])
        and type(entry[6]) is bool
    )


def encode_cache(header: dict[str, Any], entries: dict[str, Entry]) -> bytes:
    body: bytes = msgpack.packb((header, entries), use_bin_type=True)
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, content_digest(body)) + body


def decode_cache(data: bytes, expected: dict[str, Any]) -> dict[str, Entry]:
    """The entries of a cache file whose header equals ``expected``; CacheError otherwise."""
    if len(data) < _PREFIX.size:
        raise CacheError("truncated")
    magic, version, checksum = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CacheError("not a dashfix cache file")
    if version != FORMAT_VERSION:
        raise CacheError(f"cache format {version}, this dashfix writes {FORMAT_VERSION}")
    body = memoryview(data)[_PREFIX.size:]
    if content_digest(body) != checksum:
        raise CacheError("checksum mismatch (corrupt)")
    try:
        document = msgpack.unpackb(body, use_list=False, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise CacheError(f"does not decode: {exc}") from None
    if not (isinstance(document, tuple) and len(document) == 2):
        raise CacheError("unexpected layout")
    header, entries = document
    if header != expected:
        raise CacheError("written for another dashfix version, target or options")
    if not isinstance(entries, dict) or not all(
        isinstance(name, str) and _valid_entry(entry) for name, entry in entries.items()
    ):
        raise CacheError("malformed entries")
    return entries


@dataclass
class TargetCache:
    """The cache of one target during a run: what was recorded last time, and this run's
    entries (only these are saved, so files that disappeared drop out)."""

    previous: dict[str, Entry]
    started_ns: int
    current: dict[str, Entry] = field(default_factory=dict)
    hits: int = 0
    """Files answered from their stat alone, without reading."""
    reused: int = 0
    """Files read again whose digest matched, so their record was not decoded again."""
    misses: int = 0
    complete: bool = True
    """False once the run skipped files (sample, time limit): keep their old entries."""

    def summary(
        self, name: str, info: os.stat_result, *, read: Callable[[], bytes | None],
        decode: Callable[[], R], to_wire: Callable[[R], Any], from_wire: Callable[[Any], R],
    ) -> R:
        """The record of file ``name`` whose stat is ``info``.

        Unchanged stat (and not racy): the cached record, nothing is read. Otherwise
        ``read()`` gives the content to digest; the same digest reuses the cached record,
        another one calls ``decode()``. The digest is taken before decoding so that a file
        rewritten in between is recorded with the older digest and re-checked next time.
        A file ``read()`` cannot read (None) is decoded and not cached: its problem may be
        a permission that is fixed without changing the stat key.
        """
        key = stat_key(info)
        entry = self.previous.get(name)
        if entry is not None and not entry[6] and entry[:5] == key:
            self.current[name] = entry
            self.hits += 1
            return from_wire(entry[7])
        data = read()
        if data is None:
            self.misses += 1
            return decode()
        digest = content_digest(data)
        if entry is not None and entry[5] == digest:
            self.reused += 1
            wire = entry[7]
            result = from_wire(wire)
        else:
            self.misses += 1
            result = decode()
            wire = to_wire(result)
        racy = key[3] >= self.started_ns - RACY_WINDOW_NS
        self.current[name] = (*key, digest, racy, wire)
        return result

    def entries_to_save(self) -> dict[str, Entry]:
        if self.complete:
            return self.current
        return {**self.previous, **self.current}


@dataclass
class VerifyCache:
    """The cache folder of one run; hands out one TargetCache per target and saves them."""

    folder: Path
    salt: str = ""
    """Whatever else the records depend on (options); a different salt is another cache."""
    warnings: list[str] = field(default_factory=list)
    targets: dict[Path, tuple[dict[str, Any], TargetCache]] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.time_ns)

    def file_for(self, kind: str, target: Path) -> Path:
        name = xxhash.xxh3_128_hexdigest(f"{kind}\0{target}\0{self.salt}".encode(
            "utf-8", "surrogateescape"))
        return self.folder / f"{kind}-{name}{SUFFIX}"

    def target(self, kind: str, target: Path) -> TargetCache:
        target = target.resolve()
        path = self.file_for(kind, target)
        header = {"dashfix": __version__, "kind": kind, "target": os.fsdecode(target),
                  "salt": self.salt}
        previous: dict[str, Entry] = {}
        try:
            previous = decode_cache(path.read_bytes(), header)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.warnings.append(f"cache {path}: cannot read ({exc.strerror or exc}); rebuilding")
        except CacheError as exc:
            self.warnings.append(f"cache {path}: {exc}; rebuilding")
        cache = TargetCache(previous, self.started_ns)
        self.targets[path] = (header, cache)
        return cache

    def save(self) -> None:
        """Write every target's cache; a failure is a warning, never an error."""
        for path, (header, cache) in self.targets.items():
            try:
                _replace(path, encode_cache(header, cache.entries_to_save()))
            except OSError as exc:
                self.warnings.append(_unwritable(path, exc))
                return


def _unwritable(path: Path, exc: OSError) -> str:
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return f"cache {path} not written: {why}; this run was checked without it"


def _replace(path: Path, data: bytes) -> None:
    """Temp file beside the target, then rename: a reader sees the old or the whole new
    cache. Unfinished writes never count, the checksum would reject a torn file anyway."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def open_cache(folder: Path, salt: str = "") -> tuple[VerifyCache | None, str | None]:
    """The cache in ``folder`` (created if needed), or None and the warning why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return None, f"cache folder {folder} cannot be created ({exc.strerror or exc}); " \
                     "checking without the cache"
    if not os.access(folder, os.W_OK | os.X_OK):
        return None, f"cache folder {folder} is not writable; checking without the cache"
    return VerifyCache(folder, salt), None


def clear_cache(folder: Path) -> int:
    """Delete dashfix's cache files (and leftover temps) in ``folder``; the count removed.
    Other files are left alone: DIR may be a folder the user shares with other tools."""
    removed = 0
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        name = entry.name
        ours = name.endswith(SUFFIX) or (name.startswith(".") and SUFFIX + "." in name)
        if ours and entry.is_file() and not entry.is_symlink():
            entry.unlink()
            removed += 1
    return removed
