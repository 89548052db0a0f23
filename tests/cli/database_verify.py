"""What the database source acceptance tests (PostgreSQL, Redis, SQLite) share: running
`dashfix verify` for its JSON document, and what a database dashfix cannot reach, or that
refuses its login, must give (exit code 3 and one DB500 finding)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def verify_json(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    """`dashfix verify ARGS` in JSON, without progress: its exit code and its document."""
    result = cli("verify", *args, "--format", "json", "--progress", "never")
    return result.exit_code, result.json()


def cannot_connect(cli: Cli, url: str) -> tuple[CliResult, dict[str, Any]]:
    """`dashfix verify URL` of a database that cannot be reached or refuses the login: it
    exits 3 with a single finding, DB500. The result and that finding, for the caller's own
    checks (the cause named, no password shown)."""
    result = cli("verify", url, "--format", "json")
    assert result.exit_code == 3, result.stdout
    [finding] = result.json()["findings"]
    assert finding["code"] == "DB500"
    return result, finding
