from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from dashfix.errors import UsageError
from dashfix.formats.dashfix_files import temp_name
from dashfix.repair.quarantine import (
    MOVED,
    QUARANTINE_DIR,
    RENAMED,
    REWRITTEN,
    QuarantineSession,
    list_sessions,
    restore_session,
    tidy,
)


def _journal(session: QuarantineSession) -> list[dict[str, object]]:
    return [json.loads(line) for line in session.journal_path.read_text().splitlines()]


def test_intents_are_on_disk_before_the_file_moves(tmp_path: Path) -> None:
    bad = tmp_path / "t_1.bin"
    bad.write_bytes(b"corrupt bytes")
    session = QuarantineSession(tmp_path, "20260101T000000Z")
    step = session.plan(MOVED, "t_1.bin", code="CK101", reason="CRC mismatch",
                        action="quarantine")
    session.commit()
    assert bad.exists()
    [begin, intent] = _journal(session)
    assert begin["record"] == "begin" and intent["record"] == "intent"
    assert intent["name"] == "t_1.bin" and intent["op"] == "moved"
    assert intent["sha256"] == hashlib.sha256(b"corrupt bytes").hexdigest()
    assert intent["stored_as"] == f"{QUARANTINE_DIR}/20260101T000000Z/t_1.bin"

    session.move(step)
    session.finish()
    assert not bad.exists()
    assert (tmp_path / step.stored_as).read_bytes() == b"corrupt bytes"
    assert [r["record"] for r in _journal(session)] == ["begin", "intent", "done", "end"]
    manifest = json.loads(session.manifest_path.read_text())
    [recorded] = manifest["entries"]
    assert manifest["state"] == "complete"
    assert recorded["name"] == "t_1.bin" and recorded["size"] == 13
    assert recorded["code"] == "CK101"
    [listed] = list_sessions(tmp_path)
    assert listed["session"] == "20260101T000000Z" and listed["state"] == "complete"


def _three_step_session(tmp_path: Path) -> QuarantineSession:
    (tmp_path / "a.bin").write_bytes(b"A")
    rewritten = tmp_path / "b.bin"
    rewritten.write_bytes(b"B-original")
    os.utime(rewritten, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    (tmp_path / ".c.bin.x.tmp").write_bytes(b"C")
    session = QuarantineSession(tmp_path, "s1")
    moved = session.plan(MOVED, "a.bin", code="CK1", reason="foreign", action="quarantine")
    fixed = session.plan(REWRITTEN, "b.bin", code="CK2", reason="magic", action="fix-magic",
                         new_data=b"B-fixed")
    promoted = session.plan(RENAMED, ".c.bin.x.tmp", code="CK3", reason="promoted",
                            action="promote", stored_as="c.bin")
    session.commit()
    session.move(moved)
    session.rewrite(fixed, lambda _old: b"B-fixed", keep_times=True)
    session.rename(promoted)
    session.finish()
    return session


def test_rewrite_keeps_mode_and_mtime(tmp_path: Path) -> None:
    _three_step_session(tmp_path)
    assert (tmp_path / "b.bin").read_bytes() == b"B-fixed"
    assert (tmp_path / "b.bin").stat().st_mtime_ns == 1_700_000_000_000_000_000


def test_restore_undoes_move_rewrite_and_rename_once(tmp_path: Path) -> None:
    _three_step_session(tmp_path)
    outcome = restore_session(tmp_path, "s1")
    assert sorted(outcome.restored) == [".c.bin.x.tmp", "a.bin", "b.bin"]
    assert outcome.skipped == []
    assert (tmp_path / "a.bin").read_bytes() == b"A"
    assert (tmp_path / "b.bin").read_bytes() == b"B-original"
    assert (tmp_path / "b.bin").stat().st_mtime_ns == 1_700_000_000_000_000_000
    assert (tmp_path / ".c.bin.x.tmp").read_bytes() == b"C"
    assert not (tmp_path / "c.bin").exists()
    [listed] = list_sessions(tmp_path)
    assert listed["state"] == "restored" and listed["restored"]

    again = restore_session(tmp_path, "s1")
    assert again.already_restored == listed["restored"]
    assert again.restored == [] and again.skipped == []


def test_restore_never_overwrites_a_file_that_came_back(tmp_path: Path) -> None:
    moved = tmp_path / "a.bin"
    moved.write_bytes(b"old")
    session = QuarantineSession(tmp_path, "s1")
    step = session.plan(MOVED, "a.bin", code="CK1", reason="foreign", action="quarantine")
    session.commit()
    session.move(step)
    session.finish()
    moved.write_bytes(b"new")
    outcome = restore_session(tmp_path, "s1")
    assert outcome.restored == [] and "back in the store" in outcome.skipped[0]
    assert moved.read_bytes() == b"new"


def test_restore_refuses_tampered_copy(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"old")
    session = QuarantineSession(tmp_path, "s1")
    step = session.plan(MOVED, "a.bin", code="CK1", reason="foreign", action="quarantine")
    session.commit()
    session.move(step)
    session.finish()
    (tmp_path / step.stored_as).write_bytes(b"changed")
    outcome = restore_session(tmp_path, "s1")
    assert outcome.restored == [] and "sha256" in outcome.skipped[0]


def test_unknown_session_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        restore_session(tmp_path, "nope")
    with pytest.raises(UsageError):
        restore_session(tmp_path, "..")


def test_a_killed_session_is_settled_from_the_files(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"A")
    (tmp_path / "b.bin").write_bytes(b"B")
    session = QuarantineSession(tmp_path, "s1")
    first = session.plan(MOVED, "a.bin", code="CK1", reason="r", action="quarantine")
    session.plan(MOVED, "b.bin", code="CK1", reason="r", action="quarantine")
    session.commit()
    # The run dies right after its first rename, before it could record it.
    os.rename(tmp_path / "a.bin", tmp_path / first.stored_as)
    leftover = tmp_path / temp_name("index.bin", "0f0e0d0c-0b0a-4908-8706-050403020100")
    leftover.write_bytes(b"half an index")
    [listed] = list_sessions(tmp_path)
    assert listed["state"] == "interrupted (not settled yet)"

    notes = tidy(tmp_path)
    assert not leftover.exists()
    assert any("settled the interrupted session s1: 1 of 2" in note for note in notes)
    manifest = json.loads(session.manifest_path.read_text())
    assert manifest["state"] == "interrupted"
    assert [e["name"] for e in manifest["entries"]] == ["a.bin"]
    outcome = restore_session(tmp_path, "s1")
    assert outcome.restored == ["a.bin"]
    assert sorted(p.name for p in tmp_path.glob("*.bin")) == ["a.bin", "b.bin"]


def test_a_cut_last_journal_line_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"A")
    session = QuarantineSession(tmp_path, "s1")
    step = session.plan(MOVED, "a.bin", code="CK1", reason="r", action="quarantine")
    session.commit()
    session.move(step)
    with open(session.journal_path, "ab") as journal:
        journal.write(b'{"record": "en')
    [listed] = list_sessions(tmp_path)
    assert listed["done"] == 1 and listed["state"] == "interrupted (not settled yet)"


def test_a_session_of_an_older_version_restores_from_its_manifest(tmp_path: Path) -> None:
    folder = tmp_path / QUARANTINE_DIR / "old"
    folder.mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"A")
    entry = {"name": "a.bin", "action": "moved", "stored_as": f"{QUARANTINE_DIR}/old/a.bin",
             "sha256": hashlib.sha256(b"A").hexdigest(), "size": 1, "mode": 0o644,
             "mtime_ns": 0, "code": "CK115", "reason": "foreign", "time": "x"}
    (folder / "manifest.json").write_text(json.dumps({"manifest_version": 1,
                                                      "entries": [entry]}))
    assert restore_session(tmp_path, "old").restored == ["a.bin"]
    assert (tmp_path / "a.bin").read_bytes() == b"A"
    assert restore_session(tmp_path, "old").already_restored
