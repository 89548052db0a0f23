from __future__ import annotations

import os
from pathlib import Path

from dashfix.repair.backup import backup_file, backup_name, is_backup_name, utc_stamp


def test_stamp_format() -> None:
    assert utc_stamp(0) == "19700101T000000Z"


def test_backup_keeps_bytes_mode_and_mtime(tmp_path: Path) -> None:
    index = tmp_path / "index.bin"
    index.write_bytes(b"\x01\x02")
    index.chmod(0o640)
    os.utime(index, ns=(1_700_000_000_000_000_000, 1_700_000_000_123_456_789))
    copy = backup_file(index, "20260101T000000Z")
    assert copy is not None
    assert copy.name == "index.bin.dashfix-20260101T000000Z.bak"
    assert copy.read_bytes() == b"\x01\x02"
    assert copy.stat().st_mode & 0o777 == 0o640
    assert copy.stat().st_mtime_ns == 1_700_000_000_123_456_789
    assert is_backup_name(copy.name)


def test_second_backup_in_same_second_does_not_overwrite(tmp_path: Path) -> None:
    index = tmp_path / "index.bin"
    index.write_bytes(b"one")
    first = backup_file(index, "20260101T000000Z")
    index.write_bytes(b"two")
    second = backup_file(index, "20260101T000000Z")
    assert first is not None and second is not None and first != second
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"


def test_missing_file_has_no_backup(tmp_path: Path) -> None:
    assert backup_file(tmp_path / "index.bin", "20260101T000000Z") is None
    assert list(tmp_path.iterdir()) == []


def test_backup_names_are_invisible_to_dashflow_listings() -> None:
    name = backup_name("index.bin", "20260101T000000Z")
    # FileCheckpointer: extension exactly "bin"; Compressed: ends .bin/.bin.gz;
    # Versioned: contains .v.bin.
    assert not name.endswith((".bin", ".bin.gz"))
    assert ".v.bin" not in name
