"""Option parsing shared by several commands."""

from __future__ import annotations

from dashfix.errors import UsageError
from dashfix.findings import Severity

FAIL_ON_CHOICES = ("error", "warning", "info", "never")


def parse_fail_on(value: str) -> Severity | None:
    if value == "never":
        return None
    try:
        return Severity(value)
    except ValueError:
        raise UsageError(
            f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not {value!r}"
        ) from None
