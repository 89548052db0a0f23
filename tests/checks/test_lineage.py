"""The lineage checks are written once: over a file store's columns and over a backend's
table built from the same checkpoints, they find the same things."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.lineage import chains, writers
from dashfix.checks.lineage.backends import BackendView
from dashfix.findings import Finding
from dashfix.inputs.checkpoint_files.scan import scan_store
from dashfix.inputs.checkpoint_model import CheckpointEntry, CheckpointTable, Place
from dashfix.inputs.checkpoint_record import is_timed
from dashfix.testing.checkpoints import StoreBuilder

INTEROP = Path(__file__).resolve().parents[2] / "fixtures" / "interop"


def _concurrent(root: Path) -> Path:
    store = StoreBuilder(root)
    store.chain("alpha", 3)
    store.checkpoint("alpha", proc="ffee00112233abcd", parent=None)
    store.checkpoint("alpha", proc="1a2b3c4d5e6f0a1b")
    store.checkpoint("beta", parent="missing_1a2b3c4d5e6f0a1b_chkpt9")
    return root


def _as_table(store: Path) -> CheckpointTable:
    table = CheckpointTable(Place.FILE, lambda thread, checkpoint_id: f"{checkpoint_id}.bin")
    for record in scan_store(store).records:
        if is_timed(record):
            assert record.checkpoint_id is not None and record.thread_id is not None
            table.add(CheckpointEntry(
                record.checkpoint_id, record.thread_id, record.node or "",
                record.secs * 1_000_000_000 + record.nanos, record.parent_id, None,
                record.state_end - record.state_start, None, Place.FILE, record.name))
    table.freeze()
    return table


def _seen(findings: list[Finding]) -> set[tuple[str, str | None, str | None, str]]:
    # A backend names an entry of a store that is its own root "#name" (a logical location).
    return {(f.code, f.thread_id, f.checkpoint_id, f.path.removeprefix("#")) for f in findings}


@pytest.mark.parametrize(("make", "codes"), [
    (lambda tmp: INTEROP / "ckpt-collision-restart", {"CK140", "CK145"}),
    (lambda tmp: INTEROP / "ckpt-healthy", set()),
    (_concurrent, {"CK142", "CK150"}),
])
def test_same_findings_over_files_and_over_a_table(
    tmp_path: Path, make: Callable[[Path], Path], codes: set[str]
) -> None:
    store = make(tmp_path / "store")
    file_view = StoreView.of(scan_store(store), ".")
    table_view = BackendView(_as_table(store), ".", set())
    over_files = [*chains.check(file_view), *writers.check(file_view)]
    over_table = [*chains.check(table_view), *writers.check(table_view)]
    assert {f.code for f in over_files} == codes
    assert _seen(over_files) == _seen(over_table)


def test_a_table_takes_an_id_whose_counter_is_longer_than_a_u64() -> None:
    # 5000 digits once raised ValueError (Python turns at most 4300 digits into an int).
    table = CheckpointTable(Place.FILE, lambda thread, checkpoint_id: f"{checkpoint_id}.bin")
    for digits in ("7", "7" * 21, "7" * 5000):
        table.add(CheckpointEntry(f"t_abcde_chkpt{digits}", "t", "n", 1_700_000_000_000_000_000,
                                  None, None, 0, None, Place.FILE, f"{len(digits)}.bin"))
    table.freeze()
    assert list(table.procs) == ["abcde", None, None]
    assert list(table.counters) == [7, -1, -1]
