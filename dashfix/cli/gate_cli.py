"""What ``dashfix verify`` does with its gate flags: settings, outputs, --list-inputs.

Kept apart from ``verify_cmd`` so the command stays a thin list of options.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from dashfix.cli.options import parse_fail_on
from dashfix.config import FORMATS, Settings, resolve_settings
from dashfix.context import VerifyOptions
from dashfix.errors import DashfixError, ExitCode, InputError, UsageError
from dashfix.gate import policy_from_settings, run_gate
from dashfix.inputs.discover import discover
from dashfix.inputs.kinds import input_kinds
from dashfix.progress import make_progress
from dashfix.repair.atomic import atomic_write_bytes
from dashfix.report import MACHINE_FORMATS, RENDERERS, render
from dashfix.results import Report
from dashfix.rules import rules_by_code


@dataclass(frozen=True)
class GateFlags:
    """The gate options exactly as typed; None means "not given" (so env/config apply)."""

    output_format: str | None = None
    outputs: Sequence[str] = ()
    fail_on: str | None = None
    baseline: Path | None = None
    config: Path | None = None
    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    severity: Sequence[str] = ()
    progress: str | None = None
    quiet: bool = False
    list_inputs: bool = False

    def given(self) -> dict[str, tuple[Any, str]]:
        candidates: dict[str, tuple[Any, str]] = {
            "format": (self.output_format, "--format"),
            "fail_on": (self.fail_on, "--fail-on"),
            "baseline": (None if self.baseline is None else str(self.baseline), "--baseline"),
            "select": (list(self.select) or None, "--select"),
            "ignore": (list(self.ignore) or None, "--ignore"),
            "severity": (list(self.severity) or None, "--severity"),
            "progress": (self.progress, "--progress"),
            "quiet": (self.quiet or None, "--quiet"),
        }
        return {key: pair for key, pair in candidates.items() if pair[0] is not None}


def parse_outputs(values: Sequence[str]) -> list[tuple[str, Path]]:
    """``--output FORMAT:FILE`` values."""
    outputs = []
    for value in values:
        fmt, sep, file = value.partition(":")
        if not sep or not file or fmt not in RENDERERS:
            raise UsageError(
                f"--output {value!r}: expected FORMAT:FILE with FORMAT one of {', '.join(FORMATS)}"
            )
        outputs.append((fmt, Path(file)))
    return outputs


def _rendered(fmt: str, report: Report) -> str:
    buffer = io.StringIO()
    render(fmt, report, buffer)
    return buffer.getvalue()


class OutputWriteError(InputError):
    """An --output file could not be written (exit code 3)."""


def write_outputs(report: Report, outputs: Sequence[tuple[str, Path]]) -> None:
    """Render every file first, then replace each atomically: never a partial file."""
    rendered = [(path, _rendered(fmt, report).encode()) for fmt, path in outputs]
    for path, data in rendered:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        except OSError as exc:
            problem = exc.strerror or exc
            raise OutputWriteError(f"cannot write --output file {path}: {problem}") from None


def _early_format(flags: GateFlags) -> str:
    """The format to report a failure in when the settings themselves could not be read."""
    candidate = flags.output_format or os.environ.get("DASHFIX_FORMAT", "text")
    return candidate if candidate in RENDERERS else "text"


def run_verify(paths: Sequence[Path], options: VerifyOptions, flags: GateFlags) -> int:
    fmt = _early_format(flags)
    outputs: list[tuple[str, Path]] = []
    roots = [str(path) for path in paths]
    try:
        settings = resolve_settings(flags.given(), config=flags.config)
        fmt = settings["format"]
        outputs = parse_outputs(flags.outputs)
        paths = list(paths) or list(settings["paths"])
        roots = [str(path) for path in paths]
        if flags.list_inputs:
            return list_inputs(paths, fmt, sys.stdout)
        report = _gate_report(paths, options, settings)
        write_outputs(report, outputs)
    except DashfixError as exc:
        # Machine readers still get a complete document with its summary (and the error).
        failed = Report(roots=roots, error=str(exc), error_exit=exc.exit_code)
        if outputs and not isinstance(exc, OutputWriteError):
            write_outputs(failed, outputs)
        if fmt in MACHINE_FORMATS:
            render(fmt, failed, sys.stdout)
        raise
    render(fmt, report, sys.stdout)
    return int(report.exit_code())


def _gate_report(paths: Sequence[Path], options: VerifyOptions, settings: Settings) -> Report:
    options.fail_on = parse_fail_on(settings["fail_on"])
    policy = policy_from_settings(settings)
    progress = make_progress(settings["progress"], settings["quiet"])
    # Started here so the heartbeat ticks even while a check has not advanced anything yet.
    progress.start("files and records checked", None)
    try:
        return run_gate(paths, options, policy, progress)
    finally:
        progress.finish()


def list_inputs(paths: Sequence[Path], fmt: str, out: TextIO) -> int:
    """Print what discovery finds under each PATH, without checking anything."""
    if fmt not in ("text", "json"):
        raise UsageError(f"--list-inputs prints text or json, not {fmt!r}")
    unreadable_codes = {rule.code for rule in rules_by_code().values() if rule.unreadable}
    documents = []
    status = ExitCode.CLEAN
    for root, found in discover(paths, input_kinds()):
        if any(f.code in unreadable_codes for f in found.findings):
            status = ExitCode.FAILURE
        documents.append(
            {
                "root": str(root),
                "targets": [
                    {"kind": t.kind, "path": t.rel, "format": t.input_format}
                    for t in found.targets
                ],
                "skipped": [{"path": s.rel, "reason": s.reason} for s in found.skipped],
                "problems": [f.to_dict() for f in found.findings],
            }
        )
    if fmt == "json":
        out.write(orjson.dumps({"roots": documents}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for document in documents:
            _list_text(document, out)
    return int(status)


def _list_text(document: dict[str, Any], out: TextIO) -> None:
    out.write(f"{document['root']}:\n")
    for target in document["targets"]:
        detail = f" ({target['format']})" if target["format"] else ""
        out.write(f"  {target['kind']:<18} {target['path']}{detail}\n")
    for skipped in document["skipped"]:
        out.write(f"  {'skipped':<18} {skipped['path']}: {skipped['reason']}\n")
    for problem in document["problems"]:
        out.write(f"  {problem['code']:<18} {problem['path']}: {problem['message']}\n")
    out.write(
        f"  = {len(document['targets'])} to check, {len(document['skipped'])} skipped, "
        f"{len(document['problems'])} problem(s); nothing was checked\n"
    )
