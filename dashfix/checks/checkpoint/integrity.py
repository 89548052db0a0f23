"""Items 1, 3, 5 and unreadable entries: each file's own damage, found while reading it."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView
from dashfix.checks.checkpoint_problems import PROBLEM_RULES
from dashfix.findings import Finding, Severity
from dashfix.formats.variants import READ_THROUGH_A_LINK, classify_name
from dashfix.inputs.checkpoint_record import TEMP_CHECKPOINT, TEMP_INDEX, FileProblem

# Problems that no repair command fixes: the user has to act on the file system.
_NO_COMMAND = frozenset({FileProblem.UNREADABLE, FileProblem.SYMLINK,
                         FileProblem.LOCK_NOT_A_FILE})


def check(view: StoreView) -> Iterator[Finding]:
    for record in view.unusual:
        if record.problem is None or record.variant in (TEMP_CHECKPOINT, TEMP_INDEX):
            continue
        rule = PROBLEM_RULES[record.problem]
        # A symlink DashFlow never reads as a checkpoint or index (the lock, say) only warns.
        harmless_link = (record.problem is FileProblem.SYMLINK
                         and classify_name(record.name) not in READ_THROUGH_A_LINK)
        yield rule.at(
            view.path(record.name),
            f"{record.name}: {record.message}",
            thread_id=record.thread_id,
            checkpoint_id=record.checkpoint_id,
            offset=record.offset,
            expected=record.expected,
            actual=record.actual,
            fix_command=None if record.problem in _NO_COMMAND else view.repair,
            severity=Severity.WARNING if harmless_link else None,
        )
