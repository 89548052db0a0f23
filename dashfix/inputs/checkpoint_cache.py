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

import itertools
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dashfix.cache import (
    KEY_WIDTH,
    NO_KEY,
    RACY_WINDOW_NS,
    CacheError,
    Chunks,
    VerifyCache,
    stat_keys,
)
from dashfix.inputs.checkpoint_record import PLAIN, RowValues
from dashfix.inputs.checkpoint_rows import LOST_PARENT, NO_PARENT, StoreRows

ROWS_KIND = "checkpoint-rows"
_NUMBERS = ("counters", "secs", "nanos", "mtimes", "sizes", "state_starts", "state_ends")
_STRINGS = ("threads", "nodes", "procs")
ELEMENTS = 7 + len(_STRINGS) + len(_NUMBERS)
"""Names, kept mask, modes, kinds, string table, a column of references into it per string
column, the number columns, parents, lost parents."""
CHUNK = 4096
"""Rows stat-ed and compared per step, so no per-file key array is ever held whole."""


class _Previous:
    """A decoded row cache: the columns of the rows it holds, in its own row order."""

    def __init__(self, content: Any) -> None:
        try:
            names, kept, modes, kinds, strings, *refs, parents, lost = content
            self.names: list[str] = list(names)
            self.kinds = bytes(kinds)
            self.strings: list[str | None] = list(strings)
            self.refs = [_int64s(column) for column in refs[: len(_STRINGS)]]
            self.numbers = [_int64s(column) for column in refs[len(_STRINGS) :]]
            self.parents = _int64s(parents)
            self.lost: dict[int, str] = dict(lost)
            self.keys = _keys(bytes(kept), _int32s(modes), self.numbers)
        except (TypeError, ValueError) as exc:
            raise CacheError(f"malformed rows ({exc})") from None
        if not self._consistent():
            raise CacheError("malformed rows")
        self.row_of: dict[str, int] | None = None

    def _consistent(self) -> bool:
        count = len(self.names)
        return (all(type(name) is str for name in self.names)
                and all(text is None or type(text) is str for text in self.strings)
                and len(self.keys) == KEY_WIDTH * count and len(self.kinds) == count
                and len(self.refs) == len(_STRINGS) and len(self.numbers) == len(_NUMBERS)
                and all(len(column) == count for column in (*self.refs, *self.numbers))
                and len(self.parents) == count
                and all(0 <= ref < len(self.strings) for column in self.refs for ref in column)
                and all(parent < count for parent in self.parents)
                and all(type(row) is int and type(parent) is str
                        for row, parent in self.lost.items()))

    def row(self, name: str, at: int) -> int | None:
        """The cached row of ``name`` (the current listing's row ``at``)."""
        if self.row_of is None:
            if at < len(self.names) and self.names[at] == name:
                return at
            self.row_of = dict(zip(self.names, range(len(self.names)), strict=True))
        return self.row_of.get(name)

    def copy_rows(self, rows: StoreRows, start: int, stop: int) -> None:
        """Rows ``start:stop`` of ``rows`` are this cache's rows ``start:stop``, all PLAIN
        (their keys were kept) and named alike (so parent rows point to the same names)."""
        rows.kinds[start:stop] = self.kinds[start:stop]
        strings = self.strings
        for name, refs in zip(_STRINGS, self.refs, strict=True):
            getattr(rows, name)[start:stop] = [strings[ref] for ref in refs[start:stop]]
        for name, column in zip(_NUMBERS, self.numbers, strict=True):
            getattr(rows, name)[start:stop] = column[start:stop]
        rows.parent_rows[start:stop] = self.parents[start:stop]
        if self.lost:
            rows.lost_parents.update((row, parent) for row, parent in self.lost.items()
                                     if start <= row < stop)

    def values(self, row: int) -> RowValues:
        strings = self.strings
        parent = self.parents[row]
        parent_id = (None if parent == NO_PARENT else self.lost.get(row) if parent == LOST_PARENT
                     else self.names[parent][:-4])
        return (PLAIN, *(strings[refs[row]] for refs in self.refs),
                *(column[row] for column in self.numbers), parent_id)  # type: ignore[return-value]


def _keys(kept: bytes, modes: array[int], numbers: list[array[int]]) -> array[int]:
    """Each row's key (size, mtime_ns, mode), ``NO_KEY`` where ``kept`` says the row was
    not kept."""
    sizes, mtimes = numbers[_NUMBERS.index("sizes")], numbers[_NUMBERS.index("mtimes")]
    count = len(kept)
    if not len(sizes) == len(mtimes) == len(modes) == count:
        raise ValueError("columns of different lengths")
    keys = array("q", [0]) * (KEY_WIDTH * count)
    keys[0::KEY_WIDTH], keys[1::KEY_WIDTH] = sizes, mtimes
    keys[2::KEY_WIDTH] = array("q", modes)
    for at in (at for at, keep in enumerate(kept) if not keep):
        keys[KEY_WIDTH * at : KEY_WIDTH * (at + 1)] = array("q", NO_KEY)
    return keys


def _int32s(data: bytes) -> array[int]:
    values = array("i")
    values.frombytes(data)
    return values


def _int64s(data: bytes) -> array[int]:
    values = array("q")
    values.frombytes(data)
    return values


class RowCache:
    """The row cache of one store during a run: ``fill`` takes the unchanged rows from the
    last run, and the rows of this run are written when the ``VerifyCache`` is saved."""

    def __init__(self, verify_cache: VerifyCache, store: Path) -> None:
        path, header, content = verify_cache.load(ROWS_KIND, store)
        self.previous: _Previous | None = None
        if content is not None:
            try:
                self.previous = _Previous(content)
            except CacheError as exc:
                verify_cache.warnings.append(f"cache {path}: {exc}; rebuilding")
        self.started_ns = verify_cache.started_ns
        self.verify_cache = verify_cache
        self.store = store
        self.rows: StoreRows | None = None
        self.count = 0
        self.hits = 0
        self._document = (path, header)
        self.changed = True

    def fill(self, rows: StoreRows, count: int, dir_fd: int) -> bytearray:
        """Fill the rows ``0:count`` (the listed regular files) whose name and stat key
        match the last run's; the mask of the rows filled (the reader skips them)."""
        filled = bytearray(count)
        self.rows, self.count = rows, count
        rows.modes = array("i", [-1]) * len(rows)  # the C reader fills them in
        previous = self.previous
        if previous is None:
            return filled
        names = rows.names
        aligned = previous.names == names[:count]
        for start in range(0, count, CHUNK):
            stop = min(start + CHUNK, count)
            keys = stat_keys(dir_fd, names, start, stop)
            if aligned and keys == previous.keys[KEY_WIDTH * start : KEY_WIDTH * stop]:
                # The usual chunk of an unchanged store: every row kept and unchanged.
                previous.copy_rows(rows, start, stop)
                filled[start:stop] = b"\x01" * (stop - start)
                continue
            for at in range(start, stop):
                row = previous.row(names[at], at)
                if row is None or previous.kinds[row] != PLAIN:
                    continue
                base, old = KEY_WIDTH * (at - start), KEY_WIDTH * row
                if keys[base : base + KEY_WIDTH] == previous.keys[old : old + KEY_WIDTH]:
                    rows.set_row(at, previous.values(row), None)
                    filled[at] = 1
        self.hits = sum(filled)
        self.verify_cache.hits += self.hits
        # When every row is the cache's own there is nothing new to write.
        self.changed = self.hits != count or len(previous.names) != count
        return filled

    def save(self) -> None:
        """Write the rows now, once they are read: the scan's rows are then no longer held
        here while the checks run and the rest of the cache is saved."""
        if self.changed:
            path, header = self._document
            self.verify_cache.write(path, header, ELEMENTS, self._elements)
        self.rows = None

    def _elements(self) -> Iterator[Any]:
        """The document to save, one element at a time (each is packed and written before
        the next is built): names, keys, kinds, the string table and each row's
        references into it, the number columns, the parents and the lost parents."""
        rows, count = self.rows, self.count
        if rows is None:
            rows, count = StoreRows([]), 0
        whole = count == len(rows)
        yield rows.names if whole else rows.names[:count]
        yield self._kept(rows, count)
        assert rows.modes is not None
        yield memoryview(rows.modes)[:count]
        yield bytes(rows.kinds[:count])
        columns = [getattr(rows, name) for name in _STRINGS]
        table = list(dict.fromkeys(itertools.chain.from_iterable(
            itertools.islice(column, count) for column in columns)))
        yield table or [None]
        index = {text: at for at, text in enumerate(table)}
        del table
        for column in columns:
            # Rows past ``count`` are the odd entries (FIFOs, symlinks...): never cached.
            yield Chunks(8 * count, (
                array("q", map(index.__getitem__,
                               itertools.islice(column, start, min(start + CHUNK, count))))
                for start in range(0, count, CHUNK)))
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
        kept = bytearray(b"\x01") * count
        if not count:
            return bytes(kept)
        if rows.modes is None:
            rows.modes = array("i", [-1]) * len(rows)  # the C reader fills them in
        dropped = [at for at, kind in enumerate(rows.kinds[:count]) if kind != PLAIN]
        if rows.modes[:count].count(-1) > len(dropped):  # PLAIN rows the Python path read
            dropped += self._stat_again(rows, count)
        mtimes, recent = rows.mtimes, self.started_ns - RACY_WINDOW_NS
        if max(mtimes[:count]) >= recent:
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
