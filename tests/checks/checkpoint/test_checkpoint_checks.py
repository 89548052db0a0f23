"""Unit properties of the checkpoint check families' shared helpers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dashfix.checks.checkpoint.temps import describe_age
from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.checkpoint_problems import PROBLEM_RULES, problem_code
from dashfix.inputs.checkpoint_files.scan import StoreScan
from dashfix.inputs.checkpoint_record import DCHK, OTHER, PLAIN, FileProblem, FileRecord
from dashfix.inputs.latest import latest_per_thread


@given(st.integers(min_value=0, max_value=10**8))
def test_describe_age_uses_the_largest_whole_unit(seconds: int) -> None:
    text = describe_age(seconds)
    number, unit = text.split(" ")
    sizes = {"d": 86400, "h": 3600, "min": 60, "s": 1}
    size = sizes[unit]
    assert int(number) == seconds // size
    assert size == max([s for s in sizes.values() if s <= seconds] or [1])


def test_view_separates_unusual_records_and_knows_variants() -> None:
    healthy = FileRecord("t_abcde_chkpt0.bin", DCHK, 1, 0, checkpoint_id="t_abcde_chkpt0",
                         thread_id="t", secs=5, metadata_count=0)
    damaged = FileRecord("t_abcde_chkpt1.bin", DCHK, 1, 0, "CK104", "crc")
    copy = healthy._replace(name="copy.bin", flags=2)
    scan = StoreScan.of_records(Path("."), [healthy, damaged, copy])
    view = StoreView.of(scan, "run/ckpt")
    record = scan.rows.record
    assert scan.rows.kinds == bytearray((OTHER, PLAIN, OTHER))
    assert scan.records == [copy, healthy, damaged]
    assert view.unusual == [copy, damaged]
    # A timed row (a loadable checkpoint with a known time) has its time in the columns.
    assert [record(row) for row, secs in enumerate(scan.rows.secs) if secs >= 0] == [
        copy, healthy]
    assert view.variants == {DCHK}
    assert {k: [record(row) for row in rows] for k, rows in view.same_id.items()} == {
        "t_abcde_chkpt0": [copy, healthy]}
    assert view.latest == latest_per_thread(scan.records) == {"t": copy}
    assert view.path(".") == "run/ckpt" and view.path("x.bin") == "run/ckpt/x.bin"


def test_every_problem_the_reader_finds_has_a_code_of_its_own() -> None:
    assert set(PROBLEM_RULES) == set(FileProblem)
    codes = [rule.code for rule in PROBLEM_RULES.values()]
    assert len(set(codes)) == len(codes) and all(code.startswith("CK") for code in codes)
    assert problem_code(FileProblem.ZERO_FILLED) == "CK100"
