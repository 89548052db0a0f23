"""dashfix's C helpers (``dashfix/_native.c``), when this install has them.

They serve the hot paths: splitting kcat records out of a chunk (``formats/kcat.py``),
reading DashStream messages from their wire bytes (``checks/stream/scan.py``), comparing
windows' message_id hashes, listing a store folder, turning Kafka batches into records and
checking their keys (below), and reading checkpoint files (``inputs/checkpoint_files/``).
``pip install`` compiles the extension where a C compiler is available (``setup.py``,
``optional=True``); without one (or with ``DASHFIX_PURE_PYTHON=1``), each caller uses its
Python twin of the same rule, slower, and tests hold the two to the same answers.
"""

from __future__ import annotations

import os
import sys
from array import array
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any, Protocol, overload

if TYPE_CHECKING:
    from dashfix.sampling import Sample

PURE_PYTHON_VARIABLE = "DASHFIX_PURE_PYTHON"
"""Set to 1, the C helpers are not used even where they are built (``make test`` checks
the Python twins that way too)."""

MODULE: Any = None
if os.environ.get(PURE_PYTHON_VARIABLE) != "1":
    try:
        from dashfix import _native as MODULE  # type: ignore[attr-defined,no-redef]
    except ImportError:
        MODULE = None


def key_hashes(dicts: list[dict[bytes, Any]]) -> array[int]:
    """``hash`` of every key of ``dicts``."""
    if MODULE is None:
        return array("q", (hash(key) for keys in dicts for key in keys))
    hashes = array("q")
    hashes.frombytes(MODULE.key_hashes(dicts))
    return hashes


def shares_any(first: array[int], second: array[int]) -> bool:
    """Whether two arrays of integers hold a value in common."""
    if MODULE is None:
        return not set(first).isdisjoint(second)
    return bool(MODULE.shares_any(first, second))


def message_block(messages: list[Any], keys: dict[int, bytes | None]
                  ) -> list[tuple[int, int, bytes | None]] | None:
    """A batch of confluent-kafka messages as ``(offset, 0, value)`` records, or None when
    one of them is an error (an end of partition, say); ``keys`` is cleared, then maps each
    record's offset to its key."""
    if MODULE is None:
        return message_block_python(messages, keys)
    block: list[tuple[int, int, bytes | None]] | None = MODULE.message_block(messages, keys)
    return block


def message_block_python(messages: list[Any], keys: dict[int, bytes | None]
                         ) -> list[tuple[int, int, bytes | None]] | None:
    keys.clear()
    if any(message.error() is not None for message in messages):
        return None
    offsets = [message.offset() for message in messages]
    keys.update(zip(offsets, [message.key() for message in messages], strict=True))
    return list(zip(offsets, repeat(0), [message.value() for message in messages],
                    strict=False))


def key_misfits(block: Sequence[tuple[Any, ...]], scans: Sequence[Any],
                keys: Mapping[Any, bytes | None], homes: dict[str, int],
                partition: int) -> list[int]:
    """The indexes of the records of ``block`` that have a scan (``scans[i]``, whose item 1
    is the header's thread_id) and either a key (``keys[offset]``) that is not the
    thread_id's UTF-8, or else a thread whose home (``homes.setdefault(thread_id,
    partition)``) is another partition."""
    if MODULE is None:
        return key_misfits_python(block, scans, keys, homes, partition)
    misfits: list[int] = MODULE.key_misfits(block, scans, keys, homes, partition)
    return misfits


def key_misfits_python(block: Sequence[tuple[Any, ...]], scans: Sequence[Any],
                       keys: Mapping[Any, bytes | None], homes: dict[str, int],
                       partition: int) -> list[int]:
    return [at for at, (record, scan) in enumerate(zip(block, scans, strict=True))
            if scan is not None and (keys[record[0]] != scan[1].encode()
                                     or homes.setdefault(scan[1], partition) != partition)]


def list_folder(dir_fd: int, *, sort: bool = True) -> tuple[list[str], list[str]]:
    """The entries of the folder ``dir_fd`` (symlinks not followed): the names of its
    regular files, sorted (or, without ``sort``, in listing order), and the names of every
    other entry (folders, symlinks, special files) in listing order. In C: one ``readdir``
    pass and a sort of the bytes, with the GIL released, and a string per name; its twin
    below, or for a folder holding a name that is not UTF-8 (decoded with surrogate escapes,
    which do not sort as their bytes)."""
    if MODULE is not None and _UTF8_NAMES:
        listed: tuple[list[str], list[str]] | None = MODULE.list_folder(dir_fd, sort)
        if listed is not None:
            return listed
    regular: list[str] = []
    others: list[str] = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            (regular if entry.is_file(follow_symlinks=False) else others).append(entry.name)
    if sort:
        regular.sort()
    return regular, others


def sampled_by_name(name: str) -> bool:
    """Whether ``list_sampled`` settles the name's sample itself: a plain ``*.bin`` (not
    ``.v.bin``, not ``index.bin``), which the scan counts as a store file by its name."""
    return name[-4:] == ".bin" and name[-6:] != ".v.bin" and name != "index.bin"


def list_sampled(dir_fd: int, sample: Sample) -> tuple[list[str], list[str], list[str], int]:
    """``list_folder`` for a ``--sample`` run without a cache: the names of the regular files
    ``sampled_by_name`` settles that are in ``sample``, sorted; the other regular files'
    names and every other entry's, in listing order; and how many ``sampled_by_name`` names
    were left out. In C, the bucket is hashed from each name's bytes as the folder is read,
    and only the names picked become strings; its twin below (``Sample.select``)."""
    if MODULE is not None and _UTF8_NAMES:
        listed: tuple[list[str], list[str], list[str], int] | None = MODULE.list_sampled(
            dir_fd, sample.part, sample.of, sample.percent)
        if listed is not None:
            return listed
    regular, others = list_folder(dir_fd, sort=False)
    settled = [name for name in regular if sampled_by_name(name)]
    picked = sorted(sample.select(settled))
    rest = [name for name in regular if not sampled_by_name(name)]
    return picked, rest, others, len(settled) - len(picked)


class RowTable(Protocol):
    """A store's name -> row table (``StoreRows.row_of``): a dict, or ``NameRows``."""

    @overload
    def get(self, name: str, /) -> int | None: ...
    @overload
    def get(self, name: str, default: int, /) -> int: ...
    def __getitem__(self, name: str, /) -> int: ...
    def __contains__(self, name: object, /) -> bool: ...


class NameRows:
    """``names[i] -> i`` in C (``_native.row_table``): 8-byte slots, about 16 bytes a name,
    where a dict of the names to int objects takes about 70 (issue 11's 1,000,000 files).
    The last row of a repeated name wins, as in a dict."""

    __slots__ = ("find", "names", "slots")

    def __init__(self, names: list[str], slots: bytes, find: Any) -> None:
        self.names = names
        self.slots = slots
        self.find = find
        """``_native.table_row`` of the module that built the slots."""

    @overload
    def get(self, name: str, /) -> int | None: ...
    @overload
    def get(self, name: str, default: int, /) -> int: ...
    def get(self, name: str, default: int | None = None, /) -> int | None:
        row: int = self.find(self.slots, self.names, name)
        return default if row < 0 else row

    def __getitem__(self, name: str, /) -> int:
        row: int = self.find(self.slots, self.names, name)
        if row < 0:
            raise KeyError(name)
        return row

    def __contains__(self, name: object, /) -> bool:
        return bool(self.find(self.slots, self.names, name) >= 0)


def row_table(names: list[str]) -> RowTable:
    """``names[i] -> i``: in C (``NameRows``), or its twin, a dict (also for names that are
    not UTF-8)."""
    if MODULE is not None:
        slots: bytes | None = MODULE.row_table(names)
        if slots is not None:
            return NameRows(names, slots, MODULE.table_row)
    return dict(zip(names, range(len(names)), strict=True))


def row_lookup(table: RowTable) -> object:
    """What ``_native.read_checkpoints`` takes to find a parent's row in ``table``."""
    return table.slots if isinstance(table, NameRows) else table


_UTF8_NAMES = sys.getfilesystemencoding() == "utf-8"
"""File names decode as UTF-8 (the C lister's assumption; any Linux with Python 3.7+)."""
