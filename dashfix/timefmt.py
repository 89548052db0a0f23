"""Times as a person reads them: ISO-8601 in UTC.

Machine outputs (JSON fields, cache, index files) keep their raw numbers; every message,
table and plan a person reads shows this form, the same in verify, inspect and repair.
"""

from __future__ import annotations

import datetime


def format_utc(secs: int, nanos: int = 0) -> str:
    """``2025-10-09T08:53:27.000000000Z``: nanoseconds kept, as DashFlow stores them."""
    try:
        moment = datetime.datetime.fromtimestamp(secs, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{secs}s (out of range)"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def format_utc_us(micros: int) -> str:
    """A DashStream ``timestamp_us`` in the same form."""
    secs, rest = divmod(micros, 1_000_000)
    return format_utc(secs, rest * 1000)
