"""The input kinds list: the deferred kinds stand for the real ones, imported on use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dashfix.checks.backends.sqlite import SQLITE_CHECKPOINTS
from dashfix.checks.checkpoint.store_kind import CHECKPOINT_STORE
from dashfix.checks.dlq import DLQ_DUMP_KIND
from dashfix.checks.kinds import input_kinds
from dashfix.checks.stream.log import STREAM_LOG_KIND
from dashfix.testing.backends import SqliteCheckpoints
from dashfix.testing.checkpoints import StoreBuilder
from dashfix.testing.dlq import library_record, write_dump
from dashfix.testing.streams import healthy_values, write_frames_dir, write_kcat


def test_kinds_in_discovery_order_with_the_real_kinds_capabilities() -> None:
    real = (CHECKPOINT_STORE, SQLITE_CHECKPOINTS, DLQ_DUMP_KIND, STREAM_LOG_KIND)
    kinds = input_kinds()
    assert [kind.name for kind in kinds] == [kind.name for kind in real]
    for kind, actual in zip(kinds, real, strict=True):
        assert (kind.claims_dir is None) == (actual.claims_dir is None)
        assert (kind.sniff_file is None) == (actual.sniff_file is None)


def test_deferred_kinds_answer_as_the_real_ones(tmp_path: Path) -> None:
    values = healthy_values()
    frames = write_frames_dir(tmp_path / "frames", values)
    capture = write_kcat(tmp_path / "capture.kcat", values)
    dump = write_dump(tmp_path / "dump.jsonl", [library_record(values[0])])
    database = SqliteCheckpoints(path=tmp_path / "checkpoints.db", states=[b"\x00"])
    database.save("t1")
    database.close()
    by_name = {kind.name: kind for kind in input_kinds()}
    answers = []
    for real in (SQLITE_CHECKPOINTS, DLQ_DUMP_KIND, STREAM_LOG_KIND):
        deferred = by_name[real.name]
        if real.claims_dir is not None:
            assert deferred.claims_dir is not None
            for folder in (frames, tmp_path):
                answers.append((real.name, folder.name, deferred.claims_dir(folder)))
                assert answers[-1][2] == real.claims_dir(folder)
        for file in (capture, dump, database.path):
            assert deferred.sniff_file is not None and real.sniff_file is not None
            head = file.read_bytes()[:4096]
            answers.append((real.name, file.name, deferred.sniff_file(file, head)))
            assert answers[-1][2] == real.sniff_file(file, head)
    # Each kind recognised what it should, so the comparison above was not of two Nones.
    assert ("stream-log", "frames", True) in answers
    assert ("stream-log", "capture.kcat", "kcat") in answers
    assert ("sqlite-checkpoints", "checkpoints.db", "sqlite-checkpoints") in answers
    assert any(name == "dlq-dump" and file == "dump.jsonl" and answer
               for name, file, answer in answers)


def test_a_checkpoint_store_run_does_not_import_the_stream_or_dlq_code(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path / "store")
    store.checkpoint("t1")
    probe = (
        "import sys\n"
        "from dashfix.cli.main import run\n"
        f"code = run(['verify', {str(store.root)!r}, '-f', 'json', '--progress', 'never'])\n"
        "loaded = [m for m in ('dashfix.checks.dlq', 'dashfix.checks.stream.log',\n"
        "          'google.protobuf', 'zstandard') if m in sys.modules]\n"
        "print(code, loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert done.stderr.strip().splitlines()[-1] == "0 []"
