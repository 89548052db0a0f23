"""The C side of listing a large store (``dashfix/_native.c``, "Listing a store folder of
1,000,000 files") answers as its Python twins in ``dashfix/native.py``: xxh3 as
python-xxhash, the sampled listing as ``Sample.select`` over ``os.scandir``, the sort as
Python's, and the name -> row table as a dict."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix import native
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.sampling import Sample, Selection
from dashfix.testing.checkpoints import build_large_store
from tests.inputs.test_checkpoint_native import _c_module

NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                min_size=1, max_size=40).filter(lambda name: name not in (".", ".."))
SAMPLES = st.integers(1, 12).flatmap(lambda of: st.builds(Sample, st.integers(1, of),
                                                         st.just(of))) | st.builds(
    lambda part: Sample(part, 10_000, percent=True), st.integers(1, 10_000))


@contextlib.contextmanager
def _twin() -> Iterator[None]:
    saved = native.MODULE
    native.MODULE = None
    try:
        yield
    finally:
        native.MODULE = saved


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1100) | st.binary(min_size=230, max_size=2200))
def test_xxh3_is_python_xxhash(data: bytes) -> None:
    """Every length class of XXH3 (0, 1-3, 4-8, 9-16, 17-128, 129-240, the blocks past
    240 and past 1,024) gives python-xxhash's value."""
    assert _c_module().xxh3_64(data) == xxhash.xxh3_64_intdigest(data)


def test_xxh3_at_every_length_up_to_two_blocks() -> None:
    for length in range(2100):
        data = bytes((length * 7 + i * 13) & 0xFF for i in range(length))
        assert _c_module().xxh3_64(data) == xxhash.xxh3_64_intdigest(data), length


def _listed(folder: Path, sample: Sample) -> tuple[object, object]:
    """``list_sampled`` in C (None: left to the twin) and by its twin, each with its
    unsorted lists sorted."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        in_c = _c_module().list_sampled(dir_fd, sample.part, sample.of, sample.percent)
        with _twin():
            in_python = native.list_sampled(dir_fd, sample)
    finally:
        os.close(dir_fd)

    def tidy(listed: tuple[list[str], list[str], list[str], int] | None) -> object:
        if listed is None:
            return None
        picked, rest, others, dropped = listed
        return picked, sorted(rest), sorted(others), dropped

    return tidy(in_c), tidy(in_python)


@settings(max_examples=60, deadline=None)
@given(st.sets(NAMES.map(lambda name: name + ".bin") | NAMES, max_size=40), SAMPLES)
def test_the_sampled_listing_is_its_twin(names: set[str], sample: Sample) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            with contextlib.suppress(OSError):  # a name too long in bytes
                (Path(folder) / name).write_bytes(b"")
        in_c, in_python = _listed(Path(folder), sample)
        assert in_c == in_python


def test_the_sampled_listing_leaves_every_other_entry_to_the_scan(tmp_path: Path) -> None:
    """index.bin, .v.bin, temps, folders, symlinks and FIFOs are never hashed in the listing;
    a name that is not UTF-8 leaves the folder to the twin."""
    for name in ("a.bin", "b.bin", "index.bin", "x.v.bin", "y.bin.gz", ".checkpoint.lock",
                 "a.bin.1234.tmp", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.bin").mkdir()
    os.symlink("a.bin", tmp_path / "link.bin")
    os.mkfifo(tmp_path / "fifo.bin")
    everything = Sample(10_000, 10_000, percent=True)
    in_c, in_python = _listed(tmp_path, everything)
    assert in_c == in_python == (
        ["a.bin", "b.bin"],
        sorted(["index.bin", "x.v.bin", "y.bin.gz", ".checkpoint.lock", "a.bin.1234.tmp",
                "notes.txt"]),
        ["fifo.bin", "folder.bin", "link.bin"], 0)
    (tmp_path / os.fsdecode(b"caf\xe9.bin")).write_bytes(b"")
    in_c, in_python = _listed(tmp_path, everything)
    assert in_c is None and os.fsdecode(b"caf\xe9.bin") in in_python[0]  # type: ignore[index]


@pytest.mark.parametrize("sample", [Sample(1, 10), Sample(10, 10), Sample(3, 7),
                                    Sample(250, 10_000, percent=True)],
                         ids=lambda sample: sample.describe())
def test_a_sampled_scan_reads_what_the_twin_reads(tmp_path: Path, sample: Sample) -> None:
    """Over a store, the C listing and the twin pick the same files, count the same left
    out, and give the same rows."""
    build_large_store(tmp_path, files=600, threads=7, state_size=64)
    (tmp_path / "x.v.bin").write_bytes(b"not a checkpoint")
    scans = []
    for twin in (False, True):
        selection = Selection(sample=sample)
        with _twin() if twin else contextlib.nullcontext():
            rows = scan_store(tmp_path, selection=selection, target="s").rows
        scans.append((rows.names, bytes(rows.kinds), rows.secs.tolist(),
                      rows.parent_rows.tolist(), dict(selection.sampled_out)))
    assert scans[0] == scans[1]
    assert 0 < len(scans[0][0]) < 601


@settings(max_examples=100, deadline=None)
@given(st.lists(NAMES | st.text("ab.", min_size=1, max_size=12), max_size=60),
       st.lists(NAMES, max_size=10))
def test_the_row_table_answers_as_a_dict(names: list[str], probes: list[str]) -> None:
    """Repeated names (the later row wins), names absent, and names with surrogates (not
    UTF-8: the table is then the dict twin, and a surrogate probe is absent)."""
    c_table = native.row_table(names)
    as_dict = dict(zip(names, range(len(names)), strict=True))
    for name in [*names, *probes, "caf\udce9.bin", ""]:
        assert c_table.get(name) == as_dict.get(name)
        assert c_table.get(name, -2) == as_dict.get(name, -2)
        assert (name in c_table) == (name in as_dict)
        if name in as_dict:
            assert c_table[name] == as_dict[name]
        else:
            with pytest.raises(KeyError):
                c_table[name]


@pytest.mark.skipif(os.environ.get(native.PURE_PYTHON_VARIABLE) == "1",
                    reason="the Python twins are under test")
def test_the_row_table_is_in_c_and_falls_back_to_a_dict() -> None:
    _c_module()
    assert isinstance(native.row_table(["a.bin", "b.bin"]), native.NameRows)
    surrogate = native.row_table(["a.bin", "caf\udce9.bin"])
    assert surrogate == {"a.bin": 0, "caf\udce9.bin": 1}
    with _twin():
        assert native.row_table(["a.bin"]) == {"a.bin": 0}


def test_a_large_row_table(tmp_path: Path) -> None:
    """Thousands of names of one shape (a store's): every row found, none invented."""
    names = [f"thread-{t:05d}_1a2b3c4d5e6f0a1b_chkpt{n}.bin" for t in range(40)
             for n in range(500)]
    table = native.row_table(names)
    assert all(table.get(name) == row for row, name in enumerate(names))
    assert table.get("thread-00000_1a2b3c4d5e6f0a1b_chkpt500.bin") is None
