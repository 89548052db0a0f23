"""--sample and --max-duration: deterministic buckets, full coverage, honest counts."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashfix.errors import UsageError
from dashfix.sampling import Sample, Selection, parse_sample

PATHS = [f"thread-{t}_chkpt{n}.bin" for t in range(20) for n in range(50)]


@pytest.mark.parametrize("of", [1, 2, 3, 10])
def test_the_m_runs_read_every_file_exactly_once(of: int) -> None:
    seen: dict[str, int] = {}
    for part in range(1, of + 1):
        sample = Sample(part, of)
        for path in PATHS:
            if sample.selects(path):
                seen[path] = seen.get(path, 0) + 1
    assert seen == dict.fromkeys(PATHS, 1)


def test_a_bucket_is_roughly_one_mth() -> None:
    chosen = [p for p in PATHS if Sample(1, 10).selects(p)]
    assert 60 <= len(chosen) <= 140


def test_buckets_do_not_depend_on_the_process_or_hash_seed() -> None:
    here = [p for p in PATHS if Sample(3, 7).selects(p)]
    script = (
        "from dashfix.sampling import Sample\n"
        f"paths = {PATHS!r}\n"
        "print([p for p in paths if Sample(3, 7).selects(p)])\n"
    )
    for seed in ("1", "4242"):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, env={"PYTHONHASHSEED": seed})
        assert out.stdout.strip() == repr(here)


@given(st.lists(st.text(), unique=True, max_size=50), st.integers(1, 12))
def test_coverage_for_any_names(paths: list[str], of: int) -> None:
    for path in paths:
        assert sum(Sample(part, of).selects(path) for part in range(1, of + 1)) == 1


def test_percent_samples_nest() -> None:
    ten = {p for p in PATHS if parse_sample("10%").selects(p)}
    twenty = {p for p in PATHS if parse_sample("20%").selects(p)}
    assert ten < twenty
    assert all(parse_sample("100%").selects(p) for p in PATHS)
    assert 50 <= len(ten) <= 150


@pytest.mark.parametrize("text", ["0/10", "11/10", "1/0", "0%", "101%", "half", "1/", "-5%"])
def test_bad_samples_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--sample"):
        parse_sample(text)


def test_parse_sample_forms() -> None:
    assert parse_sample(" 2/5 ") == Sample(2, 5)
    assert parse_sample("2.5%") == Sample(250, 10_000, percent=True)
    assert parse_sample("2.5%").describe() == "--sample 2.5%"
    assert parse_sample("2/5").describe() == "--sample 2/5"


def test_deadline_stops_new_files_and_counts_them() -> None:
    now = [0.0]
    selection = Selection(max_duration=5, clock=lambda: now[0])
    assert selection.admits("store", "a.bin")
    now[0] = 5.0
    assert not selection.admits("store", "b.bin")
    assert not selection.admits("other", "c.bin")
    assert selection.skipped("store") == 1
    [note] = selection.notes()
    assert "2 file(s)" in note and "--max-duration 5s" in note and "store" in note


def test_sample_refusals_are_counted_per_target() -> None:
    selection = Selection(sample=Sample(1, 10))
    admitted = [p for p in PATHS if selection.admits("s", p)]
    assert selection.skipped("s") == len(PATHS) - len(admitted)
    assert selection.partial
    [note] = selection.notes()
    assert note.startswith(f"{len(PATHS) - len(admitted)} file(s) outside --sample 1/10")


def test_full_selection_reads_everything_and_says_nothing() -> None:
    selection = Selection()
    assert all(selection.admits("s", p) for p in PATHS)
    assert not selection.partial
    assert selection.notes() == []


def test_sampling_a_listing_matches_file_by_file() -> None:
    one_by_one = Selection(sample=Sample(2, 5))
    at_once = Selection(sample=Sample(2, 5))
    assert at_once.sampled_names("s", PATHS) == [p for p in PATHS if one_by_one.sampled("s", p)]
    assert at_once.sampled_out == one_by_one.sampled_out
    assert Selection().sampled_names("s", PATHS) is PATHS
