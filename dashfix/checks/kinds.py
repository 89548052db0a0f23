"""The ordered list of input kinds that discovery consults.

Order matters: the first kind that claims a folder or file wins.

The SQLite database, DLQ dump and stream log kinds are declared here by name and imported
when discovery or a check first calls them: a run over checkpoint stores alone then never
imports the database, stream and DLQ code (protobuf, zstandard, ...), a good part of every
start-up.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from dashfix.checks.checkpoint.store_kind import CHECKPOINT_STORE
from dashfix.inputs import InputKind, Target

if TYPE_CHECKING:
    from dashfix.context import CheckContext
    from dashfix.findings import Finding


@functools.cache
def _load_kind(name: str, module: str, attribute: str, claims_dirs: bool) -> InputKind:
    """The real kind behind a deferred one, checked against what was declared for it."""
    kind = getattr(import_module(module), attribute)
    if not isinstance(kind, InputKind) or kind.name != name or kind.sniff_file is None or (
        (kind.claims_dir is not None) != claims_dirs
    ):
        raise TypeError(f"{module}.{attribute} is not the input kind declared as {name!r}")
    return kind


def _deferred(name: str, module: str, attribute: str, *, claims_dirs: bool) -> InputKind:
    """Kind ``name`` (``module.attribute``, which sniffs files and, if ``claims_dirs``,
    claims folders), imported on first use."""

    def real() -> InputKind:
        return _load_kind(name, module, attribute, claims_dirs)

    def check(target: Target, ctx: CheckContext) -> Iterator[Finding]:
        return real().check(target, ctx)

    def claims_dir(path: Path) -> bool:
        claims = real().claims_dir
        return claims is not None and claims(path)

    def sniff_file(path: Path, head: bytes) -> str | None:
        sniff = real().sniff_file
        return None if sniff is None else sniff(path, head)

    return InputKind(name=name, check=check, claims_dir=claims_dir if claims_dirs else None,
                     sniff_file=sniff_file)


_DEFERRED_KINDS = (
    _deferred("sqlite-checkpoints", "dashfix.checks.backends.sqlite", "SQLITE_CHECKPOINTS",
              claims_dirs=False),
    _deferred("dlq-dump", "dashfix.checks.dlq", "DLQ_DUMP_KIND", claims_dirs=False),
    _deferred("stream-log", "dashfix.checks.stream.log", "STREAM_LOG_KIND", claims_dirs=True),
)


def input_kinds() -> tuple[InputKind, ...]:
    return (CHECKPOINT_STORE, *_DEFERRED_KINDS)
