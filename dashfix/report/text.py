"""Human output: ``concise`` (one line per finding), ``table`` and ``text`` (either one).

``concise`` is for logs and pipes: ``path[:offset]: CODE severity message``, the fix on
its own indented line, nothing ever wrapped, colour only on a terminal.  ``table`` is for
a terminal: findings grouped under their path (which is never broken), the message column
folded to the width with one id a line, and every fix command once, below, on a line of
its own so it can be copied.  ``text``
(the default) is ``table`` on a terminal and ``concise`` anywhere else.
"""

from __future__ import annotations

import os
import textwrap
from collections import Counter, defaultdict
from typing import TextIO

from rich.console import Console
from rich.text import Text

from dashfix.findings import Finding, Severity
from dashfix.osnames import VisibleWriter, visible
from dashfix.report.locations import comparison_text, rule_for
from dashfix.results import Report

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
PIPE_WIDTH = 160
"""Width of tables written to a file or pipe when ``COLUMNS`` is not set."""
_SEVERITY_WIDTH = len("warning")
_CODE_WIDTH = len("CK104")
_MIN_MESSAGE_WIDTH = 24
"""Below this the message column would be unreadable; lines then run past the width."""


def console_width(out: TextIO) -> int | None:
    """``COLUMNS`` when set, the terminal's own width on a terminal, else PIPE_WIDTH."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if out.isatty() else PIPE_WIDTH


def console_for(out: TextIO) -> Console:
    return Console(file=VisibleWriter(out),  # type: ignore[arg-type]
                   soft_wrap=False, width=console_width(out), highlight=False)


def _message(finding: Finding) -> str:
    """The message, plus expected/found unless the message already says both. A message
    that opens with the file's name drops it: the location, just before, says it."""
    compared = comparison_text(finding)
    text = visible(finding.message)
    name = visible(finding.location).rsplit("/", 1)[-1]
    if text.startswith(f"{name}: "):
        text = text[len(name) + 2:]
    return f"{text} ({visible(compared)})" if compared else text


def _concise_where(finding: Finding) -> str:
    where = visible(finding.location)
    return where if finding.offset is None else f"{where}:{finding.offset}"


def _summary(report: Report) -> Text:
    style = "bold green" if report.exit_code() == 0 else "bold"
    return Text(visible(report.summary_line()), style=style)


def render_concise(report: Report, out: TextIO) -> None:
    console = Console(file=out, soft_wrap=True, highlight=False)
    plain = console.color_system is None
    for finding in report.live:
        where = _concise_where(finding)
        severity = finding.severity.value
        fix = visible(finding.fix_command) if finding.fix_command else None
        if plain:
            out.write(f"{where}: {finding.code} {severity} {_message(finding)}\n")
            if fix:
                out.write(f"    fix: {fix}\n")
            continue
        line = Text(f"{where}: ", style="bold")
        line.append(finding.code, style="bold")
        line.append(" ")
        line.append(severity, style=_STYLE[finding.severity])
        line.append(f" {_message(finding)}")
        console.print(line)
        if fix:
            console.print(Text(f"    fix: {fix}", style="green"))
    console.print(_summary(report))


def _table_where(finding: Finding) -> str:
    """The byte offset, or the record when there is none (messages name both in words)."""
    if finding.offset is not None:
        return f"@{finding.offset}"
    return "" if finding.record is None else f"record {finding.record}"


def _fold(text: str, width: int) -> list[str]:
    """Wrap at spaces only: an id, a path or a hash longer than the column overruns it
    rather than being cut in two."""
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def _detail_lines(finding: Finding, width: int) -> list[tuple[str, str]]:
    """``(text, style)`` lines of the message column: the message folded to ``width``, then
    one line per id (a break between a label and its id would split what people copy)."""
    lines = [(line, "") for line in _fold(_message(finding), width)]
    for label, value in (("thread", finding.thread_id), ("checkpoint", finding.checkpoint_id)):
        if value:
            lines += [(line, "dim") for line in _fold(f"{label} {visible(value)}", width)]
    return lines or [("", "")]


def render_table(report: Report, out: TextIO) -> None:
    """Laid out by hand rather than as rich tables: one rich table per path took 6 s for
    10,000 findings; this is one pass of ``textwrap`` and a single print."""
    console = console_for(out)
    live = report.live
    where_width = max((len(_table_where(f)) for f in live), default=0)
    lead = where_width + 2 if where_width else 0
    indent = " " * (lead + _SEVERITY_WIDTH + 2 + _CODE_WIDTH + 2)
    message_width = max(_MIN_MESSAGE_WIDTH, console.width - len(indent))
    text = Text()
    location = None
    for finding in live:
        if finding.location != location:
            location = finding.location
            text.append(visible(location) + "\n", style="bold underline")
        lines = _detail_lines(finding, message_width)
        if where_width:
            text.append(f"{_table_where(finding):<{where_width}}  ")
        text.append(f"{finding.severity.value:<{_SEVERITY_WIDTH}}  ",
                    style=_STYLE[finding.severity])
        text.append(f"{finding.code:<{_CODE_WIDTH}}  ", style="bold")
        first, style = lines[0]
        text.append(first + "\n", style=style)
        for line, style in lines[1:]:
            text.append(indent)
            text.append(line + "\n", style=style)
    if console.color_system is None:
        out.write(text.plain)  # no styles to render: skip rich's segment pass (0.8 s/10k)
    else:
        console.print(text, soft_wrap=True, end="")
    _fixes(live, console)
    console.print(_summary(report), soft_wrap=True)


def _fixes(live: list[Finding], console: Console) -> None:
    """Each fix command once, in the order first needed, never wrapped."""
    codes: dict[str, list[str]] = defaultdict(list)
    for finding in live:
        if finding.fix_command and finding.code not in codes[finding.fix_command]:
            codes[finding.fix_command].append(finding.code)
    if not codes:
        return
    console.print(Text("to fix:", style="bold"))
    for command, fixed in codes.items():
        console.print(Text(f"  # {', '.join(fixed)}", style="dim"), soft_wrap=True)
        console.print(Text(f"  {visible(command)}", style="green"), soft_wrap=True)


def render(report: Report, out: TextIO) -> None:
    """``text``: the table on a terminal, concise lines anywhere else."""
    (render_table if out.isatty() else render_concise)(report, out)


def statistics(report: Report) -> list[dict[str, object]]:
    """Live findings counted per code, most frequent first (``--statistics``)."""
    counts = Counter(finding.code for finding in report.live)
    first = {finding.code: finding for finding in reversed(report.live)}
    return [
        {"code": code, "name": rule_for(first[code]).name,
         "severity": first[code].severity.value, "count": count}
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def render_statistics(report: Report, out: TextIO) -> None:
    rows = statistics(report)
    width = max((len(str(row["count"])) for row in rows), default=1)
    for row in rows:
        out.write(f"{row['count']:>{width}}  {row['code']}  {row['severity']:<7}  "
                  f"{row['name']}\n")
    out.write(visible(report.summary_line()) + "\n")
