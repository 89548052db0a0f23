"""The verify cache: stat-keyed reuse, invalidation, corruption, versions, failures."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dashfix import cache as cache_module
from dashfix.cache import (
    SUFFIX,
    CacheError,
    VerifyCache,
    clear_cache,
    decode_cache,
    folder_fingerprint,
    memoized,
    open_cache,
    portable_target,
)
from dashfix.context import CheckContext, VerifyOptions
from dashfix.findings import Finding, Severity
from dashfix.inputs.checkpoint_cache import ROWS_KIND
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_record import PLAIN
from dashfix.inputs.checkpoint_rows import StoreRows
from dashfix.sampling import Sample, Selection
from dashfix.testing.checkpoints import StoreBuilder, flip_byte

OLD = 1_600_000_000_000_000_000
"""An mtime far in the past, so entries are not racy."""


def _store(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, ns=(OLD, OLD))


def _checkpoints(folder: Path, count: int = 4) -> list[Path]:
    """A store of ``count`` healthy checkpoints, aged (so not racy)."""
    builder = StoreBuilder(folder)
    paths = [builder.checkpoint("alpha").path for _ in range(count)]
    for path in folder.iterdir():
        os.utime(path, ns=(OLD, OLD))
    return paths


def _scan(cache_dir: Path, store: Path) -> tuple[StoreRows, VerifyCache]:
    """One cached scan of ``store``, the cache saved: its rows and the cache."""
    verify_cache, warning = open_cache(cache_dir)
    assert verify_cache is not None and warning is None
    rows = scan_store(store, cache=verify_cache).rows
    verify_cache.save()
    return rows, verify_cache


def _plain_names(rows: StoreRows) -> set[str]:
    return {rows.names[row] for row, kind in enumerate(rows.kinds) if kind == PLAIN}


def _damage_keeping_stat(path: Path) -> None:
    """Flip the last byte (a CRC mismatch) and put the mtime back: only a read sees it."""
    info = path.stat()
    flip_byte(path, info.st_size - 1, 0x01)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_unchanged_files_are_not_read_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    paths = _checkpoints(store)
    first, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 0 and len(_plain_names(first)) == 4
    _damage_keeping_stat(paths[1])  # the documented trade: same stat, same answer
    again, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 4
    assert [again.record(row) for row in range(len(again))] == [
        first.record(row) for row in range(len(first))]


def test_a_store_with_a_name_that_is_not_utf8_is_cached(tmp_path: Path) -> None:
    """The names go into the cache as os.listdir gives them (surrogateescape)."""
    store = tmp_path / "store"
    _checkpoints(store)
    odd = os.path.join(os.fsencode(store), b"odd-\xff.bin")
    with open(odd, "wb") as handle:
        handle.write(b"not a checkpoint")
    os.utime(odd, ns=(OLD, OLD))
    first, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.warnings == [] and "odd-\udcff.bin" in first.names
    again, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.warnings == [] and verify_cache.hits == 4
    assert [again.record(row) for row in range(len(again))] == [
        first.record(row) for row in range(len(first))]


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    paths = _checkpoints(store)
    _scan(tmp_path / "cache", store)
    _damage_keeping_stat(paths[2])
    os.utime(paths[2], ns=(OLD + 10**9, OLD + 10**9))
    again, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 3
    assert paths[2].name not in _plain_names(again)


def test_files_added_and_removed_take_the_rest_from_the_cache(tmp_path: Path) -> None:
    """Names no longer row for row the cache's: the rows are matched by name; a row whose
    parent file was removed is read again (the cache keeps its parent's row, not its name),
    and every row equals an uncached scan's."""
    store = tmp_path / "store"
    paths = _checkpoints(store, 6)
    _scan(tmp_path / "cache", store)
    paths[2].unlink()
    builder = StoreBuilder(store)
    added = builder.checkpoint("beta").path
    os.utime(added, ns=(OLD, OLD))
    again, verify_cache = _scan(tmp_path / "cache", store)
    fresh = scan_store(store).rows
    assert [again.record(row) for row in range(len(again))] == [
        fresh.record(row) for row in range(len(fresh))]
    assert again.lost_parents == fresh.lost_parents
    assert verify_cache.hits == 4  # five left; the child of the removed one is read
    _, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == len(_plain_names(fresh))


def test_a_racy_file_is_not_kept(tmp_path: Path) -> None:
    """A file written just before the run is read again next time, even if its stat stays."""
    store = tmp_path / "store"
    paths = _checkpoints(store)
    os.utime(paths[0], None)  # now: racy
    _scan(tmp_path / "cache", store)
    _damage_keeping_stat(paths[0])
    again, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 3
    assert paths[0].name not in _plain_names(again)


def test_chmod_invalidates(tmp_path: Path) -> None:
    store = tmp_path / "store"
    paths = _checkpoints(store)
    _scan(tmp_path / "cache", store)
    os.chmod(paths[3], 0o600)
    _, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 3


def test_a_store_and_cache_restored_elsewhere_hit(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """No device or inode in the key: a copy with its mtimes kept (a CI cache restore,
    ``cp -a``) still matches, named relative to the working directory."""
    first_home = tmp_path / "first"
    paths = _checkpoints(first_home / "store")
    monkeypatch.chdir(first_home)
    _scan(Path("cache"), Path("store"))
    second_home = tmp_path / "second"
    shutil.copytree(first_home, second_home, copy_function=shutil.copy2)
    _damage_keeping_stat(second_home / "store" / paths[0].name)
    monkeypatch.chdir(second_home)
    rows, verify_cache = _scan(Path("cache"), Path("store"))
    assert verify_cache.hits == 4 and verify_cache.warnings == []
    assert paths[0].name in _plain_names(rows)  # answered from the cache, not read


def test_vanished_files_drop_out_and_sampled_runs_keep_unchanged_rows(tmp_path: Path) -> None:
    store = tmp_path / "store"
    paths = _checkpoints(store, 6)
    _scan(tmp_path / "cache", store)
    verify_cache, _ = open_cache(tmp_path / "cache")
    assert verify_cache is not None
    selection = Selection(Sample(1, 3))
    scan_store(store, cache=verify_cache, selection=selection, target="store")
    verify_cache.save()
    _, again = _scan(tmp_path / "cache", store)
    assert again.hits == 6
    paths[0].unlink()
    _scan(tmp_path / "cache", store)
    _, again = _scan(tmp_path / "cache", store)
    assert again.hits == 5


def _cache_file(cache_dir: Path) -> Path:
    [path] = [p for p in cache_dir.iterdir() if p.name.endswith(SUFFIX)]
    return path


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1],
        lambda data: data[:5],
        lambda data: b"",
        lambda data: data[:20] + bytes([data[20] ^ 1]) + data[21:],
        lambda data: data[:-3] + bytes([data[-3] ^ 0x40]) + data[-2:],
        lambda data: b"NOTCACHE" + data[8:],
    ],
    ids=["short-by-one", "prefix-only", "empty", "flip-in-body", "flip-near-end", "magic"],
)
def test_a_corrupt_cache_is_rebuilt_never_trusted(tmp_path: Path, damage: Any) -> None:
    store = tmp_path / "store"
    _checkpoints(store)
    _scan(tmp_path / "cache", store)
    path = _cache_file(tmp_path / "cache")
    path.write_bytes(damage(path.read_bytes()))
    _, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 0
    assert len(verify_cache.warnings) == 1 and "rebuilding" in verify_cache.warnings[0]
    _, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 4 and verify_cache.warnings == []


def test_a_cache_from_another_version_or_salt_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    _checkpoints(store)
    _scan(tmp_path / "cache", store)
    path = _cache_file(tmp_path / "cache")
    monkeypatch.setattr(cache_module, "__version__", "0.0.0-other")
    verify_cache = VerifyCache(tmp_path / "cache")
    assert verify_cache.file_for(ROWS_KIND, portable_target(store)) == path
    assert verify_cache.load(ROWS_KIND, store)[2] is None
    assert "another dashfix version" in verify_cache.warnings[0]
    monkeypatch.undo()
    salted = VerifyCache(tmp_path / "cache", salt="limits=10")
    assert salted.file_for(ROWS_KIND, portable_target(store)) != path


def encode_cache(tmp_path: Path, header: dict[str, Any], content: list[Any]) -> bytes:
    path = tmp_path / "written.dfcache"
    cache_module._write_document(path, header, len(content), iter(content))
    return path.read_bytes()


def test_other_format_version_and_malformed_rows(tmp_path: Path) -> None:
    header = {"dashfix": "x"}
    good = encode_cache(tmp_path, header, [1, 2])
    assert decode_cache(good, header) == (1, 2)
    newer = good[:8] + (99).to_bytes(2, "little") + good[10:]
    with pytest.raises(CacheError, match="cache format 99"):
        decode_cache(newer, header)
    store = tmp_path / "store"
    _checkpoints(store)
    _scan(tmp_path / "cache", store)
    path = _cache_file(tmp_path / "cache")
    verify_cache = VerifyCache(tmp_path / "cache")
    _, file_header, content = verify_cache.load(ROWS_KIND, store)
    for broken in (content[:-1], (*content[:1], b"\x01" * 5, *content[2:]),
                   (*content[:5], (b"\xff" * 8) * 4, *content[6:])):
        path.write_bytes(encode_cache(tmp_path, file_header, list(broken)))
        _, verify_cache = _scan(tmp_path / "cache", store)
        assert verify_cache.hits == 0 and "malformed rows" in verify_cache.warnings[0]


def test_unwritable_folder_is_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    verify_cache, warning = open_cache(blocker / "cache")
    assert verify_cache is None and warning is not None and "without the cache" in warning
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        verify_cache, warning = open_cache(locked)
        assert verify_cache is None and warning is not None and "not writable" in warning


def test_a_full_disk_while_saving_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    _checkpoints(store)
    (tmp_path / "cache").mkdir()
    real_open = os.open

    def full(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(".tmp"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, *args, **kwargs)

    verify_cache = VerifyCache(tmp_path / "cache")
    monkeypatch.setattr(os, "open", full)
    scan_store(store, cache=verify_cache)  # the rows are written once read
    verify_cache.save()
    monkeypatch.undo()
    assert len(verify_cache.warnings) == 1
    assert "the disk is full" in verify_cache.warnings[0]
    assert list((tmp_path / "cache").iterdir()) == []


def test_clear_removes_only_cache_files(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _checkpoints(store)
    _scan(tmp_path / "cache", store)
    (tmp_path / "cache" / "notes.txt").write_text("mine")
    assert clear_cache(tmp_path / "cache") == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["notes.txt"]
    assert clear_cache(tmp_path / "missing") == 0


def test_only_healthy_plain_checkpoints_are_kept(tmp_path: Path) -> None:
    """Damaged, unreadable and other entries are read again every run: their findings
    (a permission fixed later, say) must never come from the cache."""
    store = tmp_path / "store"
    paths = _checkpoints(store)
    flip_byte(paths[0], paths[0].stat().st_size - 1, 0x01)
    os.utime(paths[0], ns=(OLD, OLD))
    _scan(tmp_path / "cache", store)
    _, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 3


def test_odd_entries_are_listed_every_run_and_never_cached(tmp_path: Path) -> None:
    """A FIFO, a symlink and a folder named like checkpoints come after the regular files
    in the rows; saving the cache once crashed on them (KeyError in the string table)."""
    store = tmp_path / "store"
    _checkpoints(store)
    os.mkfifo(store / "ghost_1a2b3c4d5e6f0a1b_chkpt0.bin")
    os.symlink("/dev/zero", store / "zero_1a2b3c4d5e6f0a1b_chkpt0.bin")
    (store / "x.bin").mkdir()
    first, _ = _scan(tmp_path / "cache", store)
    again, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.hits == 4
    odd = ["ghost_1a2b3c4d5e6f0a1b_chkpt0.bin", "x.bin", "zero_1a2b3c4d5e6f0a1b_chkpt0.bin"]
    for rows in (first, again):
        assert sorted(rows.names[4:]) == odd
        assert _plain_names(rows) == set(rows.names[:4])


def test_a_symlink_planted_at_the_temp_name_is_never_written_through(tmp_path: Path) -> None:
    store = tmp_path / "store"
    paths = _checkpoints(store)
    _scan(tmp_path / "cache", store)
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep me")
    for cache_file in (tmp_path / "cache").iterdir():
        (tmp_path / "cache" / f".{cache_file.name}.{os.getpid()}.tmp").symlink_to(outside)
    os.utime(paths[0], ns=(OLD + 10**9, OLD + 10**9))  # the rows change: written again
    _, verify_cache = _scan(tmp_path / "cache", store)
    assert verify_cache.warnings == [] and verify_cache.hits == 3
    assert outside.read_bytes() == b"keep me"
    assert not any(path.is_symlink() for path in (tmp_path / "cache").iterdir())


def _ctx(tmp_path: Path, selection: Selection | None = None) -> CheckContext:
    verify_cache, _ = open_cache(tmp_path / "cache")
    return CheckContext(root=tmp_path, options=VerifyOptions(), cache=verify_cache,
                        selection=selection or Selection())


FINDING = Finding("CK104", Severity.ERROR, "store/a.bin", "crc", thread_id="t",
                  checkpoint_id="a", offset=4, expected="1", actual="2", key="k",
                  details={"crc": [1, 2]})


class Check:
    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.runs = 0

    def __call__(self, ctx: CheckContext) -> list[Finding]:
        self.runs += 1
        ctx.stats["files"] += 2
        return self.findings


def _memo_run(tmp_path: Path, store: Path, check: Check, *, timeless: bool = True,
              selection: Selection | None = None) -> tuple[list[Finding], CheckContext]:
    ctx = _ctx(tmp_path, selection)
    findings = list(memoized(ctx, "checkpoint-store", store, "store", lambda: check(ctx),
                             timeless=lambda found: timeless))
    assert ctx.cache is not None
    ctx.cache.save()
    return findings, ctx


def test_whole_result_is_replayed_while_the_folder_is_unchanged(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa", "b.bin": b"bbb"})
    check = Check([FINDING])
    first, _ = _memo_run(tmp_path, store, check)
    replayed, ctx = _memo_run(tmp_path, store, check)
    assert check.runs == 1
    assert replayed == first == [FINDING]
    assert ctx.stats["files"] == 2
    os.utime(store / "b.bin", ns=(OLD + 10**9, OLD + 10**9))
    _memo_run(tmp_path, store, check)
    assert check.runs == 2
    (store / "c.bin").write_bytes(b"c")
    _memo_run(tmp_path, store, check)
    assert check.runs == 3


def test_results_stating_the_time_and_partial_runs_are_not_replayed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa"})
    check = Check([FINDING])
    _memo_run(tmp_path, store, check, timeless=False)
    _memo_run(tmp_path, store, check)
    assert check.runs == 2
    _memo_run(tmp_path, store, check, selection=Selection(sample=Sample(1, 1)))
    assert check.runs == 3
    cut_short = Selection(max_duration=60)
    cut_short.ran_out("store", 1)
    (store / "b.bin").write_bytes(b"b")
    os.utime(store / "b.bin", ns=(OLD, OLD))
    _memo_run(tmp_path, store, check, selection=cut_short)
    _memo_run(tmp_path, store, check, selection=Selection(max_duration=60))
    assert check.runs == 5
    _memo_run(tmp_path, store, check, selection=Selection(max_duration=60))
    assert check.runs == 5


def test_a_folder_changing_during_the_check_is_not_memoised(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa"})

    class Racing(Check):
        def __call__(self, ctx: CheckContext) -> list[Finding]:
            if self.runs == 0:
                (store / "late.bin").write_bytes(b"x")
                os.utime(store / "late.bin", ns=(OLD, OLD))
            return super().__call__(ctx)

    check = Racing([])
    _memo_run(tmp_path, store, check)
    _memo_run(tmp_path, store, check)
    assert check.runs == 2


def test_folder_fingerprint_depends_on_context_and_every_entry(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa", "b.bin": b"bbb"})
    base, newest = folder_fingerprint(store, "store")
    assert newest == OLD
    assert folder_fingerprint(store, "store")[0] == base
    assert folder_fingerprint(store, "other/store")[0] != base
    os.chmod(store / "a.bin", 0o600)
    assert folder_fingerprint(store, "store")[0] != base


def test_folder_fingerprint_split_with_a_forked_child_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large folders are stat-ed half in a forked child: same digest, and a change in
    the child's half (the last names listed) is seen."""
    store = tmp_path / "store"
    _store(store, {f"{n:02}.bin": b"x" for n in range(9)})
    whole = folder_fingerprint(store, "store")
    monkeypatch.setattr(cache_module, "FINGERPRINT_FORK_MIN", 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert folder_fingerprint(store, "store") == whole
    os.chmod(store / os.listdir(store)[-1], 0o600)
    changed = folder_fingerprint(store, "store")
    assert changed[0] != whole[0]
    monkeypatch.setattr(cache_module, "FINGERPRINT_FORK_MIN", 10**9)
    assert folder_fingerprint(store, "store") == changed


def test_folder_fingerprint_fails_when_an_entry_cannot_be_stat_ed_in_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    _store(store, {f"{n:02}.bin": b"x" for n in range(4)})
    listed = os.listdir(store)
    monkeypatch.setattr(cache_module, "FINGERPRINT_FORK_MIN", 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(cache_module, "_listing", lambda fd: iter([[*listed, "vanished.bin"]]))
    with pytest.raises(OSError):
        folder_fingerprint(store, "store")


def test_a_freshly_written_folder_is_not_memoised(tmp_path: Path) -> None:
    """Same-tick rewrites keep the stat key: a racy folder is checked again next time."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "a.bin").write_bytes(b"aaa")
    check = Check([])
    _memo_run(tmp_path, store, check)
    _memo_run(tmp_path, store, check)
    assert check.runs == 2


def test_a_deferred_result_is_kept_from_the_second_run_on(tmp_path: Path) -> None:
    """A checkpoint store's first cached run takes no stat walk for its whole result (its
    rows are cached already): the second run keeps the result, the third replays it."""
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa", "b.bin": b"bbb"})
    check = Check([FINDING])

    def run() -> list[Finding]:
        ctx = _ctx(tmp_path)
        findings = list(memoized(ctx, "checkpoint-store", store, "store", lambda: check(ctx),
                                 timeless=lambda found: True, defer_first=True))
        assert ctx.cache is not None
        ctx.cache.save()
        return findings

    assert run() == run() == run() == [FINDING]
    assert check.runs == 2
    os.utime(store / "a.bin", ns=(OLD + 10**9, OLD + 10**9))
    assert run() == [FINDING] and check.runs == 3
