"""Human output of ``rebuild-index``, ``repair`` and ``inspect``."""

from __future__ import annotations

import shlex
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from dashfix.formats.index import IndexEntry
from dashfix.inspect import FileInspection, ThreadHistory
from dashfix.repair.apply import RebuildOutcome, RepairOutcome
from dashfix.repair.index_rebuild import Basis, IndexPlan, pre_epoch_reason
from dashfix.repair.remote_index import (
    Latest,
    RemoteRebuildOutcome,
    RemoteRestoreOutcome,
)
from dashfix.report.text import console_for
from dashfix.report.text import render as render_findings
from dashfix.timefmt import format_utc

_CHANGE_STYLE = {"added": "green", "changed": "yellow", "dropped": "red"}


def entry_text(entry: IndexEntry | None) -> str:
    if entry is None:
        return "-"
    return f"{entry.checkpoint_id} @ {format_utc(entry.secs, entry.nanos)}"


def render_index_plan(plan: IndexPlan, console: Console) -> None:
    old = plan.old_index
    if old.state == "missing":
        console.print("old index: none (index.bin is missing)")
    elif old.problem is not None:
        console.print(Text(f"old index: corrupt: {old.problem}", style="red"))
    else:
        console.print(f"old index: {old.total} entries")
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
    if old.unlisted:
        console.print(Text(f"... and {old.unlisted} more entries dropped (threads without a "
                           "checkpoint file; not listed)", style=_CHANGE_STYLE["dropped"]))
    counts = {kind: len(plan.changes_of(kind)) for kind in _CHANGE_STYLE}
    counts["dropped"] += old.unlisted
    listed = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    console.print(f"index diff: {listed}, {plan.unchanged} unchanged")
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
    for choice in plan.pre_epoch:
        console.print(Text(
            f"thread {choice.thread_id}: {pre_epoch_reason(choice)}; left out of the index "
            "(DashFlow falls back to its file scan for it)", style="yellow"))


def render_rebuild(outcome: RebuildOutcome, out: TextIO) -> None:
    console = console_for(out)
    plan = outcome.plan
    console.print(
        f"store {outcome.store}: {outcome.considered.count} loadable checkpoint "
        f"file(s), {len(plan.choices)} thread(s), --order {plan.order.value}"
    )
    _render_excluded(outcome, console)
    for note in outcome.tidied:
        console.print(Text(note, style="yellow"))
    render_index_plan(plan, console)
    if outcome.blocked is not None:
        console.print(Text(f"cannot write the index: {outcome.blocked}", style="bold red"))
    if outcome.dry_run:
        console.print(Text("dry run: nothing written", style="bold"))
    elif outcome.written:
        backup = f" (old index kept as {outcome.backup.name})" if outcome.backup else ""
        console.print(Text(f"wrote {outcome.store / 'index.bin'}{backup}", style="bold green"))
        if outcome.session is not None:
            console.print(f"journal: {outcome.session} (undo: dashfix repair {outcome.store} "
                          f"--restore {outcome.session.name})")
    else:
        console.print(Text("index.bin is already up to date: nothing written", style="bold green"))


def latest_text(entry: Latest | None) -> str:
    if entry is None:
        return "-"
    if entry.timestamp_ns is None:
        return entry.checkpoint_id
    secs, nanos = divmod(entry.timestamp_ns, 1_000_000_000)
    return f"{entry.checkpoint_id} @ {format_utc(secs, nanos)}"


_WHAT = {"s3": ("checkpoint object(s)", "index(es)"),
         "redis": ("checkpoint hash(es)", "thread ZSET(s)")}


def render_remote_rebuild(outcome: RemoteRebuildOutcome, out: TextIO) -> None:
    """The same diff as a folder's: a row per thread whose index changes (old and new
    latest), with the entries added and removed."""
    console = console_for(out)
    checkpoints, indexes = _WHAT[outcome.backend]
    console.print(f"store {outcome.store}: {outcome.candidates} loadable {checkpoints}, "
                  f"{len(outcome.diffs) + outcome.unchanged} thread(s)")
    for name, reason in outcome.excluded:
        console.print(Text(f"not in any index: {name}: {reason}", style="dim"))
    if outcome.diffs:
        table = Table(header_style="bold")
        for column in ("change", "thread", "old latest", "new latest", "entries"):
            table.add_column(column, overflow="fold")
        for diff in outcome.diffs:
            table.add_row(Text(diff.kind, style=_CHANGE_STYLE[diff.kind]), diff.thread_id,
                          latest_text(diff.old_latest), latest_text(diff.new_latest),
                          diff.summary())
        console.print(table)
    counts = ", ".join(f"{len(outcome.changes_of(kind))} {kind}" for kind in _CHANGE_STYLE)
    console.print(f"index diff: {counts}, {outcome.unchanged} unchanged")
    if outcome.dry_run:
        console.print(Text("dry run: nothing written", style="bold"))
        return
    if not outcome.diffs:
        console.print(Text("every thread's index is already up to date: nothing written",
                           style="bold green"))
        return
    written = outcome.written
    # Paths and commands are printed unwrapped, so that they can be copied.
    console.print(Text(f"wrote {len(written)} {indexes}; the old ones are kept in "
                       f"{outcome.backup}", style="bold green" if written else "bold"),
                  soft_wrap=True)
    for diff in outcome.conflicts:
        console.print(Text(f"thread {diff.thread_id}: its index changed since it was read (a "
                           "DashFlow save?); left as it is: run rebuild-index again",
                           style="bold red"))
    if written:
        console.print(f"undo: {outcome.restore_command}", soft_wrap=True)


def render_remote_restore(outcome: RemoteRestoreOutcome, out: TextIO) -> None:
    console = console_for(out)
    if outcome.already_restored:
        console.print(f"{outcome.backup} was already restored; nothing to do")
    elif not outcome.restored and not outcome.skipped:
        console.print(f"{outcome.backup} changed nothing that could be undone; nothing to do")
    for name in outcome.restored:
        console.print(f"restored {name}")
    for line in outcome.skipped:
        console.print(Text(f"skipped {line}", style="bold red"))


def render_remote_sessions(store: str, sessions: list[dict[str, object]], out: TextIO) -> None:
    console = console_for(out)
    if not sessions:
        console.print(f"no rebuild-index backup sessions in {store}")
    for found in sessions:
        states = found["states"]
        assert isinstance(states, dict)
        listed = ", ".join(f"{count} {state}" for state, count in states.items())
        console.print(f"{found['session']}  {found['command']}: {found['threads']} "
                      f"thread(s): {listed}")


_ACTION_STYLE = {"fix-magic": "green", "promote": "green", "quarantine": "yellow"}


def render_repair(outcome: RepairOutcome, out: TextIO) -> None:
    console = console_for(out)
    plan = outcome.plan
    apply_command = f"dashfix repair {shlex.quote(str(outcome.store))} --apply"
    verb = "applied" if outcome.applied else "plan (nothing done yet)"
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
    if outcome.blocked is not None:  # --apply would stop at the lock: say what to do first
        console.print(Text(f"--apply cannot run yet: {outcome.blocked} ({apply_command})",
                           style="bold red"))
        return
    if not outcome.applied:
        console.print(Text(f"to carry out this plan: {apply_command}", style="bold"))
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


def render_file(found: FileInspection, out: TextIO) -> None:
    console = console_for(out)
    data = found.to_dict()
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("file", f"{found.path} ({found.size} bytes, {found.variant})")
    header = data["header"]
    if header is not None:
        table.add_row("header", (
            f"magic {header['magic']!r} ({header['magic_hex']}), version {header['version']}, "
            f"CRC stored {header['crc_stored']} computed {header['crc_computed']}, "
            f"length declared {header['length_declared']} actual {header['length_actual']}: "
            f"{header['integrity']}"))
    for label, key in (("checkpoint id", "checkpoint_id"), ("thread id", "thread_id"),
                       ("id scheme", "id_scheme"), ("node", "node"), ("parent", "parent_id")):
        if data[key] is not None or key in ("parent_id",):
            table.add_row(label, str(data[key]) if data[key] is not None else "none (a root)")
    if data["timestamp"] is not None:
        stamp = data["timestamp"]
        table.add_row("timestamp", f"{stamp['utc']} ({stamp['secs']} s, {stamp['nanos']} ns)")
    if data["metadata"] is not None:
        table.add_row("metadata", ", ".join(f"{k}={v}" for k, v in data["metadata"].items())
                      or "{} (empty)")
    if data["state"] is not None:
        state = data["state"]
        table.add_row("state bytes", (
            f"file [{state['file_start']}, {state['file_end']}) = payload "
            f"[{state['payload_start']}, {state['payload_end']}), {state['length']} bytes"))
    for key, value in found.extra.items():
        table.add_row(key.replace("_", " "), str(value))
    table.add_row("tail parse", found.tail + (
        f" ({len(found.tail_candidates)} candidates)" if found.tail == "ambiguous" else ""))
    console.print(table)
    if found.tail == "ambiguous":
        for candidate in found.tail_candidates:
            console.print(Text(
                f"  candidate: state ends at {candidate['state_end']}, node "
                f"{candidate['node']!r}, time {format_utc(candidate['secs'], candidate['nanos'])}, "
                f"parent {candidate['parent_id']!r}", style="dim"))
    for problem in found.problems:
        console.print(Text(f"problem: {problem}", style="yellow"))


def _history_label(history: ThreadHistory, key: str) -> Text:
    entry = history.entries[key]
    when = "?" if entry.secs is None else format_utc(entry.secs, entry.nanos or 0)
    text = Text(f"{entry.checkpoint_id}", style="bold" if entry.problem is None else "red")
    text.append(f"  {entry.node or '?'}  {when}", style="dim")
    if entry.name != entry.checkpoint_id + ".bin":
        text.append(f"  (file {entry.name})", style="yellow")
    parent = history.entries.get(entry.parent_id) if entry.parent_id is not None else None
    if entry.parent_id is not None and parent is None:
        text.append(f"  parent {entry.parent_id} missing", style="yellow")
    if parent is not None and None not in (parent.secs, entry.secs) and (
        (parent.secs, parent.nanos) > (entry.secs, entry.nanos)
    ):
        text.append("  parent is newer than this child (overwritten by an id collision? #6)",
                    style="yellow")
    if entry.problem is not None:
        text.append(f"  [{entry.problem}]", style="red")
    if history.index_entry is not None and history.index_entry.checkpoint_id == key:
        text.append("  <- index", style="bold green")
    if history.latest == key:
        text.append("  <- latest (DashFlow's rule)", style="bold cyan")
    return text


def render_thread(history: ThreadHistory, out: TextIO) -> None:
    console = console_for(out)
    tree = Tree(Text(f"thread {history.thread_id} in {history.store}: "
                     f"{len(history.entries)} checkpoint file(s)", style="bold"))
    # A linear chain stays on one level; only a fork (two children of one parent) nests,
    # so a long history does not march off the right edge.
    stack: list[tuple[Tree, str]] = [(tree, key) for key in reversed(history.roots)]
    while stack:
        branch, key = stack.pop()
        node = branch.add(_history_label(history, key))
        children = history.entries[key].children
        if len(children) == 1:
            stack.append((branch, children[0]))
        else:
            stack.extend((node, child) for child in reversed(children))
    console.print(tree)
    entry = history.index_entry
    if history.index_problem is not None:
        console.print(Text(f"index: {history.index_problem}", style="red"))
    elif entry is None:
        console.print(Text("index: no entry for this thread", style="yellow"))
    elif entry.checkpoint_id not in history.entries:
        console.print(Text(f"index: points to {entry.checkpoint_id}, which has no file here",
                           style="yellow"))
    if entry is not None and history.latest is not None and history.latest != entry.checkpoint_id:
        console.print(Text(f"index choice {entry.checkpoint_id} is not the latest "
                           f"({history.latest}); `dashfix rebuild-index` fixes it",
                           style="yellow"))


def _render_excluded(outcome: RebuildOutcome, console: Console) -> None:
    """The store's entries no thread's latest can be: damaged files, and FIFOs, symlinks
    and folders named like checkpoints (never opened)."""
    for name, reason in outcome.considered.excluded:
        console.print(Text(f"not a candidate: {name}: {reason}", style="dim"))


def render_store_overview(outcome: RebuildOutcome, out: TextIO) -> None:
    console = console_for(out)
    old = outcome.plan.old_index.entries
    table = Table(header_style="bold")
    table.add_column("thread", overflow="fold")
    table.add_column("files", justify="right")
    table.add_column("latest checkpoint", overflow="fold")
    table.add_column("index entry", overflow="fold")
    for choice in outcome.plan.choices:
        indexed = old.get(choice.thread_id)
        same = indexed is not None and indexed.checkpoint_id == choice.value.checkpoint_id
        table.add_row(choice.thread_id, str(choice.files), choice.value.checkpoint_id,
                      Text(entry_text(indexed), style="green" if same else "yellow"))
    console.print(table)
    _render_excluded(outcome, console)
    console.print(f"{outcome.considered.count} loadable checkpoint file(s), "
                  f"{len(outcome.plan.choices)} thread(s); index: {outcome.plan.old_index.state}"
                  "; `dashfix inspect STORE --thread T` shows one thread's history")
