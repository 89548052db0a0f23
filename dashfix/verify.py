"""The verify pipeline: discover inputs, run each kind's checks, collect one Report.

This is the core behind ``dashfix verify``; it never prints, and writes nothing but the
cache files in the ``--cache`` folder the user chose.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from dashfix.cache import VerifyCache, memoized, open_cache
from dashfix.context import CheckContext, Progress, VerifyOptions
from dashfix.findings import Finding, rooted
from dashfix.inputs import InputKind, Target
from dashfix.inputs.checkpoint_store import CHECKPOINT_STORE_KIND
from dashfix.inputs.discover import discover
from dashfix.inputs.kinds import input_kinds
from dashfix.results import Report
from dashfix.roots import join, root_label
from dashfix.rules import unreadable_codes
from dashfix.rules.general import NOTHING_TO_CHECK
from dashfix.rules.stream import TIMESTAMP_FUTURE
from dashfix.sampling import Selection


def verify(
    paths: Sequence[Path],
    options: VerifyOptions | None = None,
    *,
    progress: Progress | None = None,
    kinds: Sequence[InputKind] | None = None,
) -> Report:
    options = options or VerifyOptions()
    kinds = input_kinds() if kinds is None else kinds
    by_name = {kind.name: kind for kind in kinds}
    labels = [root_label(path) for path in paths]
    report = Report(roots=[join(label, rel) for label, rel in labels], fail_on=options.fail_on)
    selection = Selection(options.sample, options.max_duration)
    cache: VerifyCache | None = None
    if options.cache_dir is not None:
        cache, warning = open_cache(options.cache_dir)
        report.notes.extend([warning] if warning else [])
    unreadable = unreadable_codes()
    for (label, given_rel), (root, found) in zip(labels, discover(paths, kinds), strict=True):
        report.findings.extend(rooted(found.findings, label))
        if not found.targets and not any(f.code in unreadable for f in found.findings):
            _nothing_to_check(report, label, given_rel, options.allow_empty)
        ctx = CheckContext(root=root, options=options, selection=selection, cache=cache)
        if progress is not None:
            ctx.progress = progress
        for target in found.targets:
            # A store folder samples the files inside it, and only the time limit can skip
            # it whole; any other target (a log, a dump, a folder of frames) is one unit.
            if target.kind == CHECKPOINT_STORE_KIND and target.path.is_dir():
                if selection.expired():
                    selection.stores_skipped.append(join(label, target.rel))
                    continue
            elif not selection.admits(target.rel, target.rel):
                continue
            report.targets.append((target.kind, join(label, target.rel)))
            # One progress phase per target: a store gets its total once it is listed.
            unit = "files" if target.kind == CHECKPOINT_STORE_KIND else "records"
            ctx.progress.start(f"{join(label, target.rel)} ({unit})", None)
            report.findings.extend(rooted(_checked(by_name[target.kind], target, ctx), label))
        report.stats.update(ctx.stats)
        report.not_checked.extend(ctx.not_checked)
    report.not_checked.extend(selection.notes())
    if cache is not None:
        cache.save()
        report.notes.extend(cache.warnings)
    report.findings.sort(key=Finding.sort_key)
    return report


def _nothing_to_check(report: Report, label: str, given_rel: str, allowed: bool) -> None:
    where = join(label, given_rel)
    if allowed:
        report.notes.append(f"nothing to check under {where} (allowed by --allow-empty)")
        return
    report.findings.extend(rooted([NOTHING_TO_CHECK.at(
        given_rel, f"nothing to check: no store, log or dump found under {where}")], label))


def _checked(kind: InputKind, target: Target, ctx: CheckContext) -> Iterator[Finding]:
    """The findings of one target. A stream log or DLQ dump (a file, or a folder of frames)
    is replayed from the cache while neither it nor the options its findings depend on
    changed; a checkpoint store uses the cache itself, file by file and whole."""
    if kind.name == CHECKPOINT_STORE_KIND:
        return kind.check(target, ctx)
    options = ctx.options
    salt = (f"{target.input_format}\0{options.input_format}\0{options.limit_bytes}\0"
            f"{options.max_line_bytes}")
    return memoized(ctx, kind.name, target.path, target.rel, lambda: kind.check(target, ctx),
                    timeless=_timeless, salt=salt)


def _timeless(findings: list[Finding]) -> bool:
    # "More than a day in the future" depends on today's date.
    return not any(finding.code == TIMESTAMP_FUTURE.code for finding in findings)
