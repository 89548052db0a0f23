"""The verify cache: stat-keyed reuse, invalidation, corruption, versions, failures."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from dashfix import cache as cache_module
from dashfix.cache import (
    SUFFIX,
    CacheError,
    TargetCache,
    VerifyCache,
    clear_cache,
    decode_cache,
    decode_entries,
    encode_cache,
    folder_fingerprint,
    memoized,
    open_cache,
    read_at,
)
from dashfix.context import CheckContext, VerifyOptions
from dashfix.findings import Finding, Severity
from dashfix.sampling import Sample, Selection

OLD = 1_600_000_000_000_000_000
"""An mtime far in the past, so entries are not racy."""


class Summariser:
    """Counts decodes; the record is the file's length and first byte."""

    def __init__(self) -> None:
        self.decoded: list[str] = []

    def run(self, cache: TargetCache, folder: Path, name: str) -> tuple[int, int]:
        def decode() -> tuple[int, int]:
            self.decoded.append(name)
            data = (folder / name).read_bytes()
            return (len(data), data[0])

        return cache.summary(
            name, os.stat(folder / name), read=lambda: read_at(str(folder), name),
            decode=decode, to_wire=list, from_wire=lambda wire: (wire[0], wire[1]),
        )


def _store(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, ns=(OLD, OLD))


def _run(cache_dir: Path, store: Path, summariser: Summariser) -> dict[str, tuple[int, int]]:
    verify_cache, warning = open_cache(cache_dir)
    assert verify_cache is not None and warning is None
    target = verify_cache.target("checkpoint-store", store)
    records = {name: summariser.run(target, store, name) for name in sorted(os.listdir(store))}
    verify_cache.save()
    assert verify_cache.warnings == []
    return records


def test_unchanged_files_are_not_read_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa", "b.bin": b"bbbb"})
    first = Summariser()
    records = _run(tmp_path / "cache", store, first)
    assert first.decoded == ["a.bin", "b.bin"]
    second = Summariser()
    reads: list[str] = []
    real_read = cache_module.read_at

    def counting_read(folder: int | str, name: str) -> bytes | None:
        reads.append(name)
        return real_read(folder, name)

    cache_module.read_at = counting_read  # type: ignore[assignment]
    try:
        assert _run(tmp_path / "cache", store, second) == records
    finally:
        cache_module.read_at = real_read  # type: ignore[assignment]
    assert second.decoded == [] and reads == []


def test_a_changed_file_is_decoded_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa", "b.bin": b"bbbb"})
    _run(tmp_path / "cache", store, Summariser())
    (store / "b.bin").write_bytes(b"Xbbbbb")
    os.utime(store / "b.bin", ns=(OLD + 10**9, OLD + 10**9))
    again = Summariser()
    assert _run(tmp_path / "cache", store, again) == {"a.bin": (3, 97), "b.bin": (6, 88)}
    assert again.decoded == ["b.bin"]


def test_same_size_same_mtime_rewrite_is_caught_when_racy(tmp_path: Path) -> None:
    """A file written just before the run is re-read next time, even if its stat stays."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "a.bin").write_bytes(b"aaa")
    _run(tmp_path / "cache", store, Summariser())
    info = os.stat(store / "a.bin")
    (store / "a.bin").write_bytes(b"zzz")
    os.utime(store / "a.bin", ns=(info.st_atime_ns, info.st_mtime_ns))
    again = Summariser()
    assert _run(tmp_path / "cache", store, again) == {"a.bin": (3, 122)}
    assert again.decoded == ["a.bin"]


def test_a_touched_file_is_decoded_again(tmp_path: Path) -> None:
    """Records may hold the mtime, so only an identical stat key answers from the cache."""
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa"})
    _run(tmp_path / "cache", store, Summariser())
    os.utime(store / "a.bin", ns=(OLD + 5 * 10**9, OLD + 5 * 10**9))
    again = Summariser()
    assert _run(tmp_path / "cache", store, again) == {"a.bin": (3, 97)}
    assert again.decoded == ["a.bin"]


def test_a_racy_file_with_the_same_content_is_read_but_not_decoded(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "a.bin").write_bytes(b"aaa")
    _run(tmp_path / "cache", store, Summariser())
    verify_cache = VerifyCache(tmp_path / "cache")
    target = verify_cache.target("checkpoint-store", store)
    again = Summariser()
    assert again.run(target, store, "a.bin") == (3, 97)
    assert again.decoded == [] and (target.hits, target.reused) == (0, 1)


def test_chmod_invalidates(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa"})
    _run(tmp_path / "cache", store, Summariser())
    os.chmod(store / "a.bin", 0o600)
    verify_cache = VerifyCache(tmp_path / "cache")
    target = verify_cache.target("checkpoint-store", store)
    again = Summariser()
    again.run(target, store, "a.bin")
    assert again.decoded == ["a.bin"] and target.hits == 0


def test_vanished_files_drop_out_and_partial_runs_keep_old_entries(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa", "b.bin": b"bbb"})
    _run(tmp_path / "cache", store, Summariser())
    verify_cache = VerifyCache(tmp_path / "cache")
    target = verify_cache.target("checkpoint-store", store)
    target.complete = False
    Summariser().run(target, store, "a.bin")
    verify_cache.save()
    assert set(VerifyCache(tmp_path / "cache").target("checkpoint-store", store).previous) == {
        "a.bin", "b.bin"}
    (store / "b.bin").unlink()
    _run(tmp_path / "cache", store, Summariser())
    assert set(VerifyCache(tmp_path / "cache").target("checkpoint-store", store).previous) == {
        "a.bin"}


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
    _store(store, {"a.bin": b"aaa"})
    _run(tmp_path / "cache", store, Summariser())
    path = _cache_file(tmp_path / "cache")
    path.write_bytes(damage(path.read_bytes()))
    verify_cache = VerifyCache(tmp_path / "cache")
    target = verify_cache.target("checkpoint-store", store)
    assert target.previous == {}
    assert len(verify_cache.warnings) == 1 and "rebuilding" in verify_cache.warnings[0]
    summariser = Summariser()
    summariser.run(target, store, "a.bin")
    assert summariser.decoded == ["a.bin"]
    verify_cache.save()
    assert VerifyCache(tmp_path / "cache").target("checkpoint-store", store).previous


def test_a_cache_from_another_version_or_salt_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa"})
    _run(tmp_path / "cache", store, Summariser())
    path = _cache_file(tmp_path / "cache")
    monkeypatch.setattr(cache_module, "__version__", "0.0.0-other")
    verify_cache = VerifyCache(tmp_path / "cache")
    assert verify_cache.file_for("checkpoint-store", store.resolve()) == path
    assert verify_cache.target("checkpoint-store", store).previous == {}
    assert "another dashfix version" in verify_cache.warnings[0]
    monkeypatch.undo()
    salted = VerifyCache(tmp_path / "cache", salt="limits=10")
    assert salted.file_for("checkpoint-store", store.resolve()) != path


def test_other_format_version_and_malformed_entries(tmp_path: Path) -> None:
    header = {"dashfix": "x"}
    good = encode_cache(header, {"a": (1, 2, 3, 4, 5, 6, False, [1])})
    assert decode_entries(decode_cache(good, header)) == {"a": (1, 2, 3, 4, 5, 6, False, (1,))}
    newer = good[:8] + (99).to_bytes(2, "little") + good[10:]
    with pytest.raises(CacheError, match="cache format 99"):
        decode_cache(newer, header)
    with pytest.raises(CacheError, match="malformed"):
        decode_entries(decode_cache(encode_cache(header, {"a": (1, 2, "3", 4, 5, 6, False, 0)}),
                                    header))
    with pytest.raises(CacheError, match="malformed"):
        decode_entries(decode_cache(encode_cache(header, {"a": (1, 2)}), header))


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
    _store(store, {"a.bin": b"aaa"})
    verify_cache = VerifyCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    Summariser().run(verify_cache.target("checkpoint-store", store), store, "a.bin")

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module, "_replace", full)
    verify_cache.save()
    assert len(verify_cache.warnings) == 1
    assert "the disk is full" in verify_cache.warnings[0]
    assert list((tmp_path / "cache").iterdir()) == []


def test_clear_removes_only_cache_files(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa"})
    _run(tmp_path / "cache", store, Summariser())
    (tmp_path / "cache" / "notes.txt").write_text("mine")
    assert clear_cache(tmp_path / "cache") == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["notes.txt"]
    assert clear_cache(tmp_path / "missing") == 0


def test_unreadable_files_are_not_cached(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _store(store, {"a.bin": b"aaa"})
    verify_cache = VerifyCache(tmp_path / "cache")
    target = verify_cache.target("checkpoint-store", store)
    result = target.summary("a.bin", os.stat(store / "a.bin"), read=lambda: None,
                            decode=lambda: "unreadable", to_wire=str, from_wire=str)
    assert result == "unreadable" and target.current == {}


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
    monkeypatch.setattr(os, "listdir", lambda fd: [*listed, "vanished.bin"])
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
