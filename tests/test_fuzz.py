"""The fuzz targets (fuzz/): a short coverage-guided run of every decoder, and every input a
fuzzer ever crashed on, replayed as a regression test. ``make fuzz`` runs the long campaign."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fuzz.targets import ALL, TARGETS

REGRESSIONS = Path(__file__).resolve().parent.parent / "fuzz" / "regressions"
SHORT_RUNS = 6000


def test_crash_inputs_found_by_fuzzing_stay_fixed() -> None:
    """Each file in fuzz/regressions/TARGET/ once crashed, hung or broke the counted bound
    of TARGET (the first ones: the zero-filled inputs whose tail search was quadratic)."""
    replayed = 0
    for path in sorted(REGRESSIONS.glob("*/*")):
        TARGETS[path.parent.name].run(path.read_bytes())
        replayed += 1
    assert replayed >= 2


def test_regression_folders_name_targets() -> None:
    assert {folder.name for folder in REGRESSIONS.iterdir() if folder.is_dir()} <= set(TARGETS)


def test_seeds_pass_their_own_target() -> None:
    for target in TARGETS.values():
        seeds = target.seeds()
        assert seeds, target.name
        for seed in seeds:
            target.run(seed)


def test_short_fuzz_run_of_every_decoder(tmp_path: Path) -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("atheris is not installed (pip install -e '.[dev]')")
    from fuzz.__main__ import fuzz_target

    outcome = fuzz_target(ALL, SHORT_RUNS, timeout=60, work=tmp_path)
    assert outcome.passed, (tmp_path / f"{ALL}.log").read_text(errors="replace")[-3000:]
    assert outcome.runs == SHORT_RUNS
    assert not list((tmp_path / "crashes").iterdir())
