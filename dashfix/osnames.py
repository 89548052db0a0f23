"""File names are bytes: showing and serialising names that are not valid UTF-8.

Python hands out such a name with each undecodable byte as a lone surrogate
(``surrogateescape``); ``os.fsencode`` gives the exact bytes back.  A lone surrogate
cannot be written as UTF-8, so every output goes through this module:

- ``visible`` shows each undecodable byte as ``\\xNN`` (text, github, junit, messages);
- ``name_bytes`` is the exact name, base64-encoded, for JSON's ``path_bytes``;
- ``json_text`` serialises a document, making its strings ``visible`` only when one of
  them cannot be written (the common case pays nothing).

Fingerprints hash the ``surrogateescape`` bytes, so they are the same on every run.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any, TextIO

import orjson

_SURROGATE = re.compile("[\ud800-\udfff]")


def is_text(name: str) -> bool:
    """True when ``name`` can be written as UTF-8 as it is."""
    if name.isascii():
        return True
    return _SURROGATE.search(name) is None


def _escape(match: re.Match[str]) -> str:
    point = ord(match.group())
    # 0xDC80-0xDCFF is how surrogateescape carries the bytes 0x80-0xFF.
    return f"\\x{point - 0xDC00:02x}" if 0xDC80 <= point <= 0xDCFF else f"\\u{point:04x}"


def visible(text: str) -> str:
    """``text`` with each undecodable byte shown as ``\\xNN``; unchanged when it is UTF-8."""
    return text if is_text(text) else _SURROGATE.sub(_escape, text)


def name_bytes(name: str) -> str:
    """The exact bytes of a file name, base64-encoded."""
    return base64.b64encode(os.fsencode(name)).decode("ascii")


def _visible_tree(value: Any) -> Any:
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(str(key)): _visible_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_visible_tree(item) for item in value]
    return value


def json_bytes(document: Any, *, indent: bool = True) -> bytes:
    """``document`` as JSON (UTF-8, indented unless told otherwise), never failing on a
    string that holds undecodable bytes."""
    option = orjson.OPT_INDENT_2 if indent else 0
    try:
        return orjson.dumps(document, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(_visible_tree(document), option=option)


def json_text(document: Any, *, indent: bool = True) -> str:
    return json_bytes(document, indent=indent).decode()


class VisibleWriter:
    """A text stream that shows undecodable bytes as ``\\xNN`` before writing: for rich
    consoles, which print names anywhere in tables and trees."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(visible(text))

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)
