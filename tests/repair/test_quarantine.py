from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dashfix.errors import InputError
from dashfix.repair.quarantine import (
    QUARANTINE_DIR,
    QuarantineSession,
    list_sessions,
    restore_session,
)


def test_move_keeps_bytes_and_writes_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "t_1.bin"
    bad.write_bytes(b"corrupt bytes")
    session = QuarantineSession(tmp_path, "20260101T000000Z")
    entry = session.move(bad, "CK101", "CRC mismatch")
    assert not bad.exists()
    kept = tmp_path / entry.stored_as
    assert kept.parent == tmp_path / QUARANTINE_DIR / "20260101T000000Z"
    assert kept.read_bytes() == b"corrupt bytes"
    manifest = json.loads(session.manifest_path.read_text())
    [recorded] = manifest["entries"]
    assert recorded["name"] == "t_1.bin"
    assert recorded["sha256"] == hashlib.sha256(b"corrupt bytes").hexdigest()
    assert recorded["size"] == 13
    assert recorded["code"] == "CK101"
    assert list_sessions(tmp_path) == ["20260101T000000Z"]


def test_restore_undoes_move_rewrite_and_rename(tmp_path: Path) -> None:
    moved = tmp_path / "a.bin"
    moved.write_bytes(b"A")
    rewritten = tmp_path / "b.bin"
    rewritten.write_bytes(b"B-original")
    temp = tmp_path / ".c.bin.x.tmp"
    temp.write_bytes(b"C")
    session = QuarantineSession(tmp_path, "s1")
    session.move(moved, "CK1", "foreign")
    session.keep_original(rewritten, "CK2", "magic")
    rewritten.write_bytes(b"B-fixed")
    temp.rename(tmp_path / "c.bin")
    session.record_rename(temp, tmp_path / "c.bin", "CK3", "promoted")

    outcome = restore_session(tmp_path, "s1")
    assert sorted(outcome.restored) == [".c.bin.x.tmp", "a.bin", "b.bin"]
    assert outcome.skipped == []
    assert moved.read_bytes() == b"A"
    assert rewritten.read_bytes() == b"B-original"
    assert temp.read_bytes() == b"C"
    assert not (tmp_path / "c.bin").exists()


def test_restore_never_overwrites_a_file_that_came_back(tmp_path: Path) -> None:
    moved = tmp_path / "a.bin"
    moved.write_bytes(b"old")
    QuarantineSession(tmp_path, "s1").move(moved, "CK1", "foreign")
    moved.write_bytes(b"new")
    outcome = restore_session(tmp_path, "s1")
    assert outcome.restored == []
    assert moved.read_bytes() == b"new"


def test_restore_refuses_tampered_copy(tmp_path: Path) -> None:
    moved = tmp_path / "a.bin"
    moved.write_bytes(b"old")
    entry = QuarantineSession(tmp_path, "s1").move(moved, "CK1", "foreign")
    (tmp_path / entry.stored_as).write_bytes(b"changed")
    outcome = restore_session(tmp_path, "s1")
    assert outcome.restored == [] and "sha256" in outcome.skipped[0]


def test_unknown_session_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        restore_session(tmp_path, "nope")
    with pytest.raises(InputError):
        restore_session(tmp_path, "..")
