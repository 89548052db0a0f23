from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dashfix.errors import StoreLockedError, WriteError
from dashfix.formats.variants import LOCK_NAME
from dashfix.repair.lock import store_lock

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock_in_other_process(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_creates_lock_file_like_dashflow_and_keeps_it(tmp_path: Path) -> None:
    with store_lock(tmp_path) as path:
        assert path == tmp_path / LOCK_NAME
        assert path.stat().st_size == 0
    assert (tmp_path / LOCK_NAME).exists()


def test_does_not_truncate_an_existing_lock_file(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_bytes(b"pid 42")
    with store_lock(tmp_path):
        pass
    assert (tmp_path / LOCK_NAME).read_bytes() == b"pid 42"


def test_lock_held_by_another_process_fails_at_once(tmp_path: Path) -> None:
    holder = hold_lock_in_other_process(tmp_path / LOCK_NAME, 30)
    try:
        started = time.monotonic()
        with pytest.raises(StoreLockedError, match="--wait"), store_lock(tmp_path):
            pass
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_wait_times_out_while_lock_stays_held(tmp_path: Path) -> None:
    holder = hold_lock_in_other_process(tmp_path / LOCK_NAME, 30)
    try:
        with pytest.raises(StoreLockedError, match="after waiting"), store_lock(tmp_path, 0.3):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_wait_gets_the_lock_once_released(tmp_path: Path) -> None:
    fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    releaser = threading.Timer(0.3, lambda: fcntl.flock(fd, fcntl.LOCK_UN))
    releaser.start()
    try:
        # While we hold it, nobody else can take it.
        with store_lock(tmp_path, 10), pytest.raises(BlockingIOError):
            other = os.open(tmp_path / LOCK_NAME, os.O_RDWR)
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(other)
    finally:
        releaser.join()
        os.close(fd)


def test_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"")
    store = tmp_path / "store"
    store.mkdir()
    (store / LOCK_NAME).symlink_to(outside)
    with pytest.raises(WriteError, match="symlink, never followed"), store_lock(store):
        pass
