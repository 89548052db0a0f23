"""``dashfix baseline create``: accept the current findings, each with a reason."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dashfix.baseline import DEFAULT_BASELINE_FILE, PLACEHOLDER_REASON
from dashfix.cli.app import app, examples
from dashfix.cli.options import SegmentsOption
from dashfix.errors import ExitCode

baseline_app = typer.Typer(
    name="baseline", help="Accept known findings so the gate fails only on new ones.",
    epilog=examples('dashfix baseline create ./artifacts -o .dashfix-baseline.json '
                    '--reason "known, ticket OPS-42"'),
    no_args_is_help=True,
)
app.add_typer(baseline_app)


@baseline_app.command(
    "create",
    help=(
        "Run verify and write every current finding's fingerprint to a baseline file. "
        "Entries already in the file keep their reason and expiry (a version 1 file, "
        "whose fingerprints left out the root, is rewritten as version 2 this way). "
        "Integrity damage (CRC, "
        "length, magic) is never written: it cannot be accepted as known."
    ),
    epilog=examples(
        'dashfix baseline create ./artifacts -o .dashfix-baseline.json --reason "known, '
        'ticket OPS-42" --expires 2027-06-30',
        "dashfix verify ./artifacts --baseline .dashfix-baseline.json",
    ),
)
def baseline_create(
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="[PATH|URL]...",
                       help="What to verify: paths, store URLs or kafka:// topics "
                       "(default: as for verify)."),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="Baseline file to write.")
    ] = Path(DEFAULT_BASELINE_FILE),
    reason: Annotated[
        str, typer.Option(metavar="TEXT",
                          help="Why these findings are accepted (flagged GT402 until set).")
    ] = PLACEHOLDER_REASON,
    expires: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD",
                                 help="Date after which the entries stop applying.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(metavar="FILE",
                                  help="Config file instead of the nearest dashfix.toml.")
    ] = None,
    segments: SegmentsOption = None,
) -> int:
    from dashfix.baseline import draft_baseline, load_baseline, parse_expires, write_baseline
    from dashfix.config import resolve_settings
    from dashfix.context import VerifyOptions
    from dashfix.gate import policy_from_settings, run_gate
    from dashfix.inputs.sources import check_segments_apply, checked_segments, parse_locator
    from dashfix.report.locations import location_text

    expiry = parse_expires(expires, "--expires") if expires is not None else None
    previous = load_baseline(output, legacy_ok=True) if output.exists() else None
    settings = resolve_settings(config=config)
    policy = policy_from_settings(settings, with_baseline=False)
    locators = [parse_locator(p) for p in paths or []] or list(settings["paths"])
    options = VerifyOptions(fail_on=None, kafka_properties=settings["kafka"],
                            segments=checked_segments(segments))
    if options.segments is not None:
        check_segments_apply(locators)
    report = run_gate(locators, options, policy)
    draft = draft_baseline(report.findings, reason, expiry, previous, report.roots)
    write_baseline(draft, output)
    if previous is not None and previous.legacy:
        print(f"dashfix: note: {output} was a version 1 baseline; rewritten as version 2, "
              "whose fingerprints include the root", file=sys.stderr)
    print(f"dashfix: wrote {len(draft.entries)} entr{'y' if len(draft.entries) == 1 else 'ies'} "
          f"to {output}", file=sys.stderr)
    for finding in draft.skipped:
        print(f"dashfix: note: not baselined (integrity damage is never accepted): "
              f"{finding.code} {location_text(finding)}", file=sys.stderr)
    if draft.entries and any(e.reason == PLACEHOLDER_REASON for e in draft.entries):
        print("dashfix: note: replace the placeholder reasons in the file; until then each "
              "entry is reported as GT402", file=sys.stderr)
    return int(ExitCode.FAILURE if report.unreadable else ExitCode.CLEAN)
