"""Baselines: a committed file of accepted findings, matched by fingerprint.

A matched finding is not dropped: it is marked ``suppressed`` so every output can still
show it, and only live findings count for the exit code.  Problems with the baseline
itself become GT4xx findings.  Integrity damage (rules with ``baselinable=False``) is
never written into a baseline and never suppressed by one.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import xxhash

from dashfix import __version__
from dashfix.errors import UsageError
from dashfix.findings import Finding, Rule
from dashfix.osnames import json_bytes
from dashfix.repair.atomic import atomic_write_bytes
from dashfix.roots import join, root_label
from dashfix.rules import rules_by_code
from dashfix.rules.gate import (
    BASELINE_ENTRY_EXPIRED,
    BASELINE_ENTRY_STALE,
    BASELINE_NOT_BASELINABLE,
    BASELINE_REASON_PLACEHOLDER,
    BASELINE_UNKNOWN_CODE,
)

BASELINE_VERSION = 2
LEGACY_VERSION = 1
"""Version 1 fingerprints left the scanned root out, so an entry made for one store also
matched the same file name in any other. It is refused by verify (exit 2, with the
command that recreates it) and read by ``baseline create`` only to keep its reasons."""
DEFAULT_BASELINE_FILE = ".dashfix-baseline.json"
PLACEHOLDER_REASON = "UNREVIEWED: replace with why this finding is accepted"
"""Written when ``baseline create`` gets no --reason; flagged as GT402 until replaced."""


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    fingerprint: str
    code: str
    path: str
    reason: str
    expires: date | None = None
    thread_id: str | None = None
    checkpoint_id: str | None = None

    def expired(self, today: date) -> bool:
        """An entry is valid through its ``expires`` day."""
        return self.expires is not None and self.expires < today

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "code": self.code,
            "path": self.path,
        }
        if self.thread_id is not None:
            entry["thread_id"] = self.thread_id
        if self.checkpoint_id is not None:
            entry["checkpoint_id"] = self.checkpoint_id
        entry["reason"] = self.reason
        entry["expires"] = self.expires.isoformat() if self.expires else None
        return entry


@dataclass(frozen=True, slots=True)
class Baseline:
    source: str
    """The file as the user named it; GT4xx findings point at it."""
    entries: tuple[BaselineEntry, ...]
    legacy: bool = False
    """A version 1 file: its fingerprints follow ``legacy_fingerprint``."""


def today_utc() -> date:
    return datetime.now(UTC).date()


def parse_expires(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{where}: expires {value!r} is not a date like 2026-12-31") from None


def _string(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        problem = "is missing" if key not in entry else f"must be a string, not {value!r}"
        raise UsageError(f"{where}: {key!r} {problem}")
    return value


def _optional_string(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{where}: {key!r} must be a string or null, not {value!r}")
    return value


def _entry(raw: Any, where: str) -> BaselineEntry:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: an entry must be a JSON object")
    expires = _optional_string(raw, "expires", where)
    return BaselineEntry(
        fingerprint=_string(raw, "fingerprint", where),
        code=_string(raw, "code", where).upper(),
        path=_string(raw, "path", where),
        reason=_string(raw, "reason", where),
        expires=None if expires is None else parse_expires(expires, where),
        thread_id=_optional_string(raw, "thread_id", where),
        checkpoint_id=_optional_string(raw, "checkpoint_id", where),
    )


def _display_name(path: Path) -> str:
    """Relative to the current folder when inside it, so GT4xx findings stay stable in CI."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def recreate_command(name: str, checked: Sequence[str | os.PathLike[str]]) -> str:
    paths = " ".join(shlex.quote(join(*root_label(path))) for path in checked) or "PATH ..."
    return f"dashfix baseline create {paths} -o {shlex.quote(name)}"


def load_baseline(
    path: Path, *, checked: Sequence[str | os.PathLike[str]] = (), legacy_ok: bool = False
) -> Baseline:
    """Read and validate a baseline file; every problem is a UsageError naming the file.

    ``checked`` are the PATHs of the run, for the command that recreates a version 1 file;
    ``legacy_ok`` reads such a file instead (``baseline create``, to keep its reasons).
    """
    name = _display_name(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"baseline {name}: cannot read: {exc.strerror or exc}") from None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"baseline {name}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"baseline {name}: expected a JSON object with 'version' and 'entries'")
    version = document.get("version")
    if version == LEGACY_VERSION and not legacy_ok:
        raise UsageError(
            f"baseline {name} is version 1, whose fingerprints do not name the scanned root: "
            "an entry made for one store would also silence the same finding in another. "
            f"Recreate it (reasons and expiry dates of matching entries are kept): "
            f"{recreate_command(name, checked)}"
        )
    if version not in (BASELINE_VERSION, LEGACY_VERSION):
        raise UsageError(
            f"baseline {name}: unsupported version {version!r} (this dashfix reads version "
            f"{BASELINE_VERSION}); regenerate it with `dashfix baseline create`"
        )
    raw_entries = document.get("entries")
    if not isinstance(raw_entries, list):
        raise UsageError(f"baseline {name}: 'entries' must be a list")
    entries = tuple(
        _entry(raw, f"baseline {name}, entry {number}")
        for number, raw in enumerate(raw_entries, start=1)
    )
    return Baseline(name, entries, legacy=version == LEGACY_VERSION)


def _gate_finding(baseline: Baseline, entry: BaselineEntry, problem: str, rule: Rule) -> Finding:
    return rule.at(
        baseline.source,
        f"baseline entry for {entry.code} at {entry.path}: {problem}",
        thread_id=entry.thread_id,
        checkpoint_id=entry.checkpoint_id,
        key=entry.fingerprint,
    )


def _entry_findings(
    baseline: Baseline, entry: BaselineEntry, matched: bool, today: date
) -> Iterable[Finding]:
    rule = rules_by_code().get(entry.code)
    if rule is None:
        yield _gate_finding(
            baseline, entry, "unknown code; the entry cannot match anything", BASELINE_UNKNOWN_CODE
        )
    elif not rule.baselinable:
        yield _gate_finding(
            baseline,
            entry,
            f"{entry.code} is integrity damage and is never suppressed; remove the entry",
            BASELINE_NOT_BASELINABLE,
        )
    elif not matched:
        yield _gate_finding(
            baseline, entry, "matches no current finding; remove it", BASELINE_ENTRY_STALE
        )
    if entry.expired(today):
        assert entry.expires is not None
        yield _gate_finding(
            baseline,
            entry,
            f"expired on {entry.expires.isoformat()}; the finding is reported again",
            BASELINE_ENTRY_EXPIRED,
        )
    if not entry.reason.strip() or entry.reason == PLACEHOLDER_REASON:
        yield _gate_finding(
            baseline,
            entry,
            f"reason is {entry.reason!r}; say why this finding is accepted",
            BASELINE_REASON_PLACEHOLDER,
        )


def apply_baseline(
    findings: Sequence[Finding], baseline: Baseline, today: date | None = None
) -> list[Finding]:
    """Mark findings the baseline accepts as suppressed; add GT4xx findings for its entries."""
    today = today or today_utc()
    table = rules_by_code()
    by_fingerprint = {entry.fingerprint: entry for entry in baseline.entries}
    matched: set[str] = set()
    result: list[Finding] = []
    for finding in findings:
        entry = by_fingerprint.get(finding.fingerprint)
        rule = table.get(finding.code)
        if entry is not None:
            matched.add(entry.fingerprint)
        if (
            entry is not None
            and rule is not None
            and rule.baselinable
            and not entry.expired(today)
        ):
            finding = dataclasses.replace(
                finding, suppressed=True, suppression_reason=entry.reason
            )
        result.append(finding)
    for entry in baseline.entries:
        result.extend(_entry_findings(baseline, entry, entry.fingerprint in matched, today))
    return result


@dataclass(frozen=True, slots=True)
class BaselineDraft:
    entries: list[BaselineEntry]
    skipped: list[Finding]
    """Findings left out because their rule cannot be baselined."""

    roots: list[str] = dataclasses.field(default_factory=list)
    """The PATHs the findings came from (informative: matching is by fingerprint)."""

    def to_json(self) -> bytes:
        document = {
            "version": BASELINE_VERSION,
            "tool": {"name": "dashfix", "version": __version__},
            "roots": self.roots,
            "entries": [entry.to_dict() for entry in self.entries],
        }
        return json_bytes(document) + b"\n"


def draft_baseline(
    findings: Iterable[Finding],
    reason: str = PLACEHOLDER_REASON,
    expires: date | None = None,
    previous: Baseline | None = None,
    roots: Sequence[str] = (),
) -> BaselineDraft:
    """Entries for every live, baselinable finding.

    Entries already in ``previous`` (of either version) keep their reason and expiry, so
    regenerating or migrating a
    baseline does not throw away the reviews written into it.
    """
    table = rules_by_code()
    kept = {entry.fingerprint: entry for entry in previous.entries} if previous else {}
    identity = legacy_fingerprint if previous is not None and previous.legacy else None
    entries: dict[str, BaselineEntry] = {}
    skipped: list[Finding] = []
    for finding in findings:
        rule = table.get(finding.code)
        if rule is not None and rule.family == BASELINE_ENTRY_STALE.family:
            continue  # findings about a baseline file are not findings about the artifacts
        if rule is None or not rule.baselinable:
            skipped.append(finding)
            continue
        fingerprint = finding.fingerprint
        old = kept.get(identity(finding) if identity else fingerprint)
        entries[fingerprint] = BaselineEntry(
            fingerprint=fingerprint,
            code=finding.code,
            path=finding.location,
            reason=old.reason if old else reason,
            expires=old.expires if old else expires,
            thread_id=finding.thread_id,
            checkpoint_id=finding.checkpoint_id,
        )
    ordered = sorted(entries.values(), key=lambda e: (e.path, e.code, e.fingerprint))
    return BaselineDraft(ordered, skipped, list(roots))


def legacy_fingerprint(finding: Finding) -> str:
    """The version 1 recipe: like ``Finding.fingerprint`` with the path inside the root."""
    parts = [finding.code, finding.path, finding.thread_id or "", finding.checkpoint_id or "",
             finding.key or ""]
    return xxhash.xxh3_64_hexdigest("\x1f".join(parts).encode("utf-8", "surrogateescape"))


def write_baseline(draft: BaselineDraft, target: Path) -> None:
    try:
        atomic_write_bytes(target, draft.to_json())
    except OSError as exc:
        raise UsageError(f"cannot write baseline {target}: {exc.strerror or exc}") from None
