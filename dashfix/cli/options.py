"""Option parsing shared by several commands."""

from __future__ import annotations

from typing import Annotated

import typer

from dashfix.context import CONSUMER_LIMIT, SERVER_LIMIT
from dashfix.errors import UsageError
from dashfix.findings import Severity
from dashfix.inputs import INPUT_FORMATS
from dashfix.inputs.sources import MAX_SEGMENTS

FAIL_ON_CHOICES = ("error", "warning", "info", "never")


def choices(values: tuple[str, ...] | list[str]) -> str:
    """The placeholder of an option with a closed set of values: ``text|json``."""
    return "|".join(values)


LIMITS_METAVAR = "consumer|server|BYTES"


def parse_fail_on(value: str) -> Severity | None:
    if value == "never":
        return None
    try:
        return Severity(value)
    except ValueError:
        raise UsageError(
            f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not {value!r}"
        ) from None


LIMIT_PROFILES = {"consumer": CONSUMER_LIMIT, "server": SERVER_LIMIT}


def parse_limits(value: str) -> int:
    """``--limits``: ``consumer`` (1 MiB), ``server`` (10 MiB) or a number of bytes."""
    if value in LIMIT_PROFILES:
        return LIMIT_PROFILES[value]
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise UsageError(f"--limits must be consumer, server or a positive byte count, not {value!r}")


def parse_input_format(value: str | None) -> str | None:
    if value is None or value in INPUT_FORMATS:
        return value
    raise UsageError(f"--input-format must be one of {', '.join(INPUT_FORMATS)}, not {value!r}")


def parse_max_line_bytes(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise UsageError(f"--max-line-bytes must be positive, not {value}")
    return value


# Options that several commands share, declared once so their help text cannot drift.
InputFormatOption = Annotated[
    str | None,
    typer.Option("--input-format", metavar="FORMAT",
                 help=f"Force a format: {', '.join(INPUT_FORMATS)}."),
]
LimitsOption = Annotated[
    str, typer.Option(metavar=LIMITS_METAVAR,
                      help="Size cap: consumer (1 MiB), server (10 MiB) or bytes.")
]
MaxLineBytesOption = Annotated[
    int | None,
    typer.Option(metavar="BYTES", help="JSON line cap in bytes (default follows --limits)."),
]
FailOnOption = Annotated[
    str, typer.Option(metavar=choices(FAIL_ON_CHOICES), help="Lowest severity that fails.")
]


SegmentsOption = Annotated[
    int | None,
    typer.Option("--segments", metavar="N",
                 help="dynamodb:// URLs: read each table in N parallel Scan segments "
                 f"(1-{MAX_SEGMENTS}), over the URL's &segments=N."),
]

