"""The store scanner: one record per entry, bad input as records (never an exception)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashfix.checks.kinds import input_kinds
from dashfix.formats import dchk
from dashfix.formats.bincode import encode_string
from dashfix.formats.ids import IdScheme
from dashfix.inputs.checkpoint_files import reader_pool
from dashfix.inputs.checkpoint_files.discovery import claims_dir
from dashfix.inputs.checkpoint_files.file_reader import is_store_file, summarise_file
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_record import (
    ABSENT,
    DCHK,
    DIRECTORY,
    FLAG_NAME_MISMATCH,
    FOREIGN,
    LEGACY,
    PLAIN,
    SYMLINK,
    FileProblem,
    FileRecord,
    is_plain,
    plain_record,
)
from dashfix.inputs.checkpoint_rows import LOST_PARENT, RowBatch, StoreRows
from dashfix.inputs.latest import latest_per_thread
from dashfix.sampling import Selection, parse_sample
from dashfix.testing.checkpoints import DEFAULT_PROC, Header, StoreBuilder, flip_byte


def summarise_names(store: str, names: list[str]) -> list[FileRecord]:
    """The records of the regular files ``names`` of one store folder, read in this
    process, by name."""
    return reader_pool.read_store_rows(store, sorted(names), parallel=False)[0].records()


def _record(path: Path) -> FileRecord:
    return summarise_file(str(path.parent), path.name, os.stat(path))


def test_healthy_checkpoint_record_holds_every_field(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    first = store.checkpoint("alpha", node="plan", metadata={"sequence": "0"})
    second = store.checkpoint("alpha", node="draft", nanos=7)
    record = _record(second.path)
    assert record.variant == DCHK
    assert record.problem is None
    assert (record.checkpoint_id, record.thread_id, record.node) == (
        second.checkpoint_id, "alpha", "draft")
    assert (record.secs, record.nanos, record.parent_id) == (second.secs, 7, first.checkpoint_id)
    assert record.metadata_count == 0
    assert record.state_start < record.state_end <= record.size - dchk.HEADER_SIZE
    assert _record(first.path).metadata_count == 1


def test_record_is_msgpack_serialisable(tmp_path: Path) -> None:
    written = StoreBuilder(tmp_path).checkpoint("alpha")
    record = _record(written.path)
    assert FileRecord(*msgpack.unpackb(msgpack.packb(tuple(record)))) == record


def test_scan_reads_every_entry_once_and_never_follows_symlinks(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path / "store")
    store.chain("alpha", 2)
    store.index()
    store.lock()
    (tmp_path / "outside.bin").write_bytes(b"secret")
    (store.root / "link.bin").symlink_to(tmp_path / "outside.bin")
    (store.root / "sub.bin").mkdir()
    (store.root / "README.txt").write_text("not a store file")
    scan = scan_store(store.root)
    assert scan.index_present and scan.lock_present and scan.index_entries is not None
    variants = {r.name: r.variant for r in scan.records}
    assert variants == {
        f"alpha_{DEFAULT_PROC}_chkpt0.bin": DCHK,
        f"alpha_{DEFAULT_PROC}_chkpt1.bin": DCHK,
        "link.bin": SYMLINK,
        "sub.bin": DIRECTORY,
    }
    link = next(r for r in scan.records if r.variant == SYMLINK)
    assert link.actual == str(tmp_path / "outside.bin")


def test_bad_files_become_records_with_locations(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    store.write_raw("empty.bin", b"")
    store.write_raw("random.bin", random.Random(1).randbytes(300))
    huge = dchk.encode_header(b"x", length=2**63) + b"x"
    store.write_raw("huge.bin", huge)
    utf8 = encode_string("a") + (4).to_bytes(8, "little") + b"\xff\xfe\xfd\xfc"
    store.write_raw("utf8.bin", dchk.wrap(utf8))
    records = {r.name: r for r in summarise_names(str(tmp_path), sorted(os.listdir(tmp_path)))}
    assert records["empty.bin"].variant == FOREIGN and records["empty.bin"].offset == 0
    assert records["random.bin"].problem == FileProblem.FOREIGN
    huge_record = records["huge.bin"]
    assert (huge_record.problem, huge_record.offset) == (FileProblem.LENGTH_MISMATCH, 12)
    assert records["huge.bin"].expected == str(2**63)
    assert records["utf8.bin"].problem == FileProblem.PAYLOAD_UNDECODABLE
    assert records["utf8.bin"].offset == dchk.HEADER_SIZE + 17


def test_legacy_truncation_and_trailing_garbage_are_told_apart(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    whole = store.checkpoint("alpha", header=Header.LEGACY)
    assert _record(whole.path).variant == LEGACY and _record(whole.path).problem is None
    size = whole.path.stat().st_size
    whole.path.write_bytes(whole.payload + b"tail-junk")
    garbage = _record(whole.path)
    assert (garbage.problem, garbage.offset, garbage.actual) == (
        FileProblem.LEGACY_TRAILING_GARBAGE, size, str(size + 9))
    whole.path.write_bytes(whole.payload[:-5])
    assert _record(whole.path).problem == FileProblem.LEGACY_TRUNCATED
    whole.path.write_bytes(whole.payload[:12])
    assert _record(whole.path).problem == FileProblem.LEGACY_TRUNCATED


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every example of a hypothesis test: a function-scoped tmp_path would
    be shared between examples anyway, and pytest removes this one with the others."""
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), name=st.sampled_from(
    ["x.bin", "x.bin.gz", "x.v.bin", "x.v.bin.gz", "x.json",
     ".x_1a2b3_chkpt0.bin.12345678-1234-4123-8123-123456789abc.tmp"]))
def test_summarise_never_raises(fuzz_folder: Path, data: bytes, name: str) -> None:
    path = fuzz_folder / name
    path.write_bytes(data)
    record = _record(path)
    assert record.size == len(data)
    assert record.problem is None or isinstance(record.problem, FileProblem)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=dchk.HEADER_SIZE, max_size=200))
def test_dchk_with_valid_crc_never_raises(fuzz_folder: Path, payload: bytes) -> None:
    path = fuzz_folder / "y.bin"
    path.write_bytes(dchk.wrap(payload))
    record = _record(path)
    assert record.variant == DCHK
    assert record.problem in (None, FileProblem.PAYLOAD_UNDECODABLE)


def test_latest_per_thread_breaks_ties_on_the_id_string() -> None:
    def rec(checkpoint_id: str, secs: int, problem: FileProblem | None = None) -> FileRecord:
        return FileRecord(f"{checkpoint_id}.bin", DCHK, 1, 0, problem, checkpoint_id=checkpoint_id,
                          thread_id="t", secs=secs)

    records = [rec("t_p_chkpt10", 5), rec("t_p_chkpt9", 5),
               rec("t_p_chkpt11", 9, FileProblem.CHECKSUM_MISMATCH), rec("t_p_chkpt3", -1)]
    assert latest_per_thread(records)["t"].checkpoint_id == "t_p_chkpt9"


def test_discovery_claims_stores_only(tmp_path: Path) -> None:
    StoreBuilder(tmp_path / "a").checkpoint("alpha")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "index.bin").write_bytes(b"\x00" * 8)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.bin").write_bytes(b"\xff" * 40)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.v.bin").write_bytes(StoreBuilder(tmp_path / "e")
                                             .versioned_checkpoint("v").path.read_bytes())
    assert [claims_dir(tmp_path / n) for n in "abcd"] == [True, True, False, True]
    assert claims_dir(tmp_path) is False
    assert input_kinds()[0].name == "checkpoint-store"


_TEXT = st.text(alphabet=st.sampled_from("ab_1\x00é/"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(thread=_TEXT, suffix=st.sampled_from(["_1a2b3c4d5e_chkpt7", "_3", "", "_x"]),
       state=st.binary(max_size=40), node=_TEXT,
       secs=st.sampled_from([1_700_000_000, 1_700_000_000, 5]),
       nanos=st.sampled_from([0, 0, 999_999_999, 1_000_000_000]),
       parent=st.sampled_from([None, "{thread}_1a2b3c4d5e_chkpt6", "{thread}_2", "", "o\x00"]),
       metadata=st.just({}) | st.dictionaries(_TEXT, _TEXT, max_size=1),
       flip=st.none() | st.tuples(st.integers(min_value=0), st.integers(0, 255)),
       version=st.sampled_from([1, 1, 1, 0, 2]))
def test_plain_dchk_shortcut_builds_the_general_record(
    thread: str, suffix: str, state: bytes, node: str, secs: int, nanos: int,
    parent: str | None, metadata: dict[str, str], flip: tuple[int, int] | None, version: int,
) -> None:
    from dashfix.formats.checkpoint import encode_checkpoint
    from dashfix.inputs.checkpoint_files.variants import _summarise_dchk, _summarise_plain_dchk

    checkpoint_id = thread + suffix
    parent_id = None if parent is None else parent.format(thread=thread)
    payload = bytearray(encode_checkpoint(checkpoint_id, thread, state, node, secs, nanos,
                                          parent_id, metadata))
    if flip is not None:
        payload[flip[0] % len(payload)] = flip[1]
    data = dchk.wrap(bytes(payload), version)
    info = os.stat_result((0o100644, 1, 1, 1, 0, 0, len(data), 0, 0, 0))
    name = f"{checkpoint_id}.bin"
    plain = _summarise_plain_dchk(name, info, data)
    general = _summarise_dchk(FileRecord(name, DCHK, len(data), info.st_mtime_ns), data)
    assert plain is None or plain_record(name, plain) == general
    # ... and it takes every such file: the Python twin's speed depends on it.
    if is_plain(general) and general.parent_id:
        assert plain is not None


def test_plain_dchk_shortcut_takes_an_ordinary_checkpoint(tmp_path: Path) -> None:
    from dashfix.inputs.checkpoint_files.variants import _summarise_plain_dchk

    store = StoreBuilder(tmp_path)
    store.checkpoint("alpha")
    child = store.checkpoint("alpha")
    data = child.path.read_bytes()
    row = _summarise_plain_dchk(child.path.name, os.stat(child.path), data)
    assert row is not None
    plain = plain_record(child.path.name, row)
    assert plain == _record(child.path)
    assert plain.parent_id is not None and plain.secs >= 0


def test_parallel_reading_gives_the_records_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    store = StoreBuilder(tmp_path)
    for number in range(40):
        store.checkpoint(f"thread-{number % 3}")
    (tmp_path / "broken.bin").write_bytes(b"DCHK" + b"\x01" * 30)
    names = sorted(name for name in os.listdir(tmp_path) if is_store_file(name))
    monkeypatch.setattr(reader_pool, "PARALLEL_MIN_FILES_PER_WORKER", 1)
    monkeypatch.setattr(reader_pool, "usable_cpus", lambda: 2)
    parallel = reader_pool.read_store_rows(str(tmp_path), names)[0].records()
    assert sorted(parallel) == sorted(summarise_names(str(tmp_path), names))
    assert all(type(record) is FileRecord for record in parallel)


def _forked_readers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    store = StoreBuilder(tmp_path)
    for number in range(20):
        store.checkpoint(f"thread-{number % 3}")
    monkeypatch.setattr(reader_pool, "PARALLEL_MIN_FILES_PER_WORKER", 1)
    monkeypatch.setattr(reader_pool, "ROWS_PER_SPAN", 3)
    monkeypatch.setattr(reader_pool, "usable_cpus", lambda: 2)
    monkeypatch.setattr(reader_pool.native, "MODULE", None)  # the Python readers
    return sorted(os.listdir(tmp_path))


def test_a_reader_that_fails_raises_its_error_in_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _forked_readers(tmp_path, monkeypatch)

    def failing(*args: object) -> None:
        raise ValueError("a reader failed")

    monkeypatch.setattr(reader_pool, "_read_rows", failing)
    with pytest.raises(ValueError, match="a reader failed"):
        reader_pool.read_store_rows(str(tmp_path), names)


def test_a_reader_that_dies_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _forked_readers(tmp_path, monkeypatch)
    monkeypatch.setattr(reader_pool, "_read_rows", lambda *args: os._exit(3))
    with pytest.raises(OSError, match="ended without its rows"):
        reader_pool.read_store_rows(str(tmp_path), names)


def test_a_failure_while_the_readers_start_ends_the_ones_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _forked_readers(tmp_path, monkeypatch)
    forks: list[int] = []
    fork = reader_pool.fork_worker

    def second_fails() -> int:
        if forks:
            raise RuntimeError("the second reader did not start")
        forks.append(fork())
        return forks[-1]

    read = reader_pool._read_rows

    def larger_than_a_pipe(*args: Any) -> RowBatch:
        batch = read(*args)
        return batch._replace(lost_parents={batch.start: "x" * 100_000})

    # The first reader blocks on its full pipe until this process reads it.
    monkeypatch.setattr(reader_pool, "_read_rows", larger_than_a_pipe)
    monkeypatch.setattr(reader_pool, "fork_worker", second_fails)
    with pytest.raises(RuntimeError, match="did not start"):
        reader_pool.read_store_rows(str(tmp_path), names)
    with pytest.raises(ChildProcessError):  # the first reader was reaped
        os.waitpid(forks[0], os.WNOHANG)


def test_readers_told_to_stop_leave_every_span_read_or_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _forked_readers(tmp_path, monkeypatch)
    rows, unread = reader_pool.read_store_rows(str(tmp_path), names, expired=lambda: True)
    read = {row for row, kind in enumerate(rows.kinds) if kind != ABSENT}
    left = {row for start, stop in unread for row in range(start, stop)}
    assert read  # the spans under way when the time ran out are finished
    assert not read & left
    assert read | left == set(range(len(names)))


def _mixed_store(root: Path) -> StoreBuilder:
    """Plain checkpoints and one of nearly every other kind of entry."""
    store = StoreBuilder(root)
    alpha = store.chain("alpha", 3)
    store.chain("beta", 2, scheme=IdScheme.COUNTER)
    store.checkpoint("alpha", nanos=123_456_789, node="draft")
    store.checkpoint("alpha", parent="alpha_gone_7")  # a parent that names no file
    store.checkpoint("alpha", metadata={"sequence": "3"})  # healthy, but not PLAIN
    store.checkpoint("alpha", name="renamed.bin")
    flip_byte(store.checkpoint("gamma").path, 40)
    store.versioned_checkpoint("v")
    store.temp_checkpoint(alpha[-1])
    store.write_raw("junk.bin", b"\xff" * 40)
    (root / "sub.bin").mkdir()
    (root / "notes.txt").write_text("not a store file")
    store.index()
    return store


def test_rows_rebuild_every_record(tmp_path: Path) -> None:
    _mixed_store(tmp_path)
    # One record per file, each read on its own (not through the column store).
    records = [_record(path) for path in tmp_path.iterdir()
               if path.is_file() and is_store_file(path.name)]
    rows = StoreRows.of_records(records)
    assert rows.records() == sorted(records)
    assert [rows.record(row) for row in range(len(rows))] == sorted(records)
    kinds = {rows.names[row]: kind for row, kind in enumerate(rows.kinds)}
    assert kinds[f"alpha_{DEFAULT_PROC}_chkpt1.bin"] == PLAIN
    assert kinds["beta_1.bin"] == PLAIN
    assert {name for name, kind in kinds.items() if kind == PLAIN} == {
        r.name for r in records if is_plain(r)}
    lost = next(row for row in range(len(rows)) if rows.parent_id(row) == "alpha_gone_7")
    assert rows.parent_rows[lost] == LOST_PARENT


def test_scan_rows_equal_the_rows_of_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    _mixed_store(tmp_path)
    for number in range(30):
        StoreBuilder(tmp_path).checkpoint(f"thread-{number % 4}")
    monkeypatch.setattr(reader_pool, "PARALLEL_MIN_FILES_PER_WORKER", 1)
    monkeypatch.setattr(reader_pool, "ROWS_PER_SPAN", 7)
    monkeypatch.setattr(reader_pool, "usable_cpus", lambda: 2)
    scan = scan_store(tmp_path)  # parallel readers, many spans
    # A sample of everything takes the partial path (rows rebuilt from the records read).
    from_records = scan_store(tmp_path, selection=Selection(parse_sample("100%")))
    assert scan.records == from_records.records
    assert sorted(scan.rows.others.values()) == sorted(from_records.rows.others.values())
    assert not any(name == "notes.txt" for name in (r.name for r in scan.records))


def _plain_and_general(name: str, checkpoint_id: str, thread: str) -> tuple[object, FileRecord]:
    from dashfix.formats.checkpoint import encode_checkpoint
    from dashfix.inputs.checkpoint_files.variants import _summarise_dchk, _summarise_plain_dchk

    parent = f"{thread}_1a2b3c4d5e_chkpt1"
    data = dchk.wrap(encode_checkpoint(checkpoint_id, thread, b"s", "n", 1_700_000_000, 0,
                                       parent, {}))
    info = os.stat_result((0o100644, 1, 1, 1, 0, 0, len(data), 0, 0, 0))
    row = _summarise_plain_dchk(name, info, data)
    general = _summarise_dchk(FileRecord(name, DCHK, len(data), info.st_mtime_ns), data)
    return None if row is None else plain_record(name, row), general


@settings(max_examples=300, deadline=None)
@given(thread=st.sampled_from(["t", "t", "t_x", "a..b", "c:d"]),
       foreign=st.booleans(),
       proc=st.sampled_from(["1a2b3c4d5e", "1a2b3c4d5e", "abc", "ABCDEF"]),
       digits=st.text("0123456789", min_size=1, max_size=4),
       suffix=st.sampled_from(["chkpt", "chkpt", "chkp", "chkptx"]),
       renamed=st.booleans())
def test_plain_dchk_shortcut_answers_every_id_of_a_known_head_exactly(
    thread: str, foreign: bool, proc: str, digits: str, suffix: str, renamed: bool
) -> None:
    # The first id of each head is answered in full and remembered; the second one
    # (other digits, maybe another file name or thread) reuses that answer.
    head = f"{'th' if foreign else thread}_{proc}_{suffix}"
    for checkpoint_id in (head + "0", head + digits):
        name = "renamed.bin" if renamed and checkpoint_id != head + "0" else f"{checkpoint_id}.bin"
        plain, general = _plain_and_general(name, checkpoint_id, thread)
        assert plain is None or plain == general
        if name == f"{checkpoint_id}.bin" and general.flags == 0 and general.problem is None:
            assert plain == general  # the shortcut takes every plain file


def test_plain_dchk_shortcut_checks_the_name_of_a_known_head() -> None:
    head = f"alpha_{DEFAULT_PROC}_chkpt"
    plain, general = _plain_and_general(f"{head}7.bin", f"{head}7", "alpha")
    assert plain == general and general.flags == 0
    plain, general = _plain_and_general("renamed.bin", f"{head}8", "alpha")
    assert plain is None and general.flags == FLAG_NAME_MISMATCH
    plain, general = _plain_and_general(f"{head}09.bin", f"{head}09", "alpha")
    assert plain == general and general.counter == 9



@pytest.mark.parametrize("digits", [21, 5000])
@pytest.mark.parametrize("renamed", [False, True])
def test_an_id_with_a_counter_longer_than_a_u64_is_of_no_scheme(digits: int,
                                                                 renamed: bool) -> None:
    # 5000 digits once raised ValueError (Python turns at most 4300 digits into an int).
    checkpoint_id = f"alpha_{DEFAULT_PROC}_chkpt" + "7" * digits
    name = "renamed.bin" if renamed else f"{checkpoint_id}.bin"
    plain, general = _plain_and_general(name, checkpoint_id, "alpha")
    assert general.problem is None and (general.proc, general.counter) == (None, -1)
    assert plain is None or plain == general


class _CountingProgress:
    def __init__(self) -> None:
        self.done = 0
        self.expected = 0

    def start(self, label: str, total: int | None) -> None:
        pass

    def expect(self, count: int) -> None:
        self.expected += count

    def advance(self, count: int = 1) -> None:
        self.done += count

    def finish(self) -> None:
        pass


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("how", ["plain", "cache", "sample"])
def test_verify_progress_counts_the_files_of_a_store_as_they_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, how: str
) -> None:
    from dashfix.context import VerifyOptions
    from dashfix.sampling import parse_sample
    from dashfix.testing.checkpoints import build_large_store
    from dashfix.verify import verify

    monkeypatch.setattr(reader_pool, "usable_cpus", lambda: workers)
    store = tmp_path / "store"
    build_large_store(store, files=5000, threads=50, state_size=64)
    options = {"plain": VerifyOptions(),
               "cache": VerifyOptions(cache_dir=tmp_path / "cache"),
               "sample": VerifyOptions(sample=parse_sample("1/1"))}[how]
    progress = _CountingProgress()
    verify([store], options, progress=progress)
    assert progress.done == 5000
    assert progress.expected == 5000  # the total is known before the files are read
