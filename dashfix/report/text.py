"""Human output: a rich table of findings, then one summary line."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dashfix.findings import Finding, Severity
from dashfix.report.locations import comparison_text, location_text
from dashfix.results import Report

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _detail(finding: Finding) -> Text:
    text = Text(finding.message)
    compared = comparison_text(finding)
    if compared:
        text.append("\n" + compared, style="dim")
    if finding.fix_command:
        text.append(f"\nfix: {finding.fix_command}", style="green")
    return text


def render(report: Report, out: TextIO) -> None:
    console = Console(file=out, soft_wrap=False, width=None if out.isatty() else 160)
    live = report.live
    if live:
        table = Table(show_lines=False, header_style="bold")
        table.add_column("severity")
        table.add_column("code")
        table.add_column("location", overflow="fold")
        table.add_column("thread / checkpoint", overflow="fold")
        table.add_column("finding", overflow="fold")
        for finding in live:
            ids = " / ".join(x for x in (finding.thread_id, finding.checkpoint_id) if x)
            table.add_row(
                Text(finding.severity.value, style=_STYLE[finding.severity]),
                finding.code,
                location_text(finding),
                ids,
                _detail(finding),
            )
        console.print(table)
    style = "bold green" if report.exit_code() == 0 else "bold"
    console.print(Text(report.summary_line(), style=style))
