"""The file checkpoint store as an input kind: discovery (from ``dashfix.inputs``) wired to
this package's checks. It lives here, above both, so that the input side never imports a
check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dashfix.cache import memoized
from dashfix.checks.checkpoint import check_store
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs import InputKind, Target
from dashfix.inputs.checkpoint_files.discovery import CHECKPOINT_STORE_KIND, claims_dir, sniff_file
from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
from dashfix.inputs.checkpoint_files.scan import scan_single_file, scan_store
from dashfix.rules import checkpoint as ck


def check_target(target: Target, ctx: CheckContext) -> Iterator[Finding]:
    if target.input_format == "checkpoint-file":
        scan = scan_single_file(target.path)
        yield from check_store(scan, ctx, str(Path(target.rel).parent.as_posix()),
                               single_file=True)
        return
    yield from memoized(ctx, CHECKPOINT_STORE_KIND, target.path, target.rel,
                        lambda: _check_folder(target, ctx), timeless=_timeless,
                        defer_first=True)


def _check_folder(target: Target, ctx: CheckContext) -> Iterator[Finding]:
    try:
        scan = scan_store(target.path, selection=ctx.selection, target=target.rel,
                          cache=ctx.cache, on_read=ctx.progress.advance,
                          on_listed=ctx.progress.expect)
    except OSError as exc:
        yield ck.FILE_UNREADABLE.at(target.rel, f"cannot list the store: "
                                    f"{exc.strerror or exc}")
        return
    # The cross-file checks build tables over every row (none with cycles): collections
    # would walk the store's columns again and again, as during the scan.
    with paused_gc():
        findings = list(check_store(scan, ctx, target.rel,
                                    unread=ctx.selection.skipped(target.rel)))
    yield from findings


_AGE_CODES = frozenset({ck.TEMP_ORPHAN.code, ck.TEMP_PROMOTABLE.code})
"""Findings whose message states an age: never replayed from the verify cache."""


def _timeless(findings: list[Finding]) -> bool:
    return not any(finding.code in _AGE_CODES for finding in findings)


CHECKPOINT_STORE = InputKind(
    name=CHECKPOINT_STORE_KIND,
    check=check_target,
    claims_dir=claims_dir,
    sniff_file=sniff_file,
    description="DashFlow file checkpoint store (FileCheckpointer, Compressed, Versioned)",
    caches_itself=True,
)
