"""Discovery: relative paths of nested entries, symlinks reported and never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashfix.checks import kinds
from dashfix.inputs.discover import discover


def test_nested_entries_are_named_relative_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "notes.txt").write_text("hello")
    os.symlink("/etc/passwd", tmp_path / "a" / "link")
    [(root, found)] = list(discover([tmp_path], kinds.input_kinds()))
    assert root == tmp_path
    assert [s.rel for s in found.skipped] == ["a/b/notes.txt"]
    assert [(f.code, f.path, f.actual) for f in found.findings] == [
        ("DF002", "a/link", "/etc/passwd")
    ]


def test_a_symlink_gone_before_it_is_read_is_a_finding_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.symlink("target", tmp_path / "link")

    def vanished(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(os, "readlink", vanished)
    [(_, found)] = list(discover([tmp_path], kinds.input_kinds()))
    assert [(f.code, f.path) for f in found.findings] == [("DF001", "link")]
