"""Human output of ``rebuild-index``, ``repair`` and ``inspect``."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dashfix.formats.index import IndexEntry
from dashfix.repair.apply import RebuildOutcome, RepairOutcome
from dashfix.repair.index_rebuild import Basis, IndexPlan
from dashfix.report.text import render as render_findings

_CHANGE_STYLE = {"added": "green", "changed": "yellow", "dropped": "red"}


def console_for(out: TextIO) -> Console:
    return Console(file=out, soft_wrap=False, width=None if out.isatty() else 160,
                   highlight=False)


def entry_text(entry: IndexEntry | None) -> str:
    if entry is None:
        return "-"
    return f"{entry.checkpoint_id} @ {entry.secs}.{entry.nanos:09d}"


def render_index_plan(plan: IndexPlan, console: Console) -> None:
    old = plan.old_index
    if old.state == "missing":
        console.print("old index: none (index.bin is missing)")
    elif old.problem is not None:
        console.print(Text(f"old index: corrupt: {old.problem}", style="red"))
    else:
        console.print(f"old index: {len(old.entries)} entries")
    if plan.changes:
        table = Table(header_style="bold")
        table.add_column("change")
        table.add_column("thread", overflow="fold")
        table.add_column("old entry", overflow="fold")
        table.add_column("new entry", overflow="fold")
        for change in plan.changes:
            table.add_row(
                Text(change.kind, style=_CHANGE_STYLE[change.kind]),
                change.thread_id,
                entry_text(change.old),
                entry_text(change.new),
            )
        console.print(table)
    counts = ", ".join(f"{len(plan.changes_of(kind))} {kind}" for kind in _CHANGE_STYLE)
    console.print(f"index diff: {counts}, {plan.unchanged} unchanged")
    by_mtime = [c for c in plan.choices if c.ranked_by is Basis.MTIME]
    if by_mtime and plan.order.value == "auto":
        console.print(
            f"{len(by_mtime)} thread(s) ranked by file mtime (no unambiguous embedded "
            "timestamp): " + ", ".join(c.thread_id for c in by_mtime)
        )
    for choice in plan.choices:
        if choice.orders_disagree:
            console.print(Text(
                f"thread {choice.thread_id}: mtime order and embedded order disagree: latest "
                f"by embedded timestamp is {choice.by_embedded}, by mtime {choice.by_mtime}; "
                f"chose {choice.value.checkpoint_id} (--order {plan.order.value})",
                style="yellow",
            ))
    for thread_id in plan.unranked_threads:
        console.print(Text(
            f"thread {thread_id}: no file has an unambiguous embedded timestamp; left out of "
            "the index (--order embedded)", style="yellow"))


def render_rebuild(outcome: RebuildOutcome, out: TextIO) -> None:
    console = console_for(out)
    plan = outcome.plan
    console.print(
        f"store {outcome.store}: {len(outcome.considered.candidates)} loadable checkpoint "
        f"file(s), {len(plan.choices)} thread(s), --order {plan.order.value}"
    )
    for name, reason in outcome.considered.excluded:
        console.print(Text(f"not a candidate: {name}: {reason}", style="dim"))
    render_index_plan(plan, console)
    if outcome.dry_run:
        console.print(Text("dry run: nothing written", style="bold"))
    elif outcome.written:
        backup = f" (old index kept as {outcome.backup.name})" if outcome.backup else ""
        console.print(Text(f"wrote {outcome.store / 'index.bin'}{backup}", style="bold green"))
    else:
        console.print(Text("index.bin is already up to date: nothing written", style="bold green"))


_ACTION_STYLE = {"fix-magic": "green", "promote": "green", "quarantine": "yellow"}


def render_repair(outcome: RepairOutcome, out: TextIO) -> None:
    console = console_for(out)
    plan = outcome.plan
    verb = "applied" if outcome.applied else "plan (nothing done; add --apply)"
    console.print(Text(f"repair of {outcome.store}: {verb}", style="bold"))
    if plan.actions:
        table = Table(header_style="bold")
        table.add_column("action")
        table.add_column("file", overflow="fold")
        table.add_column("why", overflow="fold")
        for action in plan.actions:
            what = action.kind.value + (f" -> {action.target}" if action.target else "")
            table.add_row(Text(what, style=_ACTION_STYLE[action.kind.value]), action.name,
                          action.reason)
        console.print(table)
    else:
        console.print("no file needs fixing, promoting or quarantining")
    for name, reason in plan.kept:
        console.print(Text(f"left alone: {name}: {reason}", style="dim"))
    render_index_plan(outcome.index_plan, console)
    if not outcome.applied:
        return
    for line in outcome.done:
        console.print(Text(f"done: {line}", style="green"))
    for line in outcome.failed:
        console.print(Text(f"FAILED: {line}", style="bold red"))
    if outcome.session is not None:
        console.print(
            f"quarantine and manifest: {outcome.session} (undo: dashfix repair "
            f"{outcome.store} --restore {outcome.session.name})"
        )
    if outcome.remaining is not None:
        console.print(Text("after repair, dashfix verify finds:", style="bold"))
        render_findings(outcome.remaining, out)
