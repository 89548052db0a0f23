"""Which states of a store DB507 reports as in another compression than the store's: the
store's compression is the one most states read as, a tie goes to the newest state's, and a
state that reads as either of two framings fits both."""

from __future__ import annotations

from pathlib import Path

from dashfix.checks.lineage.backends import TableReading
from dashfix.context import CheckContext, VerifyOptions
from dashfix.formats.compression import Compression, StateFraming
from dashfix.inputs.checkpoint_model import CheckpointEntry, CheckpointTable, Place

NONE, LZ4, SNAPPY = Compression.NONE, Compression.LZ4, Compression.SNAPPY


def _reported(tmp_path: Path, reads_as: list[Compression]) -> dict[str, tuple[str, str]]:
    """checkpoint id -> (expected, actual) of each DB507, for states saved in order."""
    ctx = CheckContext(root=tmp_path, options=VerifyOptions())
    reading = TableReading(CheckpointTable(Place.ROW, lambda _t, c: f"t/{c}"), ctx, ".")
    for n, compression in enumerate(reads_as):
        entry = CheckpointEntry(f"t_chkpt{n}", "t", "step", 1_760_000_000_000_000_000 + n,
                                None, None, 10, None, Place.ROW, f"t/t_chkpt{n}")
        assert reading.keep(entry, StateFraming(compression)) == []
    return {str(f.checkpoint_id): (str(f.expected), str(f.actual))
            for f in reading.compression_findings()}


def test_the_store_compression_is_the_one_most_states_read_as(tmp_path: Path) -> None:
    assert _reported(tmp_path, [LZ4, LZ4, NONE, LZ4]) == {"t_chkpt2": ("lz4", "uncompressed")}
    assert _reported(tmp_path, [NONE, NONE, SNAPPY]) == {"t_chkpt2": ("uncompressed", "snappy")}
    assert _reported(tmp_path, [LZ4, LZ4, LZ4]) == {}


def test_a_tie_goes_to_the_newest_state(tmp_path: Path) -> None:
    assert _reported(tmp_path, [NONE, SNAPPY]) == {"t_chkpt0": ("snappy", "uncompressed")}
    assert _reported(tmp_path, [SNAPPY, NONE]) == {"t_chkpt0": ("uncompressed", "snappy")}


def test_a_state_of_two_framings_fits_either(tmp_path: Path) -> None:
    assert _reported(tmp_path, [LZ4 | SNAPPY, SNAPPY, SNAPPY]) == {}
    assert _reported(tmp_path, [LZ4 | SNAPPY, LZ4, NONE]) == {"t_chkpt2": ("lz4",
                                                                          "uncompressed")}
