"""How a finding names where it is: the scanned root plus a path inside it.

Checks name a file relative to the root they scan (``index.bin``); two stores with the
same layout would then share every name, every fingerprint and every baseline entry.  So
verify stamps each finding with its root's *label*, and every renderer shows, and every
fingerprint covers, the root joined with that path:

- a root that lies under the current folder is named relative to it (``artifacts/a``),
  as Ruff, GitHub annotations and code scanning expect;
- any other root keeps the spelling the user gave, normalised (``../shared/store``,
  ``/mnt/store``); a URL (``kafka://host/topic``) is kept as written.

The same PATH checked again from the same folder gets the same label, alone or beside
other PATHs, so a baseline made for it keeps matching it and nothing else.
"""

from __future__ import annotations

import os
import stat
from pathlib import PurePath


def is_url(name: str) -> bool:
    return "://" in name


def _label_of_folder(folder: str) -> str:
    relative = os.path.relpath(os.path.abspath(folder))
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return PurePath(os.path.normpath(folder)).as_posix()
    return PurePath(relative).as_posix()


def root_label(given: str | os.PathLike[str]) -> tuple[str, str]:
    """``(label, path)`` of a PATH as given on the command line or in the config.

    A folder (or a PATH that does not exist) is its own root: ``(label, ".")``.  A file is
    checked as a member of its folder, like discovery does: ``(folder label, file name)``.
    """
    name = os.fspath(given)
    if is_url(name):
        return name, "."
    try:
        is_file = not stat.S_ISDIR(os.stat(name).st_mode)
    except OSError:
        is_file = False
    if is_file:
        folder, base = os.path.split(os.path.normpath(name))
        return _label_of_folder(folder or os.curdir), base
    return _label_of_folder(name), "."


def join(root: str, path: str) -> str:
    """The location shown for ``path`` inside the root labelled ``root``."""
    if not root or root == ".":
        return path
    if path == ".":
        return root
    if is_url(root):
        return root + path if path.startswith("#") else f"{root.rstrip('/')}/{path}"
    return f"{root}{path}" if root.endswith("/") else f"{root}/{path}"
