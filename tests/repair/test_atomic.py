from __future__ import annotations

from pathlib import Path

import pytest

from dashfix.repair.atomic import AtomicFile, atomic_write_bytes


def test_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "index.bin"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.bin"]


def test_failure_leaves_old_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.kcat"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), AtomicFile(target) as out:
        out.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.kcat"]
