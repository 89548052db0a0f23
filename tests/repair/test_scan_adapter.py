from __future__ import annotations

from pathlib import Path

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
    # 12 DCHK files minus the corrupt and the damaged one, plus the Versioned checkpoint
    # (the index is shared by the three file checkpointers).
    assert len(found.candidates) == 11
    assert any(c.name.endswith(".v.bin") for c in found.candidates)
    reasons = dict(found.excluded)
    assert reasons[builder.written[1].path.name].startswith("CK104")
    assert reasons[builder.written[2].path.name].startswith("CK105")
    assert "does not match" in reasons["renamed.bin"]
    assert reasons["junk.bin"].startswith("CK115")
    assert all(c.embedded is not None for c in found.candidates)
