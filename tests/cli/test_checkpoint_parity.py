"""Findings are the same whichever way a store is read: the C reader or the Python path
(what an install without a compiler runs, and what dashfix read with before the C reader),
without the cache, filling it, and answered from it. On the acceptance stores (the demo and
the interop fixtures) and on a benchmark store with planted faults."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashfix import native
from dashfix.formats import dchk
from dashfix.formats.variants import INDEX_NAME
from dashfix.testing.checkpoints import (
    DEFAULT_PROC,
    StoreBuilder,
    build_large_store,
    damage_magic,
    flip_byte,
    set_version,
    truncate,
)
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
OLD_NS = 1_600_000_000 * 10**9


def _planted_faults(root: Path) -> Path:
    """The benchmark store, small, with one of most kinds of damage planted in it."""
    store = root / "store"
    build_large_store(store, files=1200, threads=12, state_size=128)
    bins = sorted(p for p in store.iterdir() if p.name.endswith(".bin") and p.name != INDEX_NAME)
    flip_byte(bins[10], bins[10].stat().st_size - 1, 0x01)  # CRC
    truncate(bins[20], bins[20].stat().st_size - 7)
    bins[30].write_bytes(bytes(bins[30].stat().st_size))  # zero-filled
    damage_magic(bins[40])
    set_version(bins[50], 0)
    shutil.copyfile(bins[60], store / "renamed.bin")
    shutil.copyfile(bins[70], store / f".{bins[70].name}.tmp")
    truncate(store / INDEX_NAME, (store / INDEX_NAME).stat().st_size - 5)
    (store / "notes.txt").write_text("not a store file")
    (store / "folder.bin").mkdir()
    os.symlink(bins[0].name, store / "link.bin")
    os.mkfifo(store / f"thread-00001_{DEFAULT_PROC}_chkpt999.bin")
    builder = StoreBuilder(store)
    builder.checkpoint("extra", metadata={"k": "v"})
    builder.checkpoint("extra", checkpoint_id=f"extra_{DEFAULT_PROC}_chkpt{2**64 - 1}")
    builder.checkpoint("extra", parent="extra_gone_3")
    (store / f"junk_{DEFAULT_PROC}_chkpt1.bin").write_bytes(dchk.wrap(b"\x05" * 40))
    for entry in store.iterdir():
        os.utime(entry, ns=(OLD_NS, OLD_NS), follow_symlinks=False)
    return store


def _normal(result: CliResult) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    document = result.json()
    for finding in document["findings"]:
        finding["details"].pop("age_seconds", None)
    summary = {key: document["summary"][key] for key in ("checked", "errors", "warnings",
                                                         "infos", "unreadable")}
    return result.exit_code, document["findings"], summary


def _all_ways(cli: Cli, target: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(*extra: str) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
        return _normal(cli("verify", str(target), "--format", "json", "--progress", "never",
                           *extra))

    in_c = run("--no-cache")
    assert in_c[0] in (0, 1)
    assert run("--cache", str(cache / "c")) == in_c  # filling the cache
    assert run("--cache", str(cache / "c")) == in_c  # answered from it
    with monkeypatch.context() as python_only:
        python_only.setattr(native, "MODULE", None)
        assert run("--no-cache") == in_c
        assert run("--cache", str(cache / "python")) == in_c
        assert run("--cache", str(cache / "c")) == in_c  # a cache the C reader filled


@pytest.mark.parametrize("name", ["demo", "interop"])
def test_acceptance_stores_give_the_same_findings_every_way(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target, symlinks=True)
    for path in target.rglob("*"):
        os.utime(path, ns=(OLD_NS, OLD_NS), follow_symlinks=False)
    _all_ways(cli, target, tmp_path, monkeypatch)


def test_benchmark_store_with_planted_faults_gives_the_same_findings_every_way(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _planted_faults(tmp_path)
    _all_ways(cli, store, tmp_path, monkeypatch)
    findings = _normal(cli("verify", str(store), "--format", "json", "--progress", "never"))[1]
    assert {"CK104", "CK100"} <= {finding["code"] for finding in findings}
