"""The verify pipeline: each locator becomes a source, each source is checked by the checks
for what it yields, and everything is collected into one Report.

A PATH is discovered (file stores, SQLite databases, stream logs, DLQ dumps under it) and
each target runs its kind's checks; a URL names one database or object store and runs its
backend's checks (``dashfix.checks.backends``). This is the core behind ``dashfix verify``;
it never prints, and writes nothing but the cache files in the ``--cache`` folder the user
chose.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from dashfix.cache import VerifyCache, memoized, open_cache
from dashfix.checks.backends import check_source
from dashfix.checks.kinds import input_kinds
from dashfix.context import CheckContext, Progress, VerifyOptions
from dashfix.errors import InputError
from dashfix.findings import Finding, rooted
from dashfix.inputs import InputKind, Target
from dashfix.inputs.checkpoint_files.discovery import CHECKPOINT_STORE_KIND
from dashfix.inputs.discover import Discovery, discover
from dashfix.inputs.kafka import SnapshotOptions, parse_kafka_url
from dashfix.inputs.sources import SourceUrl, TopicSource, open_store, parse_locator
from dashfix.results import Report
from dashfix.roots import join, root_label
from dashfix.rules import unreadable_codes
from dashfix.rules.general import NOTHING_TO_CHECK
from dashfix.rules.stream import STREAM_UNREADABLE, TIMESTAMP_FUTURE
from dashfix.sampling import Selection


def verify(
    paths: Sequence[Path | str | SourceUrl],
    options: VerifyOptions | None = None,
    *,
    progress: Progress | None = None,
    kinds: Sequence[InputKind] | None = None,
) -> Report:
    """Check everything under each path, and each ``kafka://`` topic among ``paths``."""
    options = options or VerifyOptions()
    kinds = input_kinds() if kinds is None else kinds
    by_name = {kind.name: kind for kind in kinds}
    locators = [p if isinstance(p, SourceUrl) else parse_locator(p) for p in paths]
    labels = [root_label(str(locator) if isinstance(locator, SourceUrl) else locator)
              for locator in locators]
    report = Report(roots=[join(label, rel) for label, rel in labels], fail_on=options.fail_on)
    selection = Selection(options.sample, options.max_duration)
    cache: VerifyCache | None = None
    if options.cache_dir is not None:
        cache, warning = open_cache(options.cache_dir)
        report.notes.extend([warning] if warning else [])
    for locator, (label, given_rel) in zip(locators, labels, strict=True):
        if isinstance(locator, SourceUrl) and locator.is_topic:
            _verify_topic(locator.text, options, report, selection, progress)
            continue
        if isinstance(locator, SourceUrl):
            ctx = CheckContext(root=label, options=options, selection=selection, cache=cache)
            _check_url(locator, label, ctx, report, progress)
            continue
        for root, found in discover([locator], kinds):
            ctx = CheckContext(root=root, options=options, selection=selection, cache=cache)
            _check_found(found, label, given_rel, by_name, ctx, report, progress)
    report.not_checked.extend(selection.notes())
    if cache is not None:
        cache.save()
        report.notes.extend(cache.warnings)
    report.findings.sort(key=Finding.sort_key)
    return report


def _check_url(url: SourceUrl, label: str, ctx: CheckContext, report: Report,
               progress: Progress | None) -> None:
    """One store named by URL: its source, checked by its backend's checks. It is one unit
    for --max-duration (not opened once the time is up); --sample does not split it."""
    if progress is not None:
        ctx.progress = progress
    if ctx.selection.expired():
        ctx.selection.stores_skipped.append(label)
        return
    source = open_store(url, segments=ctx.options.segments)
    report.targets.append((source.backend, label))
    ctx.progress.start(f"{label} (checkpoints)", None)
    report.findings.extend(rooted(check_source(source, ctx, "."), label))
    report.stats.update(ctx.stats)


def _check_found(found: Discovery, label: str, given_rel: str, by_name: dict[str, InputKind],
                 ctx: CheckContext, report: Report, progress: Progress | None) -> None:
    """Every target discovered under one PATH (labelled ``label``), by its kind's checks."""
    selection = ctx.selection
    report.findings.extend(rooted(found.findings, label))
    unreadable = unreadable_codes()
    if not found.targets and not any(f.code in unreadable for f in found.findings):
        _nothing_to_check(report, label, given_rel, ctx.options.allow_empty)
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


def _verify_topic(url: str, options: VerifyOptions, report: Report, selection: Selection,
                  progress: Progress | None) -> None:
    """A topic is one target: a DLQ topic when its first record is a DLQ record, else a
    stream topic.  One that cannot be read is an unreadable finding, so the other targets
    are still checked and the run still exits 3.  Its findings have the topic's URL as
    their root."""
    from dashfix.checks.dlq import check_dump
    from dashfix.checks.stream.kafka import check_topic_target
    from dashfix.inputs.dlq import looks_like_dlq

    source = TopicSource(parse_kafka_url(url, "PATH"),
                         SnapshotOptions(properties=options.kafka_properties,
                                         timeout=options.kafka_timeout))
    if not selection.admits(source.root, source.root):
        return
    ctx = CheckContext(root=Path.cwd(), options=options, selection=selection)
    if progress is not None:
        ctx.progress = progress
    try:
        with source.snapshot() as snapshot:
            dlq = looks_like_dlq(snapshot.first_value() or b"")
        report.targets.append(("dlq-dump" if dlq else "stream-log", source.root))
        if dlq:
            result = check_dump(source, source.root, expired=selection.deadline())
            if not result.complete:
                selection.stopped(source.root, f"the first {result.records} record(s)")
            ctx.stats["dumps"] += 1
            ctx.stats["records"] += result.records
            report.findings.extend(result.findings)
        else:
            report.findings.extend(check_topic_target(source, ctx))
    except InputError as exc:
        report.findings.extend(rooted([STREAM_UNREADABLE.at(".", str(exc))], source.root))
    report.stats.update(ctx.stats)


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
    changed; a kind that caches itself (a checkpoint store, file by file and whole; a
    database, by its own cache key) is left to do so."""
    if kind.caches_itself:
        return kind.check(target, ctx)
    options = ctx.options
    salt = (f"{target.input_format}\0{options.input_format}\0{options.limit_bytes}\0"
            f"{options.max_line_bytes}")
    return memoized(ctx, kind.name, target.path, target.rel, lambda: kind.check(target, ctx),
                    timeless=_timeless, salt=salt)


def _timeless(findings: list[Finding]) -> bool:
    # "More than a day in the future" depends on today's date.
    return not any(finding.code == TIMESTAMP_FUTURE.code for finding in findings)
