"""The verify pipeline: discover inputs, run each kind's checks, collect one Report.

This is the core behind ``dashfix verify``; it never prints, and writes nothing but the
cache files in the ``--cache`` folder the user chose.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from dashfix.cache import VerifyCache, memoized, open_cache
from dashfix.context import CheckContext, Progress, VerifyOptions
from dashfix.errors import InputError
from dashfix.findings import Finding, rooted
from dashfix.inputs import InputKind, Target
from dashfix.inputs.checkpoint_store import CHECKPOINT_STORE_KIND
from dashfix.inputs.discover import discover
from dashfix.inputs.kafka import SnapshotOptions, is_kafka_url, parse_kafka_url
from dashfix.inputs.kinds import input_kinds
from dashfix.results import Report
from dashfix.roots import join, root_label
from dashfix.rules import unreadable_codes
from dashfix.rules.general import NOTHING_TO_CHECK
from dashfix.rules.stream import STREAM_UNREADABLE, TIMESTAMP_FUTURE
from dashfix.sampling import Selection


def verify(
    paths: Sequence[Path | str],
    options: VerifyOptions | None = None,
    *,
    progress: Progress | None = None,
    kinds: Sequence[InputKind] | None = None,
) -> Report:
    """Check everything under each path, and each ``kafka://`` topic among ``paths``."""
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
    files = [Path(path) for path in paths if not is_kafka_url(path)]
    file_labels = [root_label(path) for path in files]
    for (label, given_rel), (root, found) in zip(file_labels, discover(files, kinds),
                                                 strict=True):
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
    for topic in paths:
        if is_kafka_url(topic):
            _verify_topic(str(topic), options, report, selection, progress)
    report.not_checked.extend(selection.notes())
    if cache is not None:
        cache.save()
        report.notes.extend(cache.warnings)
    report.findings.sort(key=Finding.sort_key)
    return report


def _verify_topic(url: str, options: VerifyOptions, report: Report, selection: Selection,
                  progress: Progress | None) -> None:
    """A topic is one target: a DLQ topic when its first record is a DLQ record, else a
    stream topic.  One that cannot be read is an unreadable finding, so the other targets
    are still checked and the run still exits 3.  Its findings have the topic's URL as
    their root."""
    from dashfix.checks.dlq import check_dump
    from dashfix.checks.stream.kafka import check_topic_target
    from dashfix.inputs.dlq import looks_like_dlq
    from dashfix.inputs.sources import TopicSource

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
