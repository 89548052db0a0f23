"""The one findings model that every check produces and every renderer reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import xxhash

from dashfix.osnames import is_text, name_bytes
from dashfix.roots import join

_KAFKA = "kafka://"
_SERVER_SCHEMES = ("postgresql://", "postgres://", "redis://", "rediss://")
_ENDPOINT_SCHEMES = ("s3://", "dynamodb://")


def _without_host(location: str) -> str:
    """A location on a server without the server: ``kafka://HOST:PORT,.../topic#pP@O``
    keeps the topic and what follows, ``postgresql://USER@HOST:PORT/db?table=t#...`` (and
    Redis) keeps its scheme, database and what follows, ``s3://`` and ``dynamodb://`` drop
    their query (an ``endpoint_url`` names a host). The same store reached through
    another host name, port or user (or a moved server) keeps its fingerprints, and no host
    name ends up in a baseline."""
    if location.startswith(_KAFKA):
        return location[len(_KAFKA):].partition("/")[2]
    for scheme in _SERVER_SCHEMES:
        if location.startswith(scheme):
            return f"{scheme[:-2]}/{location[len(scheme):].partition('/')[2]}"
    if location.startswith(_ENDPOINT_SCHEMES):  # ?endpoint_url=http://HOST:PORT&region=...
        store, mark, entry = location.partition("#")
        return store.partition("?")[0] + mark + entry
    return location


class Severity(StrEnum):
    """How bad a finding is. ``error``: damage, or DashFlow will misbehave;
    ``warning``: risky or unverifiable; ``info``: worth knowing."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True, slots=True)
class Rule:
    """A documented, stable finding code.

    ``unreadable`` rules mean "something asked for could not be read": they make the
    exit code 3.  ``baselinable`` is False for integrity damage, which a baseline
    must never accept as known.
    """

    code: str
    name: str
    severity: Severity
    family: str
    summary: str
    explanation: str
    bug: str
    fix: str
    baselinable: bool = True
    unreadable: bool = False

    def at(
        self,
        path: str,
        message: str,
        *,
        thread_id: str | None = None,
        checkpoint_id: str | None = None,
        offset: int | None = None,
        record: int | None = None,
        expected: Any = None,
        actual: Any = None,
        fix_command: str | None = None,
        key: str | None = None,
        severity: Severity | None = None,
        details: dict[str, Any] | None = None,
    ) -> Finding:
        """Build a finding of this rule at ``path`` (relative to the scanned root)."""
        return Finding(
            code=self.code,
            severity=severity or self.severity,
            path=path,
            message=message,
            thread_id=thread_id,
            checkpoint_id=checkpoint_id,
            offset=offset,
            record=record,
            expected=None if expected is None else str(expected),
            actual=None if actual is None else str(actual),
            fix_command=fix_command,
            key=key,
            details=details or {},
        )


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    path: str
    message: str
    thread_id: str | None = None
    checkpoint_id: str | None = None
    offset: int | None = None
    record: int | None = None
    expected: str | None = None
    actual: str | None = None
    fix_command: str | None = None
    # A stable discriminator for the fingerprint when code+path+ids are not unique
    # (for example the other checkpoint of a pair). Never a timestamp or message text.
    key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    suppressed: bool = False
    suppression_reason: str | None = None
    root: str = ""
    """The label of the scanned root ``path`` is relative to (see ``dashfix.roots``);
    ``""`` when the finding was not made by scanning roots and ``path`` stands alone."""

    @property
    def location(self) -> str:
        """Where the finding is, as every renderer shows it: the root joined with ``path``."""
        return join(self.root, self.path)

    @property
    def fingerprint(self) -> str:
        """Identity that survives re-runs: no timestamps, wording or absolute paths of roots
        given relative to the current folder; the root is part of it, so a baseline entry
        for one store never matches the same file name in another.  A Kafka topic's root
        counts without its brokers."""
        parts = [self.code, _without_host(self.location), self.thread_id or "",
                 self.checkpoint_id or ""]
        parts.append(self.key or "")
        return xxhash.xxh3_64_hexdigest("\x1f".join(parts).encode("utf-8", "surrogateescape"))

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.location, _or_before_all(self.record), _or_before_all(self.offset),
                self.code)

    def to_dict(self) -> dict[str, Any]:
        location = self.location
        document: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "path": location,
            "root": self.root or None,
            "path_in_root": self.path,
            "message": self.message,
            "thread_id": self.thread_id,
            "checkpoint_id": self.checkpoint_id,
            "offset": self.offset,
            "record": self.record,
            "expected": self.expected,
            "actual": self.actual,
            "fix": self.fix_command,
            "fingerprint": self.fingerprint,
            "suppressed": self.suppressed,
            "suppression_reason": self.suppression_reason,
            "details": self.details,
        }
        if not is_text(location):
            # ``path`` will show the undecodable bytes as \xNN; these are the exact ones.
            document["path_bytes"] = name_bytes(location)
        return document


def rooted(findings: Iterable[Finding], label: str) -> list[Finding]:
    """The findings of one scanned root, each stamped with the root's label.

    Stamped in place: they were just made for this run and nobody else holds them yet, and
    ``dataclasses.replace`` cost 5 us a finding (50 ms of a 10,000-finding report)."""
    stamped = list(findings)
    for finding in stamped:
        object.__setattr__(finding, "root", label)
    return stamped


def _or_before_all(number: int | None) -> int:
    return -1 if number is None else number
