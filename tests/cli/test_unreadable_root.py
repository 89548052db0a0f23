"""A root that cannot be read (a store folder at mode 000, say) exits 3 ("could not be read"),
never 2 (usage) and never with an internal error.

Root ignores mode bits, so when the suite runs as root each command runs as the unprivileged
user ``nobody`` through ``setpriv`` (util-linux); as any other user it runs as that user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashfix.errors import ExitCode
from dashfix.testing.checkpoints import StoreBuilder

AS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
DROP = [SETPRIV or "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
# The permissions the checking user gets on the store folder.
NO_ACCESS, SEARCH_ONLY, READ_ONLY = 0, 1, 4


def _command(*args: str) -> list[str]:
    return [*(DROP if AS_ROOT else []), sys.executable, "-m", "dashfix", *args]


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A folder the unprivileged user can pass through (pytest's tmp_path is 0700)."""
    if AS_ROOT:
        if SETPRIV is None:
            pytest.skip("running as root, which ignores mode bits, and setpriv is missing")
        probe = subprocess.run([*DROP, sys.executable, "-c", "import dashfix"],
                               capture_output=True, timeout=60)
        if probe.returncode != 0:
            pytest.skip("running as root, and user nobody cannot run this checkout's Python: "
                        + probe.stderr.decode(errors="replace")[-200:])
    folder = Path(tempfile.mkdtemp(prefix="dashfix-unreadable-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def _store(workdir: Path, name: str, access: int) -> Path:
    builder = StoreBuilder(workdir / name)
    builder.chain("alpha", 2)
    builder.index()
    builder.lock()
    # As root the checks run as "other"; otherwise as the owner.
    (workdir / name).chmod(access if AS_ROOT else access << 6)
    return workdir / name


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(_command(*args), cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ("verify",), ("repair",), ("repair", "--apply"), ("rebuild-index",),
    ("rebuild-index", "--dry-run"), ("inspect",),
])
def test_a_store_at_mode_000_exits_3_and_says_so(workdir: Path, args: tuple[str, ...]) -> None:
    store = _store(workdir, "-".join(("locked", *args)).replace("--", ""), NO_ACCESS)
    result = _run(workdir, *args, str(store))
    assert result.returncode == ExitCode.FAILURE, result.stdout + result.stderr
    assert "Permission denied" in result.stdout + result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "Usage:" not in result.stderr


@pytest.mark.parametrize("access", [SEARCH_ONLY, READ_ONLY], ids=["search-only", "read-only"])
@pytest.mark.parametrize("command", ["verify", "repair"])
def test_a_store_that_cannot_be_listed_or_entered_exits_3(
    workdir: Path, command: str, access: int,
) -> None:
    store = _store(workdir, f"{command}-{access}", access)
    result = _run(workdir, command, str(store))
    assert result.returncode == ExitCode.FAILURE, result.stdout + result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
