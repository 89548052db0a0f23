"""verify --cache / --no-cache / --sample / --max-duration and `dashfix cache clear`,
through the real CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashfix.cache import SUFFIX
from dashfix.testing.checkpoints import build_large_store, flip_byte
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
OLD_NS = 1_600_000_000 * 10**9
FILES = 60
CRC = "CK104"
INDEX_MISSING_FILE = "CK131"


def _age(store: Path) -> None:
    """Files written by a test are "racy" for the cache; make them plainly old."""
    for entry in store.iterdir():
        os.utime(entry, ns=(OLD_NS, OLD_NS), follow_symlinks=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    build_large_store(path, files=FILES, threads=6, state_size=64)
    _age(path)
    return path


def _bins(store: Path) -> list[Path]:
    return sorted(p for p in store.iterdir() if p.name.endswith(".bin") and p.name != "index.bin")


def _codes(result: CliResult) -> list[str]:
    return [finding["code"] for finding in result.json()["findings"]]


def _verify(cli: Cli, store: Path, *args: str) -> CliResult:
    return cli("verify", str(store), "--format", "json", "--progress", "never", *args)


def _cache_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX))


def test_cached_run_equals_uncached_run(cli: Cli, store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plain = _verify(cli, store, "--no-cache")
    first = _verify(cli, store, "--cache", str(cache))
    again = _verify(cli, store, "--cache", str(cache))
    assert plain.exit_code == first.exit_code == again.exit_code == 0
    assert plain.json() == first.json() == again.json()
    assert plain.json()["summary"]["checked"]["files"] == FILES
    assert _cache_files(cache)
    assert not any(p.name.endswith(SUFFIX) for p in store.iterdir())


def test_a_changed_file_is_checked_again(cli: Cli, store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _verify(cli, store, "--cache", str(cache)).exit_code == 0
    victim = _bins(store)[7]
    flip_byte(victim, victim.stat().st_size - 1, 0x01)
    os.utime(victim, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    cached = _verify(cli, store, "--cache", str(cache))
    assert cached.exit_code == 1
    assert CRC in _codes(cached)
    assert cached.json() == _verify(cli, store, "--no-cache").json()


def test_a_file_with_unchanged_stat_is_not_read_again(
    cli: Cli, store: Path, tmp_path: Path
) -> None:
    """The documented trade: (device, inode, size, mtime_ns, mode) unchanged means the cached
    summary is used. Damage that keeps the stat (mtime restored) shows only without the
    cache, which proves the file was not read."""
    cache = tmp_path / "cache"
    _verify(cli, store, "--cache", str(cache))
    victim = _bins(store)[3]
    flip_byte(victim, victim.stat().st_size - 1, 0x01)
    os.utime(victim, ns=(OLD_NS, OLD_NS))
    # Also a second store file changed properly, so the whole-store result cannot be replayed
    # and the per-file cache is what answers for the victim.
    other = _bins(store)[4]
    os.utime(other, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    assert CRC not in _codes(_verify(cli, store, "--cache", str(cache)))
    assert CRC in _codes(_verify(cli, store, "--no-cache"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_a_corrupt_cache_is_rebuilt(cli: Cli, store: Path, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    victim = _bins(store)[0]
    flip_byte(victim, victim.stat().st_size - 1, 0x01)
    _age(store)
    expected = _verify(cli, store, "--cache", str(cache)).json()
    for path in _cache_files(cache):
        data = path.read_bytes()
        path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 64,
                          "flip": data[:-1] + bytes([data[-1] ^ 0x10])}[damage])
    result = _verify(cli, store, "--cache", str(cache))
    assert "rebuilding" in result.stderr
    assert result.json()["findings"] == expected["findings"]
    assert result.exit_code == 1
    # The rebuilt cache is trusted again, silently.
    assert "rebuilding" not in _verify(cli, store, "--cache", str(cache)).stderr


def test_an_unusable_cache_folder_warns_and_the_run_goes_on(
    cli: Cli, store: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    victim = _bins(store)[0]
    flip_byte(victim, victim.stat().st_size - 1, 0x01)
    result = _verify(cli, store, "--cache", str(blocker / "cache"))
    assert result.exit_code == 1 and CRC in _codes(result)
    assert "warning" in result.stderr and "without the cache" in result.stderr
    notes = result.json()["summary"]["notes"]
    assert len(notes) == 1 and "without the cache" in notes[0]
    text = cli("verify", str(store), "--progress", "never", "--cache", str(blocker / "c"))
    assert "note: cache folder" in text.stdout


def test_cache_from_config_env_and_no_cache(
    cli: Cli, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "env-cache"
    monkeypatch.setenv("DASHFIX_CACHE", str(cache))
    _verify(cli, store, "--no-cache")
    assert not cache.exists()
    _verify(cli, store)
    assert _cache_files(cache)
    both = cli("verify", str(store), "--cache", str(cache), "--no-cache")
    assert both.exit_code == 2 and "exclude each other" in both.stderr


def test_cache_clear(cli: Cli, store: Path, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    _verify(cli, store, "--cache", str(cache))
    (cache / "keep.txt").write_text("not ours")
    count = len(_cache_files(cache))
    result = cli("cache", "clear", str(cache))
    assert result.exit_code == 0 and f"{count} cache file(s) removed" in result.stdout
    assert [p.name for p in cache.iterdir()] == ["keep.txt"]
    monkeypatch.setenv("DASHFIX_CACHE", str(cache))
    assert cli("cache", "clear").exit_code == 0
    monkeypatch.delenv("DASHFIX_CACHE")
    monkeypatch.chdir(tmp_path)
    assert cli("cache", "clear").exit_code == 2


def _summary(result: CliResult) -> dict[str, Any]:
    summary: dict[str, Any] = result.json()["summary"]
    return summary


def test_the_m_sample_runs_cover_every_file_once(cli: Cli, store: Path) -> None:
    victim = _bins(store)[5]
    flip_byte(victim, victim.stat().st_size - 1, 0x01)
    files = 0
    crc_findings = 0
    for part in (1, 2, 3):
        first = _verify(cli, store, "--sample", f"{part}/3")
        assert first.json() == _verify(cli, store, "--sample", f"{part}/3").json()
        summary = _summary(first)
        read = summary["checked"]["files"]
        files += read
        crc_findings += _codes(first).count(CRC)
        not_checked = " ".join(summary["not_checked"])
        assert f"{FILES - read} file(s) outside --sample {part}/3" in not_checked
        assert "cross-file checks" in not_checked
        assert "; NOT checked: " in cli("verify", str(store), "--sample", f"{part}/3").stdout
    assert files == FILES
    assert crc_findings == 1


def test_a_sample_never_calls_unread_files_missing(cli: Cli, store: Path) -> None:
    """The index names every thread's latest file; most are outside a 1/10 sample."""
    for part in range(1, 11):
        result = _verify(cli, store, "--sample", f"{part}/10")
        assert INDEX_MISSING_FILE not in _codes(result)
        assert result.exit_code == 0


def test_percent_sample(cli: Cli, store: Path) -> None:
    full = _summary(_verify(cli, store, "--sample", "100%"))
    assert full["checked"]["files"] == FILES and full["not_checked"] == []
    part = _summary(_verify(cli, store, "--sample", "30%"))
    assert 0 < part["checked"]["files"] < FILES


def test_max_duration_says_what_was_not_checked(cli: Cli, store: Path) -> None:
    result = _verify(cli, store, "--max-duration", "0.000001")
    summary = _summary(result)
    assert summary["checked"].get("files", 0) == 0
    assert any("--max-duration" in note for note in summary["not_checked"])
    text = cli("verify", str(store), "--progress", "never", "--max-duration", "0.000001")
    assert "no problems found in what was read; NOT checked" in text.stdout
    generous = _summary(_verify(cli, store, "--max-duration", "600"))
    assert generous["checked"]["files"] == FILES and generous["not_checked"] == []


@pytest.mark.parametrize("args", [("--sample", "0/3"), ("--sample", "x"),
                                  ("--max-duration", "0"), ("--max-duration", "-1")])
def test_bad_partial_options_are_usage_errors(cli: Cli, store: Path, args: tuple[str, ...]) -> None:
    result = cli("verify", str(store), *args)
    assert result.exit_code == 2


def test_stream_logs_are_sampled_whole(cli: Cli, tmp_path: Path) -> None:
    from dashfix.testing.streams import healthy_values, write_kcat

    logs = tmp_path / "logs"
    logs.mkdir()
    names = [f"capture-{number}.kcat" for number in range(9)]
    for name in names:
        write_kcat(logs / name, healthy_values())
    assert _summary(_verify(cli, logs))["checked"]["logs"] == len(names)
    read = 0
    for part in (1, 2, 3):
        summary = _summary(_verify(cli, logs, "--sample", f"{part}/3"))
        count = summary["checked"].get("logs", 0)
        read += count
        if count < len(names):
            assert any(f"{len(names) - count} file(s) outside" in note
                       for note in summary["not_checked"])
    assert read == len(names)


def test_a_full_disk_warns_and_never_makes_the_run_clean(
    cli: Cli, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from dashfix import cache as cache_module

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    victim = _bins(store)[2]
    flip_byte(victim, victim.stat().st_size - 1, 0x01)
    monkeypatch.setattr(cache_module, "_write_document", full)
    result = _verify(cli, store, "--cache", str(tmp_path / "cache"))
    assert result.exit_code == 1 and CRC in _codes(result)
    assert "the disk is full" in result.stderr
    assert any("the disk is full" in note for note in _summary(result)["notes"])
    assert _cache_files(tmp_path / "cache") == []


def _logs_and_dump(folder: Path) -> tuple[list[Path], bytes]:
    """A folder with a healthy kcat capture, folder of frames and DLQ dump, aged. Returns
    the capture and one frame file, both holding the same value from the middle of the log
    (damaging the first one would make the capture unrecognisable), and that value."""
    from dashfix.testing.dlq import library_record, write_dump
    from dashfix.testing.streams import healthy_values, write_frames_dir, write_kcat

    folder.mkdir()
    values = healthy_values()
    write_kcat(folder / "capture.kcat", values)
    frames = write_frames_dir(folder / "frames", values)
    write_dump(folder / "dlq.jsonl",
               [library_record(value, number=n) for n, value in enumerate(values)])
    _age(folder)
    _age(frames)
    return [folder / "capture.kcat", sorted(frames.iterdir())[3]], values[3]


def test_stream_logs_and_dlq_dumps_are_replayed_while_unchanged(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "artifacts"
    logs, value = _logs_and_dump(folder)
    cache = str(tmp_path / "cache")
    plain = _verify(cli, folder, "--no-cache")
    assert plain.json()["summary"]["checked"]["logs"] == 2
    assert plain.json()["summary"]["checked"]["dumps"] == 1
    assert _verify(cli, folder, "--cache", cache).json() == plain.json()
    assert _verify(cli, folder, "--cache", cache).json() == plain.json()
    # The documented trade, as for store files: damage that keeps the stat (same size, mtime
    # restored) is seen only without the cache, which proves the logs were not read again.
    for log in logs:
        data = log.read_bytes()
        at = data.index(value)
        log.write_bytes(data[:at] + b"\x7f" + data[at + 1 :])
        os.utime(log, ns=(OLD_NS, OLD_NS))
    damaged = _verify(cli, folder, "--no-cache")
    assert {f["path_in_root"] for f in damaged.json()["findings"] if f["code"] == "ST211"} == {
        "capture.kcat", "frames/000003.frame"}
    assert not _codes(plain)
    assert _verify(cli, folder, "--cache", cache).json() == plain.json()
    # A changed mtime (or other options) is another fingerprint: checked again.
    for log in logs:
        os.utime(log, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    assert _verify(cli, folder, "--cache", cache).json() == damaged.json()
    server = _verify(cli, folder, "--no-cache", "--limits", "server").json()
    assert _verify(cli, folder, "--cache", cache, "--limits", "server").json() == server


def test_a_log_with_timestamps_in_the_future_is_never_replayed(cli: Cli, tmp_path: Path) -> None:
    """ST256 depends on today's date, so such a result is computed afresh every time."""
    from dashfix import cache as cache_module
    from dashfix.testing.streams import Messages, encode_frame, write_kcat

    msgs = Messages()
    event = msgs.event("t-a", 1, timestamp_us=2**62)
    folder = tmp_path / "logs"
    folder.mkdir()
    write_kcat(folder / "capture.kcat", [encode_frame(event)])
    _age(folder)
    cache = tmp_path / "cache"
    assert "ST256" in _codes(_verify(cli, folder, "--cache", str(cache)))
    memo_files = [p for p in _cache_files(cache) if cache_module.MEMO_SUFFIX in p.name]
    assert memo_files == []
