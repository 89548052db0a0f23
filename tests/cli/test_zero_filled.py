"""A zero-filled checkpoint file (a crash leftover) is CK100, found before any parse, and
``repair --apply`` quarantines it like any other corrupt file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dashfix.errors import ExitCode
from dashfix.inputs.checkpoint_files.file_reader import summarise_file
from dashfix.inputs.checkpoint_record import FOREIGN, FileProblem
from dashfix.testing.checkpoints import StoreBuilder


def _zero_filled(path: Path, size: int) -> Path:
    # Like the leftover itself: a file extended to its size and never written.
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


@pytest.mark.parametrize("name", ["a.bin", "t1_chkpt3.v.bin", "t1_chkpt3.v.bin.gz",
                                  "t1_chkpt3.bin.gz"])
def test_zero_filled_store_files_are_ck100_whatever_their_variant(
    tmp_path: Path, name: str
) -> None:
    path = _zero_filled(tmp_path / name, 1024)
    record = summarise_file(str(tmp_path), name, os.stat(path))
    assert (record.problem, record.offset, record.variant) == (FileProblem.ZERO_FILLED, 0, FOREIGN)
    assert record.thread_id is None and "all 1024 bytes are zero" in (record.message or "")


def test_a_file_with_one_byte_that_is_not_zero_is_not_zero_filled(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(bytes(1023) + b"\x01")
    assert summarise_file(str(tmp_path), "a.bin", os.stat(path)).problem != FileProblem.ZERO_FILLED
    path.write_bytes(b"")
    assert summarise_file(str(tmp_path), "a.bin", os.stat(path)).problem == FileProblem.FOREIGN


def test_verify_reports_a_256_kib_zero_filled_checkpoint(
    tmp_path: Path, cli: Any
) -> None:
    (tmp_path / "z").mkdir()
    _zero_filled(tmp_path / "z" / "a.bin", 256 * 1024)
    result = cli("verify", str(tmp_path / "z"), "--format", "json")
    assert result.exit_code == ExitCode.FINDINGS
    [finding] = result.json()["findings"]
    assert (finding["code"], finding["path_in_root"], finding["offset"]) == ("CK100", "a.bin", 0)
    assert "262144 bytes are zero" in finding["message"]


def test_repair_quarantines_a_zero_filled_checkpoint(tmp_path: Path, cli: Any) -> None:
    store = StoreBuilder(tmp_path / "s")
    store.chain("alpha", 2)
    store.index()
    store.lock()
    crashed = _zero_filled(tmp_path / "s" / "crashed.bin", 64 * 1024)
    planned = cli("repair", str(tmp_path / "s"), "--format", "json").json()
    assert [(a["name"], a["action"], a["code"]) for a in planned["actions"]] == [
        ("crashed.bin", "quarantine", "CK100")]
    applied = cli("repair", str(tmp_path / "s"), "--apply", "--format", "json")
    assert applied.exit_code == ExitCode.CLEAN, applied.stdout + applied.stderr
    assert not crashed.exists()
    kept = list((tmp_path / "s" / ".dashfix-quarantine").rglob("crashed.bin*"))
    assert [p.read_bytes() for p in kept] == [bytes(64 * 1024)]
    verified = cli("verify", str(tmp_path / "s"), "--format", "json").json()
    assert verified["findings"] == []


def test_inspect_says_zero_filled_without_decoding(tmp_path: Path, cli: Any) -> None:
    path = _zero_filled(tmp_path / "a.bin", 1024 * 1024)
    result = cli("inspect", str(path), "--format", "json")
    document = result.json()
    assert document["checkpoint_id"] is None and document["tail_parse"] == "not parsed"
    assert [p for p in document["problems"] if "CK100" in p] == document["problems"]
    assert "all 1048576 bytes are zero" in document["problems"][0]
