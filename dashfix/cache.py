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
  digest is the same (this is what the stored digest is for);
- a file whose stat changed is read and decoded again (its record may hold the mtime).

The cache lives only where the user put it: it is written with a temp file and a rename in
DIR, never in the scanned folders unless DIR is there.  A folder that cannot be created or
written, or a full disk, turns into a warning; the run itself goes on without the cache.
"""

from __future__ import annotations

import array
import errno
import functools
import itertools
import operator
import os
import stat
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgpack
import xxhash

from dashfix import __version__
from dashfix.cpus import usable_cpus
from dashfix.findings import Finding, Severity
from dashfix.interrupts import fork_worker
from dashfix.sampling import Selection

if TYPE_CHECKING:
    from dashfix.context import CheckContext

FORMAT_VERSION = 1
MAGIC = b"DFXCACHE"
_PREFIX = struct.Struct("<8sHQ")
"""Magic, format version, xxh3_64 of everything after the prefix."""
SUFFIX = ".dfcache"
MEMO_SUFFIX = "-result"
RACY_WINDOW_NS = 2_000_000_000
"""Coarsest mtime granularity we allow for (FAT has 2 s)."""

StatKey = tuple[int, int, int, int, int]
Entry = tuple[int, int, int, int, int, int, bool, Any]
"""device, inode, size, mtime_ns, mode, content digest, racy, record."""
_ENTRY_FIELDS = 8
_INT_FIELDS = 6

R = TypeVar("R")


_STAT_KEY_FIELDS = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_mode")
_stat_key_of = operator.attrgetter(*_STAT_KEY_FIELDS)
_MTIME_FIELD = _STAT_KEY_FIELDS.index("st_mtime_ns")


def stat_key(info: os.stat_result) -> StatKey:
    """(device, inode, size, mtime_ns) plus the mode: a chmod does not touch the mtime but
    decides whether DashFlow can read the file."""
    key: StatKey = _stat_key_of(info)
    return key


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


def encode_cache(header: dict[str, Any], document: Any) -> bytes:
    body: bytes = msgpack.packb((header, document), use_bin_type=True)
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, content_digest(body)) + body


def decode_cache(data: bytes, expected: dict[str, Any]) -> Any:
    """The document of a cache file whose header equals ``expected``; CacheError otherwise."""
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
    header, content = document
    if header != expected:
        raise CacheError("written for another dashfix version, target or options")
    return content


def decode_entries(content: Any) -> dict[str, Entry]:
    """A target cache's entries, checked for shape; CacheError otherwise."""
    if not isinstance(content, dict) or not all(
        isinstance(name, str) and _valid_entry(entry) for name, entry in content.items()
    ):
        raise CacheError("malformed entries")
    return content


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
    """Racy files read again whose digest matched, so their record was not decoded again."""
    misses: int = 0
    complete: bool = True
    """False once the run skipped files (sample, time limit): keep their old entries."""

    def lookup(self, name: str, info: os.stat_result) -> Any | None:
        """The cached record (wire form) of ``name`` if its stat key is unchanged and the
        entry is not racy; nothing needs to be read then."""
        entry = self.previous.get(name)
        if entry is None or entry[6] or entry[:5] != stat_key(info):
            return None
        self.current[name] = entry
        self.hits += 1
        return entry[7]

    def reuse(self, name: str, info: os.stat_result, digest: int) -> Any | None:
        """The cached record of a racy entry whose stat key and content digest both match."""
        entry = self.previous.get(name)
        if entry is None or entry[:5] != stat_key(info) or entry[5] != digest:
            return None
        self.remember(name, info, digest, entry[7])
        self.reused += 1
        return entry[7]

    def remember(self, name: str, info: os.stat_result, digest: int, wire: Any) -> None:
        """Record what file ``name`` (stat ``info``, content digest taken BEFORE decoding)
        decoded to: a file rewritten meanwhile then carries the older digest and is decoded
        again next time instead of answering with a stale record."""
        key = stat_key(info)
        racy = key[3] >= self.started_ns - RACY_WINDOW_NS
        self.current[name] = (*key, digest, racy, wire)

    def summary(
        self, name: str, info: os.stat_result, *, read: Callable[[], bytes | None],
        decode: Callable[[], R], to_wire: Callable[[R], Any], from_wire: Callable[[Any], R],
    ) -> R:
        """The record of one file: ``lookup``, else ``read()`` for the digest and
        ``reuse``, else ``decode()``. Records may hold stat-derived fields (the mtime), so a
        changed stat is always decoded again. A file ``read()`` cannot read (None) is
        decoded but not cached: its problem may be a permission fixed later."""
        wire = self.lookup(name, info)
        if wire is not None:
            return from_wire(wire)
        data = read()
        if data is None:
            self.misses += 1
            return decode()
        digest = content_digest(data)
        wire = self.reuse(name, info, digest)
        if wire is not None:
            return from_wire(wire)
        self.misses += 1
        result = decode()
        self.remember(name, info, digest, to_wire(result))
        return result

    def entries_to_save(self) -> dict[str, Entry]:
        if self.complete:
            return self.current
        return {**self.previous, **self.current}


@dataclass
class TargetMemo:
    """A target's whole result (findings and counts), valid while its fingerprint (every
    entry's name and stat key) is unchanged: then even the cross-file checks would see the
    very same records, so their findings are replayed instead of recomputed."""

    previous: tuple[int, Any] | None
    current: tuple[int, Any] | None = None

    def get(self, fingerprint: int) -> Any | None:
        if self.previous is None or self.previous[0] != fingerprint:
            return None
        self.current = self.previous
        return self.previous[1]

    def put(self, fingerprint: int, value: Any) -> None:
        self.current = (fingerprint, value)


FINGERPRINT_FORK_MIN = 20_000
"""From this many entries on, a forked child stats half of a folder: the stat calls are
most of a cached re-run (~3 us each here, mostly in the kernel), and fork costs ~5 ms."""


def _packed_stat_keys(dir_fd: int, names: list[str]) -> array.array[int]:
    """The stat keys of ``names`` in folder ``dir_fd`` (symlinks not followed), packed as
    one flat array of 64-bit integers in the order of ``names``."""
    stat_of = functools.partial(os.stat, dir_fd=dir_fd, follow_symlinks=False)
    return array.array("q", itertools.chain.from_iterable(map(_stat_key_of, map(stat_of, names))))


def _stat_keys(dir_fd: int, names: list[str]) -> array.array[int]:
    """``_packed_stat_keys``, the second half in a forked child when the folder is large
    and there is a second CPU; the child sends its packed keys back through a pipe."""
    if len(names) < FINGERPRINT_FORK_MIN or usable_cpus() < 2:
        return _packed_stat_keys(dir_fd, names)
    half = len(names) // 2
    reader, writer = os.pipe()
    child = fork_worker()  # it ignores Ctrl-C: this process reaps it below
    if child == 0:  # pragma: no cover (the child leaves through os._exit)
        status = 1
        try:
            os.close(reader)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(_packed_stat_keys(dir_fd, names[half:]).tobytes())
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    try:
        # Closing the pipe first on an error lets a child blocked on a full pipe end.
        with os.fdopen(reader, "rb") as pipe:
            keys = _packed_stat_keys(dir_fd, names[:half])
            theirs = pipe.read()
    finally:
        _, wait_status = os.waitpid(child, 0)
    expected = (len(names) - half) * len(_STAT_KEY_FIELDS) * keys.itemsize
    if os.waitstatus_to_exitcode(wait_status) != 0 or len(theirs) != expected:
        raise OSError(errno.EIO, "an entry could not be stat-ed (changed while listed?)")
    keys.frombytes(theirs)
    return keys


def folder_fingerprint(folder: Path, context: str) -> tuple[int, int]:
    """A digest of ``context`` and the (name, stat key) of every entry directly in
    ``folder``, symlinks not followed: any file added, removed, renamed, rewritten or
    chmod-ed changes it. Also the newest mtime_ns seen, to tell a racy folder.

    The names and the packed stat integers are hashed once each, in listing order: a
    listing in another order gives another digest, so it can only cost a cache miss.
    """
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        names = os.listdir(dir_fd)
        keys = _stat_keys(dir_fd, names)
    finally:
        os.close(dir_fd)
    newest = max(keys[_MTIME_FIELD :: len(_STAT_KEY_FIELDS)], default=0)
    return _fingerprint_digest(context, names, keys), newest


def _fingerprint_digest(context: str, names: list[str], keys: array.array[int]) -> int:
    """xxh3 of ``context``, ``names`` and their packed stat keys, laid out so that two
    different inputs never give the same bytes: the lengths come first, and a file name
    holds no NUL, so the NUL-joined names split one way only."""
    encoded = context.encode("utf-8", "surrogateescape")
    digest = xxhash.xxh3_64(b"%d\0%d\0" % (len(encoded), len(names)))
    digest.update(encoded)
    digest.update("\0".join(names).encode("utf-8", "surrogateescape"))
    digest.update(keys)
    return digest.intdigest()


@dataclass
class VerifyCache:
    """The cache folder of one run: one TargetCache (per-file records) and one TargetMemo
    (whole result) per target, each in its own file, written back by ``save``."""

    folder: Path
    salt: str = ""
    """Whatever else the records depend on (options); a different salt is another cache."""
    warnings: list[str] = field(default_factory=list)
    targets: dict[Path, tuple[dict[str, Any], TargetCache]] = field(default_factory=dict)
    memos: dict[Path, tuple[dict[str, Any], TargetMemo]] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.time_ns)

    def file_for(self, kind: str, target: Path) -> Path:
        name = xxhash.xxh3_128_hexdigest(f"{kind}\0{target}\0{self.salt}".encode(
            "utf-8", "surrogateescape"))
        return self.folder / f"{kind}-{name}{SUFFIX}"

    def _load(self, kind: str, target: Path) -> tuple[Path, dict[str, Any], Any]:
        """The cache file of ``kind`` for ``target``, its header, and its content (None when
        missing or not to be trusted, with a warning for the latter)."""
        target = target.resolve()
        path = self.file_for(kind, target)
        header = {"dashfix": __version__, "kind": kind, "target": os.fsdecode(target),
                  "salt": self.salt}
        try:
            return path, header, decode_cache(path.read_bytes(), header)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.warnings.append(f"cache {path}: cannot read ({exc.strerror or exc}); rebuilding")
        except CacheError as exc:
            self.warnings.append(f"cache {path}: {exc}; rebuilding")
        return path, header, None

    def target(self, kind: str, target: Path) -> TargetCache:
        path, header, content = self._load(kind, target)
        previous: dict[str, Entry] = {}
        if content is not None:
            try:
                previous = decode_entries(content)
            except CacheError as exc:
                self.warnings.append(f"cache {path}: {exc}; rebuilding")
        cache = TargetCache(previous, self.started_ns)
        self.targets[path] = (header, cache)
        return cache

    def memo(self, kind: str, target: Path) -> TargetMemo:
        path, header, content = self._load(kind + MEMO_SUFFIX, target)
        valid = isinstance(content, tuple) and len(content) == 2 and type(content[0]) is int
        if content is not None and not valid:
            self.warnings.append(f"cache {path}: malformed result; rebuilding")
        memo = TargetMemo(content if valid else None)
        self.memos[path] = (header, memo)
        return memo

    def save(self) -> None:
        """Write what changed; a failure is a warning (the run stands without the cache)."""
        pending: list[tuple[Path, dict[str, Any], Any]] = [
            (path, header, cache.entries_to_save())
            for path, (header, cache) in self.targets.items()]
        pending += [(path, header, memo.current) for path, (header, memo) in self.memos.items()
                    if memo.current is not None and memo.current is not memo.previous]
        for path, header, content in pending:
            try:
                data = encode_cache(header, content)
            except (TypeError, ValueError) as exc:
                self.warnings.append(f"cache {path} not written: {exc}")
                continue
            try:
                _replace(path, data)
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


DEADLINE_BATCH = 4096
"""Under --max-duration, files are decoded in batches this size, the clock checked between."""


def read_selected(
    folder: str, names: list[str], decode_many: Callable[[str, list[str]], list[R]], *,
    selection: Selection, target: str, cache: TargetCache | None,
    name_of: Callable[[R], str], to_wire: Callable[[R], Any], from_wire: Callable[[Any], R],
    on_pending: Callable[[int], None] | None = None,
) -> list[R]:
    """The records of the files ``names`` in ``folder`` that this run reads.

    ``decode_many(folder, names)`` is the target's own (possibly parallel) decoder. The
    sample drops names first; the cache answers unchanged files from their stat; the rest
    are digested (with a cache) and decoded, batch by batch under a time limit. Files left
    out are counted in ``selection`` against ``target``. ``on_pending(n)`` is told how many
    files are to be decoded before the first is (progress with a total).
    """
    chosen = selection.sampled_names(target, names)
    records: list[R] = []
    pending: list[str] = []
    digests: dict[str, tuple[os.stat_result, int]] = {}
    if cache is not None:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for position, name in enumerate(chosen):
                if selection.expired():
                    selection.ran_out(target, len(chosen) - position)
                    break
                answer = _from_cache(cache, dir_fd, name, digests)
                if answer is None:
                    pending.append(name)
                else:
                    records.append(from_wire(answer))
        finally:
            os.close(dir_fd)
    else:
        pending = chosen
    if on_pending is not None:
        on_pending(len(pending))
    batch = DEADLINE_BATCH if selection.max_duration is not None else max(len(pending), 1)
    for start in range(0, len(pending), batch):
        if selection.expired():
            selection.ran_out(target, len(pending) - start)
            break
        for record in decode_many(folder, pending[start : start + batch]):
            if cache is not None and (known := digests.get(name_of(record))) is not None:
                cache.misses += 1
                cache.remember(name_of(record), known[0], known[1], to_wire(record))
            records.append(record)
    if cache is not None and selection.skipped(target):
        cache.complete = False
    return records


def _from_cache(
    cache: TargetCache, dir_fd: int, name: str, digests: dict[str, tuple[os.stat_result, int]]
) -> Any | None:
    """The cached record of ``name``, or None after noting its stat and digest (when it
    can be read) in ``digests`` for ``remember`` once it is decoded."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None
    wire = cache.lookup(name, info)
    if wire is not None:
        return wire
    data = read_at(dir_fd, name)
    if data is None:
        return None
    digest = content_digest(data)
    wire = cache.reuse(name, info, digest)
    if wire is None:
        digests[name] = (info, digest)
    return wire


def finding_to_wire(finding: Finding) -> tuple[Any, ...]:
    return (finding.code, finding.severity.value, finding.path, finding.message,
            finding.thread_id, finding.checkpoint_id, finding.offset, finding.record,
            finding.expected, finding.actual, finding.fix_command, finding.key, finding.details)


def finding_from_wire(wire: Any) -> Finding:
    (code, severity, path, message, thread_id, checkpoint_id, offset, record, expected,
     actual, fix_command, key, details) = wire
    return Finding(code, Severity(severity), path, message, thread_id, checkpoint_id, offset,
                   record, expected, actual, fix_command, key, _as_json(details))


def _as_json(value: Any) -> Any:
    """The cache reads arrays back as tuples; findings carry the lists they were made with."""
    if isinstance(value, tuple | list):
        return [_as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    return value


def target_fingerprint(path: Path, context: str) -> tuple[int, int]:
    """``folder_fingerprint`` of a folder target; for a file target (a stream log, a DLQ
    dump) the digest of ``context`` and the file's own stat key, and its mtime_ns."""
    info = os.stat(path, follow_symlinks=False)
    if stat.S_ISDIR(info.st_mode):
        return folder_fingerprint(path, context)
    keys = array.array("q", stat_key(info))
    return _fingerprint_digest(context, [path.name], keys), info.st_mtime_ns


def memoized(
    ctx: CheckContext, kind: str, path: Path, rel: str,
    check: Callable[[], Iterable[Finding]], *, timeless: Callable[[list[Finding]], bool],
    salt: str = "",
) -> Iterator[Finding]:
    """``check()``'s findings for the target ``path`` (a folder or a file; ``rel`` from the
    scanned root, as the findings name it), replayed from the cache while the target's
    fingerprint is unchanged. ``salt`` names the options the findings depend on: other
    options are another fingerprint. A sampled run does not use it (it reads per file); a
    result is kept only when the target was read completely (the time limit may stop a
    run) and ``timeless`` accepts it: a finding whose text depends on the clock (an age)
    must be computed afresh."""
    if ctx.cache is None or ctx.selection.sample is not None:
        yield from check()
        return
    context = f"{rel}\0{salt}"
    try:
        fingerprint, newest = target_fingerprint(path, context)
    except OSError:
        yield from check()  # the check reports why the target cannot be read
        return
    memo = ctx.cache.memo(kind, path)
    saved = memo.get(fingerprint)
    if saved is not None:
        counts, wires = saved
        ctx.stats.update(dict(counts))
        yield from map(finding_from_wire, wires)
        return
    before = Counter(ctx.stats)
    findings = list(check())
    # A target that changed while it was checked may have been seen half old, half new; one
    # written within the mtime granularity may change again without its fingerprint.
    racy = newest >= ctx.cache.started_ns - RACY_WINDOW_NS
    complete = not ctx.selection.skipped(rel)
    if complete and timeless(findings) and not racy and _unchanged(path, context, fingerprint):
        memo.put(fingerprint, (dict(ctx.stats - before), [finding_to_wire(f) for f in findings]))
    yield from findings


def _unchanged(path: Path, context: str, fingerprint: int) -> bool:
    try:
        return target_fingerprint(path, context)[0] == fingerprint
    except OSError:
        return False
