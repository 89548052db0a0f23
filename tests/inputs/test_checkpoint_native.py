"""The C checkpoint reader (``dashfix._native.read_checkpoints``) answers as the Python path.

A store is scanned twice, once with the C reader and once with the Python path alone (what
an install without a compiler, or ``DASHFIX_PURE_PYTHON=1``, runs), and every column of
every row must be the same: a file the C reader takes must give the very row the Python
path gives, and a file it leaves goes to that path anyway.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix import native
from dashfix.formats import dchk
from dashfix.formats.checkpoint import DEFAULT_SECS_BOUNDS, encode_checkpoint
from dashfix.inputs.checkpoint_files import reader_pool
from dashfix.inputs.checkpoint_files.file_reader import MAX_FILE_BYTES
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_record import PLAIN
from dashfix.inputs.checkpoint_rows import StoreRows
from dashfix.testing.checkpoints import DEFAULT_PROC, StoreBuilder, build_large_store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _c_module() -> ModuleType:
    try:
        from dashfix import _native  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover (make test requires the build)
        pytest.skip("the C helpers are not built")
    module: ModuleType = _native
    return module


@contextlib.contextmanager
def _reader(module: Any) -> Iterator[None]:
    saved = native.MODULE
    native.MODULE = module
    try:
        yield
    finally:
        native.MODULE = saved


def _columns(rows: StoreRows) -> tuple[object, ...]:
    return (rows.names, bytes(rows.kinds), rows.threads, rows.nodes, rows.procs,
            *(column.tolist() for column in (rows.counters, rows.secs, rows.nanos, rows.mtimes,
                                             rows.sizes, rows.state_starts, rows.state_ends,
                                             rows.parent_rows)),
            rows.lost_parents, rows.others)


def _both_ways(store: Path) -> tuple[StoreRows, StoreRows]:
    with _reader(_c_module()):
        in_c = scan_store(store).rows
    with _reader(None):
        in_python = scan_store(store).rows
    return in_c, in_python


def _assert_same_rows(store: Path) -> StoreRows:
    in_c, in_python = _both_ways(store)
    assert _columns(in_c) == _columns(in_python)
    return in_c


def _left_by_c(store: Path) -> list[str]:
    """The names the C reader leaves to the Python path."""
    names = sorted(os.listdir(store))
    rows = StoreRows(names)
    dir_fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY)
    try:
        left = _c_module().read_checkpoints(dir_fd, names, 0, len(names),
                                            native.row_lookup(rows.row_of),
                                            rows.columns(), MAX_FILE_BYTES,
                                            *DEFAULT_SECS_BOUNDS)
    finally:
        os.close(dir_fd)
    return [names[row] for row in left]


@pytest.mark.skipif(os.environ.get(native.PURE_PYTHON_VARIABLE) == "1",
                    reason="the Python twins are under test")
def test_c_reader_is_built_and_used() -> None:
    """``make test`` runs where a C compiler is: the checkpoint reader must be in use."""
    assert native.MODULE is not None and hasattr(native.MODULE, "read_checkpoints")


STORES = sorted({path.parent for path in FIXTURES.rglob("*.bin")} - {FIXTURES})


@pytest.mark.parametrize("store", STORES, ids=lambda path: str(path.relative_to(FIXTURES)))
def test_every_fixture_store_reads_the_same_in_c_and_python(store: Path) -> None:
    _assert_same_rows(store)


def test_the_c_reader_takes_every_plain_checkpoint(tmp_path: Path) -> None:
    """Not vacuous: the usual shapes (first checkpoint with no parent, a parent, nanos, any
    node) are read in C, and only the other entries are left to Python."""
    store = StoreBuilder(tmp_path)
    store.chain("alpha", 4)
    store.checkpoint("beta", nanos=999_999_999, node="ünïcode node")
    store.checkpoint("beta", parent="beta_gone_7")
    store.checkpoint("gamma", node="")
    store.checkpoint("alpha", metadata={"k": "v"})  # healthy, not PLAIN
    store.index()
    (tmp_path / "zeros.bin").write_bytes(bytes(4096))
    left = _left_by_c(tmp_path)
    assert sorted(left) == sorted(
        ["index.bin", "zeros.bin", f"alpha_{DEFAULT_PROC}_chkpt4.bin"]
        + [name for name in os.listdir(tmp_path) if not name.endswith(".bin")])
    rows = _assert_same_rows(tmp_path)
    assert rows.lost_parents == {rows.row_of[f"beta_{DEFAULT_PROC}_chkpt1.bin"]: "beta_gone_7"}


def test_entries_that_are_not_regular_files_go_to_python(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    store.chain("alpha", 2)
    os.mkfifo(tmp_path / f"alpha_{DEFAULT_PROC}_chkpt9.bin")
    (tmp_path / f"alpha_{DEFAULT_PROC}_chkpt8.bin").mkdir()
    os.symlink(f"alpha_{DEFAULT_PROC}_chkpt0.bin", tmp_path / f"alpha_{DEFAULT_PROC}_chkpt7.bin")
    (tmp_path / "caf\udce9.bin".encode("utf-8", "surrogateescape").decode(
        "utf-8", "surrogateescape")).write_bytes(
        (tmp_path / f"alpha_{DEFAULT_PROC}_chkpt1.bin").read_bytes())
    left = _left_by_c(tmp_path)
    assert {f"alpha_{DEFAULT_PROC}_chkpt{n}.bin" for n in (7, 8, 9)} <= set(left)
    _assert_same_rows(tmp_path)


def test_the_benchmark_store_reads_the_same(tmp_path: Path) -> None:
    build_large_store(tmp_path, files=300, threads=7, state_size=64)
    rows = _assert_same_rows(tmp_path)
    assert sum(kind == PLAIN for kind in rows.kinds) == 300


_THREADS = st.sampled_from(["t", "alpha", "t_x", "a..b", "c:d", "ü", "", "t\x00"])
_IDS = st.sampled_from([
    "{t}_1a2b3c4d5e_chkpt7", "{t}_1a2b3c4d5e_chkpt07", "{t}_1a2b3c4d5e_chkpt12345678901234567890",
    "{t}_1a2b3c4d5e6f7a8b_chkpt1", "{t}_1a2b3c4d5e6f7a8b9_chkpt1", "{t}_abcd_chkpt1",
    "{t}_ABCDE_chkpt1", "{t}_1a2b3c4d5e_chkpt", "{t}_3", "other_1a2b3c4d5e_chkpt7",
    "9f7c1d2e-0b1a-4c3d-8e9f-0a1b2c3d4e5f", "{t}_1a2b3c4d5e_chkp7", "{t}/x_1a2b3c4d5e_chkpt1",
])
_PARENTS = st.sampled_from([
    None, "{t}_1a2b3c4d5e_chkpt6", "{t}_2", "", "other_1a2b3c4d5e_chkpt6", "{t}_" + "p" * 260,
    "{t}", "{t}_\u00e9", "o\x00",
])
_NODES = st.sampled_from(["agent", "", "n" * 255, "n" * 256, "ü", "a\x00b"])
_SECS = st.sampled_from([1_760_000_000, DEFAULT_SECS_BOUNDS[0], DEFAULT_SECS_BOUNDS[0] - 1,
                         DEFAULT_SECS_BOUNDS[1] - 1, DEFAULT_SECS_BOUNDS[1], 2**64 - 1])
_NANOS = st.sampled_from([0, 999_999_999, 1_000_000_000])
_STATES = st.one_of(st.binary(max_size=48), st.sampled_from([b"", bytes(16), b"\x01" + bytes(7)]))
_NAMES = st.sampled_from(["{id}.bin", "{id}.bin", "{id}.bin", "renamed.bin", "{id}.v.bin",
                          "{id}.bin.gz", "{id}.json", ".tmp.{id}.bin"])


@st.composite
def checkpoint_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A checkpoint file (name, bytes): generated fields, then maybe damaged before the CRC
    is computed (it passes the header check) or after (it does not)."""
    thread = draw(_THREADS)
    checkpoint_id = draw(_IDS).format(t=thread)
    parent = draw(_PARENTS)
    payload = bytearray(encode_checkpoint(
        checkpoint_id, thread, draw(_STATES), draw(_NODES), draw(_SECS), draw(_NANOS),
        None if parent is None else parent.format(t=thread),
        draw(st.just({}) | st.dictionaries(st.text(max_size=3), st.text(max_size=3),
                                           max_size=2))))
    mutation = draw(st.sampled_from(["none", "none", "payload", "header", "truncate", "append",
                                     "zeros"]))
    if mutation == "payload":
        payload[draw(st.integers(0, len(payload) - 1))] = draw(st.integers(0, 255))
    data = bytearray(dchk.wrap(bytes(payload), draw(st.sampled_from([1, 1, 1, 0, 2]))))
    if mutation == "header":
        data[draw(st.integers(0, 19))] ^= draw(st.integers(1, 255))
    elif mutation == "truncate":
        del data[draw(st.integers(0, len(data) - 1)):]
    elif mutation == "append":
        data += draw(st.binary(min_size=1, max_size=9))
    elif mutation == "zeros":
        data = bytearray(len(data))
    name = draw(_NAMES).format(id=checkpoint_id)
    return name, bytes(data)


def _safe_name(name: str) -> bool:
    return "/" not in name and "\x00" not in name and name not in ("", ".", "..")


@settings(max_examples=150, deadline=None)
@given(st.lists(checkpoint_files(), min_size=1, max_size=6))
def test_generated_and_damaged_checkpoints_read_the_same(files: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files:
            if _safe_name(name):
                Path(folder, name).write_bytes(data)
        _assert_same_rows(Path(folder))


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=0, max_size=400), st.integers(0, 2**32 - 1))
def test_random_bytes_behind_a_valid_header_read_the_same(payload: bytes, seed: int) -> None:
    """Bytes that pass the DCHK header and CRC but hold anything at all."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, f"t_1a2b3c4d5e_chkpt{seed}.bin").write_bytes(dchk.wrap(payload))
        _assert_same_rows(Path(folder))


def test_parallel_threads_fill_the_same_rows(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = StoreBuilder(tmp_path)
    for number in range(60):
        store.checkpoint(f"thread-{number % 5}")
    (tmp_path / "broken.bin").write_bytes(b"DCHK" + b"\x01" * 30)
    serial = _assert_same_rows(tmp_path)
    monkeypatch.setattr(reader_pool, "PARALLEL_MIN_FILES_PER_WORKER", 1)
    monkeypatch.setattr(reader_pool, "ROWS_PER_SPAN", 7)
    monkeypatch.setattr(reader_pool, "usable_cpus", lambda: 2)
    threaded = _assert_same_rows(tmp_path)
    assert _columns(threaded) == _columns(serial)


def test_a_counter_past_int64_is_read_not_a_crash(tmp_path: Path) -> None:
    """DashFlow's counter is a u64; a row's column holds int64, so such an id keeps its
    record (the true counter) beside a row holding COUNTER_MAX."""
    from dashfix.inputs.checkpoint_record import COUNTER_MAX, OTHER

    StoreBuilder(tmp_path).checkpoint("t", checkpoint_id=f"t_{DEFAULT_PROC}_chkpt{2**64 - 1}")
    rows = _assert_same_rows(tmp_path)
    row = rows.row_of[f"t_{DEFAULT_PROC}_chkpt{2**64 - 1}.bin"]
    assert rows.kinds[row] == OTHER and rows.counters[row] == COUNTER_MAX
    assert rows.record(row).counter == 2**64 - 1


def _listed_both_ways(folder: Path) -> tuple[Any, tuple[list[str], list[str]]]:
    """The C lister's answer (None: left to the twin) and the Python twin's; unsorted,
    each lists the same names in the same order."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        in_c = _c_module().list_folder(dir_fd, True)
        with _reader(None):
            in_python = native.list_folder(dir_fd)
            assert native.list_folder(dir_fd, sort=False) == (
                _c_module().list_folder(dir_fd, False) or native.list_folder(dir_fd, sort=False))
    finally:
        os.close(dir_fd)
    return in_c, in_python


def test_the_c_lister_lists_as_scandir(tmp_path: Path) -> None:
    """Regular files sorted as Python sorts their names (code points: UTF-8's byte order),
    every other entry apart in listing order; a name that is not UTF-8 leaves the folder to
    the twin."""
    for name in ("b.bin", "B.bin", "a.bin", "é.bin", "z.bin", "日本.bin", "\U0001f600.bin",
                 "ÿ.bin", "index.bin", ".checkpoint.lock", ".hidden", "a" * 200):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.bin").mkdir()
    os.symlink("a.bin", tmp_path / "link.bin")
    os.mkfifo(tmp_path / "fifo.bin")
    in_c, in_python = _listed_both_ways(tmp_path)
    assert in_c == in_python
    regular, others = in_python
    assert regular == sorted(regular) and len(regular) == 12
    assert sorted(others) == ["fifo.bin", "folder.bin", "link.bin"]
    (tmp_path / os.fsdecode(b"caf\xe9.bin")).write_bytes(b"x")
    in_c, in_python = _listed_both_ways(tmp_path)
    assert in_c is None
    assert os.fsdecode(b"caf\xe9.bin") in in_python[0] and len(in_python[0]) == 13


@settings(max_examples=50, deadline=None)
@given(st.sets(st.text(st.characters(blacklist_categories=("Cs",),
                                     blacklist_characters="/\x00"), min_size=1, max_size=12)
               .filter(lambda name: name not in (".", "..")), max_size=30)
       | st.sets(st.text("ab", min_size=1, max_size=40), min_size=20, max_size=300))
def test_any_utf8_names_list_as_scandir(names: set[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            with contextlib.suppress(OSError):  # a name too long in bytes
                (Path(folder) / name).write_bytes(b"")
        in_c, in_python = _listed_both_ways(Path(folder))
        assert in_c == in_python


def test_an_empty_folder_lists_empty(tmp_path: Path) -> None:
    assert _listed_both_ways(tmp_path) == (([], []), ([], []))


def test_names_that_nest_the_c_sort_deeply_list_as_scandir(tmp_path: Path) -> None:
    """Names that are prefixes of one another nest the C sort one level per byte, past
    its budget (it then finishes with qsort): still Python's order."""
    for length in range(1, 251):
        (tmp_path / ("a" * length)).write_bytes(b"")
        (tmp_path / ("a" * (length - 1) + "b")).write_bytes(b"")
    in_c, in_python = _listed_both_ways(tmp_path)
    assert in_c == in_python
