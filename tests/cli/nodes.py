"""File system nodes Git cannot hold, made by the tests that need them."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def make_socket(path: Path) -> None:
    """A socket node at ``path``: a bound AF_UNIX socket leaves it behind when closed. It is
    bound by a relative name, as the full path can be longer than sun_path allows."""
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(path.name)
    finally:
        os.chdir(here)
