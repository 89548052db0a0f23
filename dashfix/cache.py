"""The verify cache (``--cache DIR``): what was read, keyed by the stat of what it came from.

Per target, a *memo* holds the whole result (findings and counts) with a fingerprint of
every entry's name and stat key ``(size, mtime_ns, mode)``: while it is unchanged the result
is replayed. A checkpoint store also keeps its rows, each with its file's stat key
(``dashfix.inputs.checkpoint_cache``): a file whose key is unchanged is not read again. No
device or inode is part of a key, so a store and cache restored elsewhere with their mtimes
(a CI cache) still match; the mode is, since a chmod decides readability without touching
the mtime.

Trust rules, because a wrong "clean" is worse than a slow run:

- the cache file starts with a magic, the cache format version and an xxh3 checksum of the
  rest; a header names the dashfix version, the input kind, the target and a salt (the
  options the records depend on).  Anything that does not match, does not decode or fails
  the checksum is ignored and rebuilt, never used;
- a file or folder whose mtime lies within ``RACY_WINDOW_NS`` before the run is "racy": it
  could change again within the same timestamp tick without its stat changing, so it is
  not kept and the next run reads it again;
- a file whose stat changed is read and decoded again (its row holds the mtime).

The cache lives only where the user put it: it is written with a temp file and a rename in
DIR, never in the scanned folders unless DIR is there.  A folder that cannot be created or
written, or a full disk, turns into a warning; the run itself goes on without the cache.
"""

from __future__ import annotations

import array
import contextlib
import errno
import functools
import operator
import os
import stat
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import msgpack
import xxhash

from dashfix import __version__, native
from dashfix.cpus import usable_cpus
from dashfix.findings import Finding, Severity
from dashfix.interrupts import fork_worker

if TYPE_CHECKING:
    from dashfix.context import CheckContext

FORMAT_VERSION = 3
MAGIC = b"DFXCACHE"
_PREFIX = struct.Struct("<8sHQ")
"""Magic, format version, xxh3_64 of everything after the prefix."""
CONTENT_START = _PREFIX.size
"""Where a cache file's msgpack document starts (``element_reader`` offsets count from it)."""
SUFFIX = ".dfcache"
MEMO_SUFFIX = "-result"
RACY_WINDOW_NS = 2_000_000_000
"""Coarsest mtime granularity we allow for (FAT has 2 s)."""

StatKey = tuple[int, int, int]

R = TypeVar("R")


_STAT_KEY_FIELDS = ("st_size", "st_mtime_ns", "st_mode")
_stat_key_of = operator.attrgetter(*_STAT_KEY_FIELDS)
KEY_WIDTH = len(_STAT_KEY_FIELDS)
_MTIME_FIELD = _STAT_KEY_FIELDS.index("st_mtime_ns")
NO_KEY = (-1,) * KEY_WIDTH
"""The key of an entry that could not be stat-ed (or must not be trusted): never matches."""


def stat_key(info: os.stat_result) -> StatKey:
    """(size, mtime_ns, mode): no device or inode, so a store restored elsewhere (a CI
    cache, an unpacked artifact, ``cp -a``) with its mtimes kept still matches; the mode
    because a chmod does not touch the mtime but decides whether DashFlow can read it."""
    key: StatKey = _stat_key_of(info)
    return key


def content_digest(data: bytes | memoryview) -> int:
    return xxhash.xxh3_64_intdigest(data)


class CacheError(Exception):
    """The cache file cannot be trusted; the message says why."""


def decode_cache(data: bytes, expected: dict[str, Any]) -> Any:
    """The document of a cache file whose header equals ``expected``; CacheError otherwise."""
    checksum = _checksum_of(data[: _PREFIX.size])
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


def _checksum_of(prefix: bytes) -> int:
    """The checksum a cache file's prefix states; CacheError when it is not one of ours."""
    if len(prefix) < _PREFIX.size:
        raise CacheError("truncated")
    magic, version, checksum = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise CacheError("not a dashfix cache file")
    if version != FORMAT_VERSION:
        raise CacheError(f"cache format {version}, this dashfix writes {FORMAT_VERSION}")
    checksum_value: int = checksum
    return checksum_value


READ_CHUNK = 1 << 20
"""Bytes read (and hashed) per step when a cache file is read piece by piece."""


def open_document(handle: BinaryIO, expected: dict[str, Any]) -> tuple[msgpack.Unpacker, int]:
    """A reader of the elements of the cache file open in ``handle`` (checked as
    ``decode_cache`` does, the checksum read in pieces: a 1,000,000-file store's rows are
    140 MB, never held whole), positioned at its first element, and how many there are."""
    checksum = _checksum_of(handle.read(_PREFIX.size))
    digest = xxhash.xxh3_64()
    while piece := handle.read(READ_CHUNK):
        digest.update(piece)
    if digest.intdigest() != checksum:
        raise CacheError("checksum mismatch (corrupt)")
    handle.seek(CONTENT_START)
    unpacker = element_reader(handle)
    try:
        if unpacker.read_array_header() != 2:
            raise CacheError("unexpected layout")
        header = unpacker.unpack()
        count = unpacker.read_array_header()
    except (ValueError, msgpack.UnpackException) as exc:
        raise CacheError(f"does not decode: {exc}") from None
    if header != expected:
        raise CacheError("written for another dashfix version, target or options")
    return unpacker, count


_BIN_HEADERS = {0xC4: struct.Struct(">B"), 0xC5: struct.Struct(">H"), 0xC6: struct.Struct(">I")}
"""msgpack's bin 8, 16 and 32: the type byte, then the length in that many bytes."""


def bin_span(fd: int, position: int) -> tuple[int, int]:
    """Where the bytes of the msgpack bin at ``position`` of file ``fd`` start, and how many
    there are (so that a large column is read in pieces, never whole); ValueError when no
    bin starts there."""
    head = os.pread(fd, 5, position)
    length = _BIN_HEADERS.get(head[0]) if head else None
    if length is None or len(head) < 1 + length.size:
        raise ValueError("a column is not a byte string")
    return position + 1 + length.size, length.unpack_from(head, 1)[0]


def _open_checked(path: Path, expected: dict[str, Any]) -> tuple[
        BinaryIO, msgpack.Unpacker, int]:
    """The cache file ``path`` open, checked by ``open_document``, and its reader."""
    handle = _open_cache_file(path)
    try:
        return (handle, *open_document(handle, expected))
    except BaseException:
        handle.close()
        raise


def element_reader(handle: BinaryIO) -> msgpack.Unpacker:
    """A msgpack reader of ``handle`` from its current offset (``unpacker.tell()`` is
    counted from there), decoding as ``decode_cache`` does."""
    return msgpack.Unpacker(handle, use_list=False, raw=False, strict_map_key=False,
                            read_size=READ_CHUNK)


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

    def put_pending(self) -> None:
        """Keep no result yet, only that the target was checked with this cache: the next
        run then looks for a result and keeps one (see ``memoized``)."""
        self.current = (PENDING, None)


PENDING = -1
"""The fingerprint of a pending memo: digests are unsigned, so it matches nothing."""


FINGERPRINT_FORK_MIN = 20_000
"""From this many entries on, a second CPU stats half of a folder: the stat calls are most
of a cached re-run (~3 us each here, mostly in the kernel). With the C helpers it is a
thread (they release the GIL); without them a forked child (fork costs ~5 ms)."""


def stat_keys(dir_fd: int, names: list[str], start: int, stop: int) -> array.array[int]:
    """The stat keys of ``names[start:stop]`` in folder ``dir_fd`` (symlinks not followed),
    packed as one flat array of 64-bit integers in the order of ``names``; ``NO_KEY`` for
    an entry that cannot be stat-ed."""
    keys = array.array("q")
    if native.MODULE is not None:
        with contextlib.suppress(UnicodeEncodeError, ValueError):  # not UTF-8: Python twin
            keys.frombytes(native.MODULE.stat_keys(dir_fd, names, start, stop))
            return keys
    for name in names[start:stop]:
        try:
            keys.extend(_stat_key_of(os.stat(name, dir_fd=dir_fd, follow_symlinks=False)))
        except OSError:
            keys.extend(NO_KEY)
    return keys


def _stat_keys(dir_fd: int, names: list[str]) -> array.array[int]:
    """``stat_keys`` of every name, the second half on another CPU when the folder is large
    and there is a second CPU."""
    count = len(names)
    if count < FINGERPRINT_FORK_MIN or usable_cpus() < 2:
        return stat_keys(dir_fd, names, 0, count)
    half = count // 2
    if native.MODULE is not None:
        theirs: list[array.array[int]] = []
        helper = threading.Thread(target=lambda: theirs.append(
            stat_keys(dir_fd, names, half, count)))
        helper.start()
        keys = stat_keys(dir_fd, names, 0, half)
        helper.join()
        keys.extend(theirs[0])
        return keys
    reader, writer = os.pipe()
    child = fork_worker()  # it ignores Ctrl-C: this process reaps it below
    if child == 0:  # pragma: no cover (the child leaves through os._exit)
        status = 1
        try:
            os.close(reader)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(stat_keys(dir_fd, names, half, count).tobytes())
            status = 0
        finally:
            os._exit(status)
    os.close(writer)
    try:
        # Closing the pipe first on an error lets a child blocked on a full pipe end.
        with os.fdopen(reader, "rb") as pipe:
            keys = stat_keys(dir_fd, names, 0, half)
            received = pipe.read()
    finally:
        _, wait_status = os.waitpid(child, 0)
    expected = (count - half) * KEY_WIDTH * keys.itemsize
    if os.waitstatus_to_exitcode(wait_status) != 0 or len(received) != expected:
        raise OSError(errno.EIO, "the folder could not be stat-ed")
    keys.frombytes(received)
    return keys


FINGERPRINT_CHUNK = 65536
"""Entries stat-ed and hashed per step."""


def _listing(dir_fd: int) -> Iterator[list[str]]:
    """The names of the entries of folder ``dir_fd``, ``FINGERPRINT_CHUNK`` at a time, in
    listing order. ``os.listdir`` makes no object per entry but its name (a fingerprint
    runs before or after a scan, never beside it, so the whole listing may be held)."""
    names = os.listdir(dir_fd)
    for start in range(0, len(names), FINGERPRINT_CHUNK):
        yield names[start : start + FINGERPRINT_CHUNK]


def folder_fingerprint(folder: Path, context: str) -> tuple[int, int]:
    """A digest of ``context`` and the (name, stat key) of every entry directly in
    ``folder``, symlinks not followed: any file added, removed, renamed, rewritten or
    chmod-ed changes it. Also the newest mtime_ns seen, to tell a racy folder.

    The names and the packed stat integers are hashed chunk by chunk in listing order,
    each chunk led by its counts (a file name holds no NUL, so the NUL-joined names split
    one way only): a listing in another order gives another digest, so it can only cost a
    cache miss.
    """
    encoded = context.encode("utf-8", "surrogateescape")
    digest = xxhash.xxh3_64(b"%d\0" % len(encoded))
    digest.update(encoded)
    newest = 0
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for names in _listing(dir_fd):
            keys = _stat_keys(dir_fd, names)
            if NO_KEY[0] in keys[::KEY_WIDTH]:
                raise OSError(errno.EIO, "an entry could not be stat-ed (changed while listed?)")
            newest = max(newest, max(keys[_MTIME_FIELD :: KEY_WIDTH]))
            _chunk_digest(digest, names, keys)
    finally:
        os.close(dir_fd)
    return digest.intdigest(), newest


def _chunk_digest(digest: Any, names: list[str], keys: array.array[int]) -> None:
    joined = "\0".join(names).encode("utf-8", "surrogateescape")
    digest.update(b"%d\0%d\0" % (len(names), len(joined)))
    digest.update(joined)
    digest.update(keys)


Elements = tuple[int, Callable[[], Iterator[Any]]]
"""A document of that many top-level elements, built one at a time (``add_document``)."""


def portable_target(target: Path) -> str:
    """How the cache names a target: relative to the working directory when it lies under
    it, so a checkout or a restored CI cache in another folder finds its entries; else its
    absolute path. Symlinks are not resolved (the user's path is what is checked)."""
    absolute = Path(os.path.abspath(target))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


@dataclass
class VerifyCache:
    """The cache folder of one run: per target, a TargetMemo (its whole result) and, for a
    checkpoint store, its rows (``dashfix.inputs.checkpoint_cache``), each in its own file,
    written back by ``save``."""

    folder: Path
    salt: str = ""
    """Whatever else the records depend on (options); a different salt is another cache."""
    warnings: list[str] = field(default_factory=list)
    documents: dict[Path, tuple[dict[str, Any], Elements]] = field(default_factory=dict)
    memos: dict[Path, tuple[dict[str, Any], TargetMemo]] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.time_ns)
    hits: int = 0
    """Files answered from their stat alone, without reading."""

    def file_for(self, kind: str, target: str) -> Path:
        name = xxhash.xxh3_128_hexdigest(f"{kind}\0{target}\0{self.salt}".encode(
            "utf-8", "surrogateescape"))
        return self.folder / f"{kind}-{name}{SUFFIX}"

    def load(self, kind: str, target: Path) -> tuple[Path, dict[str, Any], Any]:
        """The cache file of ``kind`` for ``target``, its header, and its content (None when
        missing or not to be trusted, with a warning for the latter)."""
        return self._read(kind, target, lambda path, header: decode_cache(
            _read_cache_file(path), header))

    def open(self, kind: str, target: Path) -> tuple[
            Path, dict[str, Any], tuple[BinaryIO, msgpack.Unpacker, int] | None]:
        """As ``load``, but the content is read element by element: the open file (the
        caller closes it), its reader at the first element and the count of elements."""
        return self._read(kind, target, _open_checked)

    def _read(self, kind: str, target: Path, read: Callable[[Path, dict[str, Any]], R],
              ) -> tuple[Path, dict[str, Any], R | None]:
        name = portable_target(target)
        path = self.file_for(kind, name)
        header = {"dashfix": __version__, "kind": kind, "target": name, "salt": self.salt}
        try:
            return path, header, read(path, header)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.warnings.append(f"cache {path}: cannot read ({exc.strerror or exc}); rebuilding")
        except CacheError as exc:
            self.warnings.append(f"cache {path}: {exc}; rebuilding")
        return path, header, None

    def add_document(self, path: Path, header: dict[str, Any], count: int,
                     elements: Callable[[], Iterator[Any]]) -> None:
        """Save the ``count`` items ``elements()`` yields as the content of ``path`` (a
        list), packed and written one by one so that a large one is never held whole."""
        self.documents[path] = (header, (count, elements))

    def memo(self, kind: str, target: Path) -> TargetMemo:
        path, header, content = self.load(kind + MEMO_SUFFIX, target)
        valid = isinstance(content, tuple) and len(content) == 2 and type(content[0]) is int
        if content is not None and not valid:
            self.warnings.append(f"cache {path}: malformed result; rebuilding")
        memo = TargetMemo(content if valid else None)
        self.memos[path] = (header, memo)
        return memo

    def save(self) -> None:
        """Write what changed; a failure is a warning (the run stands without the cache)."""
        pending: list[tuple[Path, dict[str, Any], Elements]] = list(
            (path, header, elements) for path, (header, elements) in self.documents.items())
        pending += [(path, header, (len(memo.current), functools.partial(iter, memo.current)))
                    for path, (header, memo) in self.memos.items()
                    if memo.current is not None and memo.current is not memo.previous]
        for path, header, (count, elements) in pending:
            if not self.write(path, header, count, elements):
                return

    def write(self, path: Path, header: dict[str, Any], count: int,
              elements: Callable[[], Iterator[Any]]) -> bool:
        """Write one document now (``add_document`` says what); False, with a warning,
        when the folder cannot take it (a full disk: nothing else will fit either)."""
        self.documents.pop(path, None)
        try:
            _write_document(path, header, count, elements())
        except (TypeError, ValueError) as exc:
            self.warnings.append(f"cache {path} not written: {exc}")
        except OSError as exc:
            self.warnings.append(_unwritable(path, exc))
            return False
        return True


LIST_CHUNK = 4096
"""Items of a long list packed per write."""


@dataclass(frozen=True)
class Chunks:
    """A bytes element of a document given piece by piece (never whole in memory)."""

    length: int
    pieces: Iterator[Any]

_BIN32 = struct.Struct(">BI")
"""msgpack's bin 32 header: 0xC6, then the length."""


def _write_document(path: Path, header: dict[str, Any], count: int,
                    elements: Iterator[Any]) -> None:
    """The cache file of ``header`` and the ``count`` items of ``elements`` (the magic, the
    format version and the xxh3 of the msgpack of ``[header, [items]]``) written to ``path``
    through a temp file and a rename, element by element: the checksum in the prefix is
    filled in last. A reader sees the old or the whole new file; a torn one fails the
    checksum anyway."""
    packer = msgpack.Packer(use_bin_type=True)
    digest = xxhash.xxh3_64()
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)  # a stale one, or a symlink planted at the name
    try:
        # O_EXCL: created here, never opened through a symlink (it would truncate its target).
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                               0o644), "wb") as handle:
            def put(data: bytes | memoryview) -> None:
                digest.update(data)
                handle.write(data)

            handle.write(bytes(_PREFIX.size))
            put(packer.pack_array_header(2))
            put(packer.pack(header))
            put(packer.pack_array_header(count))
            written = 0
            for element in elements:
                if isinstance(element, memoryview):
                    # Large columns go out as they are (no packed copy): a msgpack bin 32.
                    data = element.cast("B")
                    put(_BIN32.pack(0xC6, len(data)))
                    put(data)
                elif isinstance(element, Chunks):
                    put(_BIN32.pack(0xC6, element.length))
                    written_bytes = 0
                    for piece in element.pieces:
                        data = memoryview(piece).cast("B")
                        written_bytes += len(data)
                        put(data)
                    if written_bytes != element.length:
                        raise ValueError(f"{written_bytes} bytes, {element.length} announced")
                elif isinstance(element, list) and len(element) > LIST_CHUNK:
                    put(packer.pack_array_header(len(element)))
                    for start in range(0, len(element), LIST_CHUNK):
                        put(b"".join(map(packer.pack, element[start : start + LIST_CHUNK])))
                else:
                    put(packer.pack(element))
                written += 1
            if written != count:
                raise ValueError(f"{written} elements written, {count} announced")
            handle.seek(0)
            handle.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, digest.intdigest()))
        # No fsync: a cache is never the only copy of anything, and a file torn by a crash
        # fails its checksum and is rebuilt. (Forcing 140 MB of a 1,000,000-file store's
        # rows to disk cost seconds on a busy disk.)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _read_cache_file(path: Path) -> bytes:
    """A cache file's bytes (opened as ``_open_cache_file`` does)."""
    with _open_cache_file(path) as handle:
        return handle.read()


def _open_cache_file(path: Path) -> BinaryIO:
    """A cache file open for reading, never through a symlink nor a FIFO or device (a
    restored CI cache is an input like any other: a FIFO would block, /dev/zero never end)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "a symlink, never followed") from None
        raise
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise OSError(errno.EINVAL, "not a regular file")
    return handle


def _unwritable(path: Path, exc: OSError) -> str:
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return f"cache {path} not written: {why}; this run was checked without it"


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
    encoded = context.encode("utf-8", "surrogateescape")
    digest = xxhash.xxh3_64(b"%d\0" % len(encoded))
    digest.update(encoded)
    _chunk_digest(digest, [path.name], array.array("q", stat_key(info)))
    return digest.intdigest(), info.st_mtime_ns


def memoized(
    ctx: CheckContext, kind: str, path: Path, rel: str,
    check: Callable[[], Iterable[Finding]], *, timeless: Callable[[list[Finding]], bool],
    salt: str = "", defer_first: bool = False,
) -> Iterator[Finding]:
    """``check()``'s findings for the target ``path`` (a folder or a file; ``rel`` from the
    scanned root, as the findings name it), replayed from the cache while the target's
    fingerprint is unchanged. ``salt`` names the options the findings depend on: other
    options are another fingerprint. A sampled run does not use it (it reads per file); a
    result is kept only when the target was read completely (the time limit may stop a
    run) and ``timeless`` accepts it: a finding whose text depends on the clock (an age)
    must be computed afresh.

    With ``defer_first`` (a checkpoint store, whose rows the cache also keeps), a target
    with no memo yet is only marked pending: keeping a result needs a stat walk of the
    folder before and one after the check, which would make the first cached run of a
    large store much slower than an uncached one. The next run (its files answered by the
    row cache) takes the walks and keeps the result."""
    if ctx.cache is None or ctx.selection.sample is not None:
        yield from check()
        return
    context = f"{rel}\0{salt}"
    memo = ctx.cache.memo(kind, path)
    if defer_first and memo.previous is None:
        memo.put_pending()
        yield from check()
        return
    try:
        fingerprint, newest = target_fingerprint(path, context)
    except OSError:
        yield from check()  # the check reports why the target cannot be read
        return
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
