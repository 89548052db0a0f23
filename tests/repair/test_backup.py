from __future__ import annotations

from pathlib import Path

from dashfix.repair.backup import backup_name, free_backup_path, is_backup_name, utc_stamp


def test_stamp_format() -> None:
    assert utc_stamp(0) == "19700101T000000Z"


def test_backup_path_is_stamped_and_never_an_existing_file(tmp_path: Path) -> None:
    first = free_backup_path(tmp_path, "index.bin", "20260101T000000Z")
    assert first.name == "index.bin.dashfix-20260101T000000Z.bak"
    assert is_backup_name(first.name)
    first.write_bytes(b"one")
    second = free_backup_path(tmp_path, "index.bin", "20260101T000000Z")
    assert second.name == "index.bin.dashfix-20260101T000000Z-1.bak"


def test_backup_names_are_invisible_to_dashflow_listings() -> None:
    name = backup_name("index.bin", "20260101T000000Z")
    # FileCheckpointer: extension exactly "bin"; Compressed: ends .bin/.bin.gz;
    # Versioned: contains .v.bin.
    assert not name.endswith((".bin", ".bin.gz"))
    assert ".v.bin" not in name
