"""The per-file part of the verify cache for a checkpoint store: its PLAIN rows as columns.

A store of 1,000,000 files must be cached inside the uncached run's memory (300 MiB), so
the cache holds no object per file: it keeps the rows' own columns (``StoreRows``) and, per
row, the key ``(size, mtime_ns, mode)`` the row was read under. Only PLAIN rows (a healthy
plain DCHK checkpoint, nearly every file) are kept; any other entry is read again, which
costs little as such entries are rare and the Python path reads them anyway.

How a key is taken: the reader ``fstat``s each file on the descriptor it then reads, so a
row's ``sizes`` and ``mtimes`` columns are the stat the content was read under. When the
cache is saved, every file is stat-ed again by name; a row is kept only when that stat has
the same size and mtime (so it did not change since it was read; the mode comes from that
stat) and its mtime is older than ``RACY_WINDOW_NS`` before the run (a file written in the
same timestamp tick as the run could change again without its stat changing). No device or
inode is kept: a store restored elsewhere with its mtimes (``actions/cache``, a GitLab
cache, ``cp -a``, ``tar``) still matches.

The next run stats every listed file (never the folder's mtime alone) and fills each row
whose name and key match from the cache; the reader reads the others.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import msgpack

from dashfix.cache import (
    CONTENT_START,
    KEY_WIDTH,
    NO_KEY,
    RACY_WINDOW_NS,
    READ_CHUNK,
    CacheError,
    Chunks,
    VerifyCache,
    bin_span,
    element_reader,
    stat_keys,
)
from dashfix.inputs.checkpoint_record import PLAIN
from dashfix.inputs.checkpoint_rows import LOST_PARENT, NO_PARENT, StoreRows

ROWS_KIND = "checkpoint-rows"
_NUMBERS = ("counters", "secs", "nanos", "mtimes", "sizes", "state_starts", "state_ends")
_STRINGS = ("threads", "nodes", "procs")
ELEMENTS = 7 + len(_STRINGS) + len(_NUMBERS)
"""Names, kept mask, modes, kinds, a column of references into the string table per string
column, the string table, the number columns, parents, lost parents."""
CHUNK = 4096
COPY_CHUNK = 65536
"""Cached values converted per step when a column is copied into the rows."""
"""Rows stat-ed and compared per step, so no per-file key array is ever held whole."""
_Column = TypeVar("_Column", "array[int]", bytearray)
_KEEP_PLAIN = bytes([1 if kind == PLAIN else 0 for kind in range(256)])
"""``bytes.translate`` table from a row's kind to whether its row may be kept."""


class _Previous:
    """A row cache file, never held whole beside this run's own rows (at 1,000,000 files
    each is ~190 MB, and both at once took 553 MiB): the cached names are matched to the
    listing as they are read, only the kept, modes and kinds columns are held (6 MB), and
    the number columns are read where they lie in the file, ``COPY_CHUNK`` rows at a time
    (``column``): for the keys as the files are stat-ed, then for the rows taken (``copy``).
    When the names are not the listing's row for row, sizes, mtimes and parents are held
    too, as rows are then compared one by one."""

    def __init__(self, handle: BinaryIO, unpacker: msgpack.Unpacker, elements: int,
                 names: list[str]) -> None:
        self.handle = handle
        try:
            if elements != ELEMENTS:
                raise ValueError(f"{elements} elements")
            fd = handle.fileno()
            start, length = bin_span(fd, CONTENT_START + unpacker.tell())
            self.source, self.count = _match(fd, start, length, names)
            """Per listed row, the cached row of its name (-1: none); None when the cached
            names are the listing's, row for row."""
            count = self.count
            self.forward = array("q", [-1]) * (0 if self.source is None else count)
            """Per cached row, the listed row of its name (-1: none); needed only when the
            names differ from the listing's."""
            for at, row in enumerate(self.source or ()):
                if row >= 0:
                    self.forward[row] = at
            handle.seek(start + length)
            reader = element_reader(handle)
            self.kept, self.modes = bytes(reader.unpack()), _int32s(reader.unpack())
            self.kinds = bytes(reader.unpack())
            # The columns are not unpacked: each is read in pieces where it lies.
            self.columns: dict[str, tuple[int, int]] = {}
            """A column's offset in the file and its values' width."""
            self.held: dict[str, array[int]] = {}
            position = self._locate(_STRINGS, start + length + reader.tell(), 4)
            handle.seek(position)
            reader = element_reader(handle)
            self.strings: tuple[str | None, ...] = tuple(reader.unpack())
            position = self._locate((*_NUMBERS, "parents"), position + reader.tell(), 8)
            handle.seek(position)
            self.lost: dict[int, str] = dict(element_reader(handle).unpack())
            for name in _STRINGS:
                self._check_range(name, 0, len(self.strings))
            self._check_range("parents", min(NO_PARENT, LOST_PARENT), count)
            # Rows matched by name, not by position, are compared one by one: held whole.
            if self.source is not None:
                self.held = {name: self.column(name, 0, count)
                             for name in ("sizes", "mtimes", "parents")}
        except (TypeError, ValueError, UnicodeDecodeError, msgpack.UnpackException) as exc:
            raise CacheError(f"malformed rows ({exc})") from None
        if not self._consistent():
            raise CacheError("malformed rows")

    def _locate(self, names: tuple[str, ...], position: int, width: int) -> int:
        """Note where the columns ``names`` (one msgpack bin each, of ``width``-byte values)
        lie from ``position`` on; the position after them."""
        for name in names:
            start, length = bin_span(self.handle.fileno(), position)
            if length != width * self.count:
                raise ValueError("columns of different lengths")
            self.columns[name] = (start, width)
            position = start + length
        return position

    def column(self, name: str, start: int, stop: int) -> array[int]:
        """Rows ``start:stop`` of the number column ``name``, read from the file."""
        if name in self.held:
            return self.held[name][start:stop]
        offset, width = self.columns[name]
        size = width * (stop - start)
        data = os.pread(self.handle.fileno(), size, offset + width * start)
        if len(data) != size:
            raise ValueError("the cache file was cut short while read")
        return _int32s(data) if width == 4 else _int64s(data)

    def _check_range(self, name: str, low: int, limit: int) -> None:
        """ValueError unless every value of column ``name`` is in ``low:limit``."""
        for start in range(0, self.count, COPY_CHUNK):
            values = self.column(name, start, min(start + COPY_CHUNK, self.count))
            if not low <= min(values) <= max(values) < limit:
                raise ValueError(f"{name} out of range")

    def keys(self, start: int, stop: int) -> array[int]:
        """The stat keys of cached rows ``start:stop``, as ``stat_keys`` packs them."""
        return _keys(self.kept[start:stop], self.modes[start:stop],
                     self.column("sizes", start, stop), self.column("mtimes", start, stop))

    def _consistent(self) -> bool:
        count = self.count
        return (all(text is None or type(text) is str for text in self.strings)
                and len(self.kept) == len(self.modes) == len(self.kinds) == count
                and all(type(row) is int and type(parent) is str
                        for row, parent in self.lost.items()))

    def takes(self, row: int, key: array[int], cached: array[int] | None) -> bool:
        """Whether cached row ``row``, of stat key ``cached`` (None: looked up), answers a
        listed file of stat key ``key``; when the names differ from the listing's, its
        parent must be listed too, or lost (only its row is kept, not its name)."""
        if cached is None:
            held = self.held
            cached = array("q", (held["sizes"][row], held["mtimes"][row], self.modes[row]))
        if self.kinds[row] != PLAIN or not self.kept[row] or key != cached:
            return False
        parent = self.held["parents"][row] if self.held else NO_PARENT
        return parent < 0 or self.forward[parent] >= 0

    def copy(self, rows: StoreRows, filled: bytearray) -> None:
        """Fill the ``filled`` rows of ``rows`` with their cached rows' columns, read again
        from the file one column at a time."""
        runs = [(at + piece, row + piece, min(COPY_CHUNK, size - piece))
                for at, row, size in _runs(filled, self.source)
                for piece in range(0, size, COPY_CHUNK)]
        strings = self.strings
        try:
            for name in _STRINGS:
                column = getattr(rows, name)
                for at, row, size in runs:
                    column[at : at + size] = [
                        strings[ref] for ref in self.column(name, row, row + size)]
            for name in _NUMBERS:
                column = getattr(rows, name)
                for at, row, size in runs:
                    column[at : at + size] = self.column(name, row, row + size)
            parent_pieces = [self.column("parents", row, row + size) for _, row, size in runs]
        except ValueError as exc:
            raise CacheError(str(exc)) from None
        assert rows.modes is not None
        modes, forward = self.modes, self.forward
        for (at, row, size), parents in zip(runs, parent_pieces, strict=True):
            rows.kinds[at : at + size] = self.kinds[row : row + size]
            rows.modes[at : at + size] = modes[row : row + size]
            if self.source is None:
                rows.parent_rows[at : at + size] = parents
                rows.lost_parents.update((lost, parent) for lost, parent in self.lost.items()
                                         if at <= lost < at + size)
                continue
            for offset in range(size):
                parent = parents[offset]
                if parent == LOST_PARENT:  # it may be listed now: looked for as when read
                    rows.set_parent(at + offset, self.lost.get(row + offset))
                else:
                    rows.parent_rows[at + offset] = parent if parent < 0 else forward[parent]


def _match(fd: int, start: int, length: int, names: list[str]) -> tuple[
        array[int] | None, int]:
    """The cached names (``_name_pieces``' bytes at ``start:start + length`` of file ``fd``) held
    against the listed ``names``, and how many there are: None when they are ``names``, row
    for row (compared piece by piece, never decoded); else per listed row, the cached row
    of its name (-1: none). Both are sorted, so they are merged; a cache whose names are
    not sorted only matches fewer names (those files are read again)."""
    offset = start
    for piece in _name_pieces(names, len(names)):
        if offset + len(piece) > start + length or os.pread(fd, len(piece), offset) != piece:
            break
        offset += len(piece)
    else:
        if offset == start + length:
            return None, len(names)
    listed = len(names)
    source = array("q", [-1]) * listed
    cursor = count = 0
    for name in _cached_names(fd, start, length):
        while cursor < listed and names[cursor] < name:
            cursor += 1
        if cursor < listed and names[cursor] == name:
            source[cursor] = count
            cursor += 1
        count += 1
    return source, count


def _cached_names(fd: int, start: int, length: int) -> Iterator[str]:
    """The names in ``_name_pieces``' bytes at ``start:start + length`` of file ``fd``, read a
    block at a time."""
    if not length:
        return
    rest = b""
    for offset in range(start, start + length, READ_CHUNK):
        block = os.pread(fd, min(READ_CHUNK, start + length - offset), offset)
        if not block:
            raise ValueError("the cache file was cut short while read")
        *complete, rest = (rest + block).split(b"\0")
        yield from (name.decode("utf-8", "surrogateescape") for name in complete)
    yield rest.decode("utf-8", "surrogateescape")


def _runs(filled: bytearray, source: array[int] | None) -> list[tuple[int, int, int]]:
    """The ``filled`` rows as runs ``(listed row, cached row, length)`` of consecutive rows
    of both (one run for an unchanged store)."""
    runs: list[tuple[int, int, int]] = []
    at, count = filled.find(1), len(filled)
    while at >= 0:
        stop = filled.find(0, at)
        stop = count if stop < 0 else stop
        if source is None:
            runs.append((at, at, stop - at))
        else:
            start = at
            for next_at in range(at + 1, stop + 1):
                if next_at == stop or source[next_at] != source[next_at - 1] + 1:
                    runs.append((start, source[start], next_at - start))
                    start = next_at
        at = filled.find(1, stop)
    return runs


def _keys(kept: bytes, modes: array[int], sizes: array[int], mtimes: array[int]) -> array[int]:
    """Each row's key (size, mtime_ns, mode), ``NO_KEY`` where ``kept`` says the row was
    not kept."""
    count = len(kept)
    if not len(sizes) == len(mtimes) == len(modes) == count:
        raise ValueError("columns of different lengths")
    keys = array("q", [0]) * (KEY_WIDTH * count)
    keys[0::KEY_WIDTH], keys[1::KEY_WIDTH] = sizes, mtimes
    keys[2::KEY_WIDTH] = array("q", modes)
    for at in (at for at, keep in enumerate(kept) if not keep):
        keys[KEY_WIDTH * at : KEY_WIDTH * (at + 1)] = array("q", NO_KEY)
    return keys


def _head(column: _Column, count: int) -> _Column:
    """``column[:count]``, without a copy in the usual case of a store with no odd entry:
    an 8 MB copy of a column at 1,000,000 files was the first cached run's peak RSS."""
    return column if len(column) == count else column[:count]


def _name_pieces(names: list[str], count: int) -> Iterator[bytes]:
    """The bytes a row cache keeps its names as, ``CHUNK`` names at a time: the names
    NUL-joined (a file name holds no NUL) in UTF-8, undecodable bytes kept as
    ``os.listdir`` keeps them (surrogateescape)."""
    for start in range(0, count, CHUNK):
        piece = "\0".join(names[start : min(start + CHUNK, count)])
        yield piece.encode("utf-8", "surrogateescape") if start == 0 else \
            b"\0" + piece.encode("utf-8", "surrogateescape")


class _StringTable(dict[str | None, int]):
    """The references of the string columns, numbered as they first come: one pass over
    the columns (a new string is rare: a store has few threads, nodes and processes)."""

    def __missing__(self, text: str | None) -> int:
        self[text] = ref = len(self)
        return ref


def _int32s(data: bytes) -> array[int]:
    values = array("i")
    values.frombytes(data)
    return values


def _int64s(data: bytes | memoryview) -> array[int]:
    values = array("q")
    values.frombytes(data)
    return values


class RowCache:
    """The row cache of one store during a run: ``fill`` takes the unchanged rows from the
    last run, and the rows of this run are written when the ``VerifyCache`` is saved."""

    def __init__(self, verify_cache: VerifyCache, store: Path) -> None:
        self.started_ns = verify_cache.started_ns
        self.verify_cache = verify_cache
        self.store = store
        self.rows: StoreRows | None = None
        self.count = 0
        self.hits = 0
        self._document: tuple[Path, dict[str, Any]] | None = None
        self.changed = True

    def _previous(self, names: list[str]) -> _Previous | None:
        """The last run's rows, their names matched to the listed ``names``."""
        path, header, opened = self.verify_cache.open(ROWS_KIND, self.store)
        self._document = (path, header)
        if opened is None:
            return None
        handle, unpacker, elements = opened
        try:
            return _Previous(handle, unpacker, elements, names)
        except CacheError as exc:
            handle.close()
            self.verify_cache.warnings.append(f"cache {path}: {exc}; rebuilding")
        return None

    def fill(self, rows: StoreRows, count: int, dir_fd: int) -> bytearray:
        """Fill the rows ``0:count`` (the listed regular files) whose name and stat key
        match the last run's; the mask of the rows filled (the reader skips them)."""
        filled = bytearray(count)
        self.rows, self.count = rows, count
        rows.modes = array("i", [-1]) * len(rows)  # the C reader fills them in
        names = rows.names if count == len(rows) else rows.names[:count]
        previous = self._previous(names)
        if previous is None:
            return filled
        path = self._document[0] if self._document else self.store
        with previous.handle:
            try:
                self._take(previous, rows, filled, dir_fd)
            except CacheError as exc:
                # Only a cache file changed in place since it was checked: the rows taken
                # so far are dropped, and the store is read whole.
                self.verify_cache.warnings.append(f"cache {path}: {exc}; rebuilding")
                rows.reset()
                rows.modes = array("i", [-1]) * len(rows)
                filled = bytearray(count)
        self.hits = sum(filled)
        self.verify_cache.hits += self.hits
        # When every row is the cache's own there is nothing new to write.
        self.changed = self.hits != count or previous.count != count
        return filled

    @staticmethod
    def _take(previous: _Previous, rows: StoreRows, filled: bytearray, dir_fd: int) -> None:
        """Mark in ``filled`` the rows whose name and stat key match the cache's, and fill
        them from it."""
        try:
            aligned = previous.source is None
            for start in range(0, len(filled), CHUNK):
                stop = min(start + CHUNK, len(filled))
                keys = stat_keys(dir_fd, rows.names, start, stop)
                cached = previous.keys(start, stop) if aligned else None
                if keys == cached:
                    # The usual chunk of an unchanged store: every row kept and unchanged.
                    filled[start:stop] = b"\x01" * (stop - start)
                    continue
                for at in range(start, stop):
                    row = at if previous.source is None else previous.source[at]
                    base = KEY_WIDTH * (at - start)
                    if row >= 0 and previous.takes(
                            row, keys[base : base + KEY_WIDTH],
                            None if cached is None else cached[base : base + KEY_WIDTH]):
                        filled[at] = 1
        except ValueError as exc:
            raise CacheError(str(exc)) from None
        previous.copy(rows, filled)

    def save(self) -> None:
        """Write the rows now, once they are read: the scan's rows are then no longer held
        here while the checks run and the rest of the cache is saved."""
        if self.changed and self._document is not None:
            path, header = self._document
            self.verify_cache.write(path, header, ELEMENTS, self._elements)
        if self.rows is not None:
            self.rows.modes = None  # only the cache needs them: 4 MB per 1,000,000 files
        self.rows = None

    def _elements(self) -> Iterator[Any]:
        """The document to save, one element at a time (each is packed and written before
        the next is built): names, keys, kinds, the string table and each row's
        references into it, the number columns, the parents and the lost parents."""
        rows, count = self.rows, self.count
        if rows is None:
            rows, count = StoreRows([]), 0
        # The names as one byte string: ~4x cheaper to write and read than a msgpack
        # string per name. Its length is known only once encoded, so it is encoded twice.
        yield Chunks(sum(map(len, _name_pieces(rows.names, count))),
                     _name_pieces(rows.names, count))
        yield self._kept(rows, count)
        assert rows.modes is not None
        yield memoryview(rows.modes)[:count]
        yield bytes(rows.kinds[:count])
        table = _StringTable()
        for name in _STRINGS:
            column = getattr(rows, name)
            # Slices, not islice: an islice from ``start`` walks the column from its head.
            # Rows past ``count`` are the odd entries (FIFOs, symlinks...): never cached.
            yield Chunks(4 * count, (
                array("i", list(map(table.__getitem__, column[start : min(start + CHUNK, count)])))
                for start in range(0, count, CHUNK)))
        yield list(table) or [None]
        del table
        for name in _NUMBERS:
            yield memoryview(getattr(rows, name))[:count]
        yield memoryview(rows.parent_rows)[:count]
        yield {row: parent for row, parent in rows.lost_parents.items() if row < count}

    def _kept(self, rows: StoreRows, count: int) -> bytes:
        """Which rows to keep: PLAIN, not racy, and unchanged since they were read. The C
        reader took each row's key on the descriptor it read (its fstat comes before the
        read, so a later change shows as another key). A row the Python path read is
        stat-ed again by name (its mode goes into ``rows.modes``) and kept when that stat
        has the size and mtime it was read under."""
        kept = bytearray(_head(rows.kinds, count)).translate(_KEEP_PLAIN)
        if not count:
            return bytes(kept)
        if rows.modes is None:
            rows.modes = array("i", [-1]) * len(rows)  # the C reader fills them in
        dropped: list[int] = []
        if _head(rows.modes, count).count(-1) > count - kept.count(1):  # Python read some
            dropped += self._stat_again(rows, count)
        mtimes, recent = rows.mtimes, self.started_ns - RACY_WINDOW_NS
        if max(_head(mtimes, count)) >= recent:
            dropped += [at for at in range(count) if mtimes[at] >= recent]
        for at in dropped:
            kept[at] = 0
        return bytes(kept)

    def _stat_again(self, rows: StoreRows, count: int) -> list[int]:
        """Put the mode of a stat by name into ``rows.modes`` for the PLAIN rows without
        one; the rows whose stat no longer has the size and mtime they were read under."""
        assert rows.modes is not None
        modes, sizes, mtimes = rows.modes, rows.sizes, rows.mtimes
        changed: list[int] = []
        dir_fd = os.open(self.store, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for start in range(0, count, CHUNK):
                stop = min(start + CHUNK, count)
                lacking = [at for at in range(start, stop)
                           if modes[at] < 0 and rows.kinds[at] == PLAIN]
                if not lacking:
                    continue
                now = stat_keys(dir_fd, rows.names, start, stop)
                for at in lacking:
                    base = KEY_WIDTH * (at - start)
                    if now[base] != sizes[at] or now[base + 1] != mtimes[at]:
                        changed.append(at)
                    modes[at] = now[base + 2]
        finally:
            os.close(dir_fd)
        return changed
