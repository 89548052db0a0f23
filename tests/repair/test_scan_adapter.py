from __future__ import annotations

from pathlib import Path

import pytest

from dashfix.repair import scan_adapter
from dashfix.repair.scan_adapter import collect_candidates
from dashfix.testing.checkpoints import StoreBuilder, damage_magic, flip_byte


def mixed_store(root: Path) -> StoreBuilder:
    builder = StoreBuilder(root)
    for thread in ("a", "b", "c"):
        builder.chain(thread, 4)
    flip_byte(builder.written[1].path, 50)
    damage_magic(builder.written[2].path)
    builder.checkpoint("a", name="renamed.bin")
    builder.write_raw("junk.bin", b"\xff" * 40)
    builder.versioned_checkpoint("v")
    builder.index()
    return builder


def test_candidates_and_exclusions(tmp_path: Path) -> None:
    builder = mixed_store(tmp_path)
    found = collect_candidates(tmp_path)
    assert len(found.candidates) == 10
    reasons = dict(found.excluded)
    assert reasons[builder.written[1].path.name] == "corrupt: ChecksumMismatch"
    assert "does not decode" in reasons[builder.written[2].path.name]
    assert "does not match" in reasons["renamed.bin"]
    assert "does not decode" in reasons["junk.bin"]
    assert all(c.embedded is not None for c in found.candidates)


def test_parallel_scan_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed_store(tmp_path)
    serial = collect_candidates(tmp_path)
    monkeypatch.setattr(scan_adapter, "PARALLEL_MIN_FILES_PER_WORKER", 1)
    parallel = collect_candidates(tmp_path)
    assert sorted(parallel.candidates, key=lambda c: c.name) == sorted(
        serial.candidates, key=lambda c: c.name
    )
    assert parallel.excluded == serial.excluded
