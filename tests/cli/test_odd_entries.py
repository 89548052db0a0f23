"""Folders, FIFOs, sockets and devices where DashFlow reads ``index.bin`` or a checkpoint:
each is reported, never opened, moved aside by ``repair --apply`` and brought back by
``--restore``. Where DashFlow takes its lock (``.checkpoint.lock``), one is reported and
every command that takes the lock stops with exit code 3, changing nothing. Git cannot hold
a FIFO, socket or device, so each test builds its own (the lock folder is a fixture too)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

import pytest

from dashfix.errors import ExitCode
from dashfix.formats.index import decode_index
from dashfix.repair.quarantine import QUARANTINE_DIR
from dashfix.testing.checkpoints import StoreBuilder
from tests.cli.nodes import make_socket

Make = Callable[[Path], None]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _device(path: Path) -> None:
    try:  # a character device like /dev/null
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root (CAP_MKNOD); not available here")


KINDS: dict[str, tuple[Make, Callable[[int], bool], str]] = {
    "folder": (_folder, stat.S_ISDIR, "a folder"),
    "fifo": (_fifo, stat.S_ISFIFO, "a FIFO (named pipe)"),
    "socket": (make_socket, stat.S_ISSOCK, "a socket"),
    "device": (_device, stat.S_ISCHR, "a character device"),
}
ODD_NAME = "ghost_1a2b3c4d5e6f0a1b_chkpt0.bin"
LOCK = ".checkpoint.lock"
LOCK_FOLDER_STORE = Path(__file__).resolve().parents[2] / "fixtures" / "lock-folder" / "store"
CASES = [pytest.param(("index.bin", kind, "CK126"), id=f"index-{kind}") for kind in KINDS] + [
    pytest.param((ODD_NAME, kind, "CK127"), id=f"bin-{kind}") for kind in KINDS if kind != "folder"
]


_opened: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.path.basename(os.fsdecode(args[0])))


sys.addaudithook(_audit)  # an audit hook cannot be removed; it only appends names


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Base names of every file this process opens during the test."""
    _opened.clear()
    yield _opened
    _opened.clear()


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Opening a FIFO for reading waits for a writer: turn a hang into a failure."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("dashfix blocked on an odd store entry")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _store(root: Path, name: str, kind: str) -> Path:
    builder = StoreBuilder(root)
    builder.chain("alpha", 3)
    builder.chain("beta", 2)
    builder.index()
    builder.lock()
    if name in ("index.bin", LOCK):
        (root / name).unlink()
    KINDS[kind][0](root / name)
    _opened.clear()  # building the store opened its files; from here on, dashfix alone
    return root


def _is_kind(path: Path, kind: str) -> bool:
    return KINDS[kind][1](os.lstat(path).st_mode)


class Odd(NamedTuple):
    store: Path
    name: str
    kind: str
    code: str


@pytest.fixture(params=CASES)
def odd(request: pytest.FixtureRequest, tmp_path: Path) -> Odd:
    """A store holding one odd entry (and what verify must call it)."""
    name, kind, code = request.param
    return Odd(_store(tmp_path / "store", name, kind), name, kind, code)


def test_verify_reports_the_entry_and_never_opens_it(
    cli: Callable[..., Any], opened: list[str], odd: Odd,
) -> None:
    store, name, kind, code = odd
    result = cli("verify", str(store), "--format", "json")
    assert result.exit_code == ExitCode.FINDINGS, result.stderr
    [finding] = result.json()["findings"]
    assert (finding["code"], finding["severity"]) == (code, "error")
    assert finding["path"].endswith(name)
    assert finding["actual"] == KINDS[kind][2] and finding["expected"] == "a regular file"
    assert "repair" in finding["fix"]
    assert name not in opened
    assert _is_kind(store / name, kind)


def test_repair_moves_it_aside_so_rebuild_index_runs_and_restore_brings_it_back(
    cli: Callable[..., Any], opened: list[str], odd: Odd,
) -> None:
    store, name, kind, code = odd
    plan = cli("repair", str(store), "--format", "json")
    assert [(a["action"], a["name"], a["code"]) for a in plan.json()["actions"]] == [
        ("quarantine", name, code)]
    assert _is_kind(store / name, kind)
    assert name not in opened

    applied = cli("repair", str(store), "--apply", "--format", "json")
    assert applied.exit_code == ExitCode.CLEAN, applied.stdout + applied.stderr
    assert applied.json()["failed"] == []
    assert applied.json()["remaining"]["findings"] == []
    assert not os.path.lexists(store / name) or name == "index.bin"
    [session] = (store / QUARANTINE_DIR).iterdir()
    assert _is_kind(session / name, kind)
    manifest = json.loads((session / "manifest.json").read_text())
    moved = [e for e in manifest["entries"] if e["action"] == "moved"]
    assert [(e["name"], e["code"], e["sha256"]) for e in moved] == [(name, code, "")]
    assert stat.S_ISREG(os.lstat(store / "index.bin").st_mode)
    assert set(decode_index((store / "index.bin").read_bytes())) == {"alpha", "beta"}

    rebuilt = cli("rebuild-index", str(store))
    assert rebuilt.exit_code == ExitCode.CLEAN, rebuilt.stderr
    assert cli("verify", str(store)).exit_code == ExitCode.CLEAN

    restored = cli("repair", str(store), "--restore", session.name)
    assert restored.exit_code == ExitCode.CLEAN, restored.stdout + restored.stderr
    assert _is_kind(store / name, kind)
    if name == "index.bin":  # the index the repair wrote is kept in the session folder
        [kept] = [p for p in session.iterdir() if p.name.startswith("index.bin.")]
        assert set(decode_index(kept.read_bytes())) == {"alpha", "beta"}
    else:
        assert name not in opened  # moved, recorded and restored without opening it


@pytest.mark.parametrize("kind", list(KINDS))
def test_rebuild_index_names_what_blocks_it_and_the_way_out(
    cli: Callable[..., Any], tmp_path: Path, opened: list[str], kind: str,
) -> None:
    store = _store(tmp_path / "store", "index.bin", kind)
    result = cli("rebuild-index", str(store))
    assert result.exit_code == ExitCode.FAILURE
    message = result.stderr.replace("\n", " ")
    assert f"index.bin is {KINDS[kind][2]}, not a regular file (CK126)" in message
    assert f"`dashfix repair {store}` to see the plan, then `dashfix repair {store} --apply`" in (
        message)
    assert _is_kind(store / "index.bin", kind)

    dry = cli("rebuild-index", str(store), "--dry-run", "--format", "json")
    assert dry.exit_code == ExitCode.FAILURE
    assert "CK126" in dry.json()["blocked"] and dry.json()["written"] is False
    assert dry.json()["excluded"] == []  # index.bin is not a checkpoint candidate
    assert "index.bin" not in opened


def _contents(store: Path) -> dict[str, tuple[int, bytes]]:
    """Every entry under ``store`` (relative name -> mode and, for a regular file, bytes;
    nothing else is opened)."""
    found = {}
    for path in sorted(store.rglob("*")):
        mode = os.lstat(path).st_mode
        found[str(path.relative_to(store))] = (
            mode, path.read_bytes() if stat.S_ISREG(mode) else b"")
    return found


def _lock_stops_every_writer(cli: Callable[..., Any], store: Path, kind: str) -> None:
    """verify reports CK128 alone; the repair plan leaves it alone; repair --apply and
    rebuild-index stop with exit code 3 and a message that names it and the way out, and
    change nothing."""
    before = _contents(store)
    result = cli("verify", str(store), "--format", "json")
    assert result.exit_code == ExitCode.FINDINGS, result.stderr
    [finding] = result.json()["findings"]
    assert (finding["code"], finding["severity"]) == ("CK128", "error")
    assert finding["path"].endswith(LOCK)
    assert finding["actual"] == KINDS[kind][2] and finding["expected"] == "a regular file"

    plan = cli("repair", str(store), "--format", "json")
    assert plan.exit_code == ExitCode.CLEAN, plan.stderr
    assert plan.json()["actions"] == []
    [kept] = plan.json()["kept"]
    assert kept["name"] == LOCK and kept["reason"].startswith("CK128: ")
    blocker = f"{store / LOCK} is {KINDS[kind][2]}, not a regular file (CK128)"
    _plan_says_what_to_do_instead_of_apply(cli, store, blocker)

    for command in (("repair", str(store), "--apply"), ("rebuild-index", str(store))):
        stopped = cli(*command)
        assert stopped.exit_code == ExitCode.FAILURE, command
        message = stopped.stderr.replace("\n", " ")
        assert f"cannot open the store lock: {blocker}" in message, message
        assert "move the entry out of the store" in message and "nothing was changed" in message
        assert "Traceback" not in message
    dry = cli("rebuild-index", str(store), "--dry-run", "--format", "json")
    assert dry.exit_code == ExitCode.FAILURE
    assert blocker in dry.json()["blocked"] and dry.json()["written"] is False
    assert dry.json()["excluded"] == []  # the lock is not a checkpoint candidate
    assert _contents(store) == before


def _plan_says_what_to_do_instead_of_apply(cli: Callable[..., Any], store: Path,
                                           blocker: str) -> None:
    """The repair plan does not offer an --apply that would stop at the lock: it names the
    entry and what to do first."""
    assert blocker in cli("repair", str(store), "--format", "json").json()["blocked"]
    text = " ".join(cli("repair", str(store)).stdout.split())  # as wrapped on any terminal
    assert "to carry out this plan" not in text
    assert "--apply cannot run yet: " in text and f"({blocker.rsplit('(', 1)[1]}" in text
    assert "move the entry out of the store" in text


def test_a_symlinked_lock_blocks_every_writer_and_the_plan_says_so(
    cli: Callable[..., Any], tmp_path: Path,
) -> None:
    """DashFlow follows a symlinked lock (and creates what a dangling one names, even outside
    the store); dashfix never does, so its writers stop, and the plan and dry run say so."""
    store = _store(tmp_path / "store", LOCK, "fifo")
    (store / LOCK).unlink()
    (store / LOCK).symlink_to(tmp_path / "elsewhere")
    blocker = f"{store / LOCK} is a symlink, never followed (CK117)"
    _plan_says_what_to_do_instead_of_apply(cli, store, blocker)
    dry = cli("rebuild-index", str(store), "--dry-run", "--format", "json")
    assert dry.exit_code == ExitCode.FAILURE and blocker in dry.json()["blocked"]
    for command in (("repair", str(store), "--apply"), ("rebuild-index", str(store))):
        stopped = cli(*command)
        assert stopped.exit_code == ExitCode.FAILURE, command
        assert blocker in stopped.stderr.replace("\n", " ")
    assert not os.path.lexists(tmp_path / "elsewhere")


def test_a_lock_folder_is_the_fixture_store_s_only_fault(
    cli: Callable[..., Any], tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    shutil.copytree(LOCK_FOLDER_STORE, store)
    _lock_stops_every_writer(cli, store, "folder")
    # Moved out of the store, as the message says: a clean store, and the lock is taken.
    (store / LOCK).rename(tmp_path / "old-lock")
    assert cli("verify", str(store)).exit_code == ExitCode.CLEAN
    assert cli("rebuild-index", str(store)).exit_code == ExitCode.CLEAN
    assert stat.S_ISREG(os.lstat(store / LOCK).st_mode)


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind != "folder"])
def test_a_lock_fifo_socket_or_device_is_reported_and_never_opened(
    cli: Callable[..., Any], tmp_path: Path, opened: list[str], kind: str,
) -> None:
    store = _store(tmp_path / "store", LOCK, kind)
    _lock_stops_every_writer(cli, store, kind)
    assert LOCK not in opened
    assert _is_kind(store / LOCK, kind)
