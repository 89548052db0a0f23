from __future__ import annotations

import os
from pathlib import Path

from dashfix.repair.reading import read_entry


def test_reads_regular_files_whole(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"abc")
    (tmp_path / "empty.bin").write_bytes(b"")
    data, info = read_entry(str(tmp_path / "a.bin"))  # type: ignore[misc]
    assert data == b"abc" and info.st_size == 3
    assert read_entry(str(tmp_path / "empty.bin"))[0] == b""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_entry("a.bin", fd)[0] == b"abc"
    finally:
        os.close(fd)


def test_refuses_symlinks_folders_missing_and_oversized(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"secret")
    (tmp_path / "link.bin").symlink_to(tmp_path / "target")
    (tmp_path / "dir.bin").mkdir()
    (tmp_path / "big.bin").write_bytes(b"x" * 100)
    assert read_entry(str(tmp_path / "link.bin")) == "a symlink"
    assert read_entry(str(tmp_path / "dir.bin")) == "not a regular file"
    assert str(read_entry(str(tmp_path / "absent.bin"))).startswith("unreadable")
    assert "too large" in str(read_entry(str(tmp_path / "big.bin"), limit=10))
