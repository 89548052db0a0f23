from __future__ import annotations

from pathlib import Path

from dashfix.formats.ids import IdScheme
from dashfix.repair.apply import apply_repair, preview_repair
from dashfix.repair.plan import ActionKind, plan_repair
from dashfix.repair.quarantine import QUARANTINE_DIR
from dashfix.testing.checkpoints import Header, StoreBuilder, set_declared_length, set_version


def actions(store: Path) -> dict[str, ActionKind]:
    return {action.name: action.kind for action in plan_repair(store).actions}


def test_healthy_store_needs_nothing(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    builder.chain("alpha", 3)
    builder.index()
    builder.lock()
    plan = plan_repair(tmp_path)
    assert plan.actions == [] and plan.kept == []
    assert plan.predicted.count == 3


def test_header_faults_are_quarantined(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    one, two, three = builder.chain("alpha", 3)
    set_version(one.path, 2)
    set_declared_length(two.path, 5)
    three.path.write_bytes(b"DCHK\x01")
    assert actions(tmp_path) == {
        one.path.name: ActionKind.QUARANTINE,
        two.path.name: ActionKind.QUARANTINE,
        three.path.name: ActionKind.QUARANTINE,
    }


def test_folder_and_symlink_named_bin_are_quarantined(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path / "s")
    builder.chain("alpha", 1)
    (tmp_path / "s" / "sub.bin").mkdir()
    (tmp_path / "outside.bin").write_bytes(b"x")
    (tmp_path / "s" / "link.bin").symlink_to(tmp_path / "outside.bin")
    assert actions(tmp_path / "s") == {
        "link.bin": ActionKind.QUARANTINE, "sub.bin": ActionKind.QUARANTINE,
    }
    outcome = apply_repair(tmp_path / "s")
    assert outcome.failed == []
    assert (tmp_path / "outside.bin").read_bytes() == b"x"
    assert outcome.session is not None
    assert (tmp_path / "s" / QUARANTINE_DIR / outcome.session.name / "sub.bin").is_dir()


def test_legacy_files_are_kept_and_still_indexed(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    legacy = builder.checkpoint("alpha", header=Header.LEGACY, scheme=IdScheme.COUNTER)
    preview = preview_repair(tmp_path)
    assert preview.plan.actions == []
    assert [name for name, _ in preview.plan.kept] == [legacy.path.name]
    assert [c.thread_id for c in preview.index_plan.changes_of("added")] == ["alpha"]


def test_variants_quarantined_only_among_file_checkpoints(tmp_path: Path) -> None:
    only_variants = StoreBuilder(tmp_path / "v")
    only_variants.versioned_checkpoint("vt")
    only_variants.gzip_checkpoint("gz")
    assert actions(tmp_path / "v") == {}
    mixed = StoreBuilder(tmp_path / "m")
    mixed.chain("alpha", 1)
    versioned = mixed.versioned_checkpoint("vt", compress=True)
    assert actions(tmp_path / "m") == {versioned.path.name: ActionKind.QUARANTINE}


def test_name_mismatch_is_quarantined_with_its_code(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    copy = builder.checkpoint("alpha", name="copy-of-alpha.bin")
    [action] = plan_repair(tmp_path).actions
    assert (action.name, action.kind, action.code) == (
        copy.path.name, ActionKind.QUARANTINE, "CK113")


def test_dashfix_own_files_are_ignored(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    builder.chain("alpha", 1)
    builder.write_raw("index.bin.dashfix-20260101T000000Z.bak", b"junk")
    (tmp_path / QUARANTINE_DIR).mkdir()
    assert plan_repair(tmp_path).actions == []
