"""Locators: URLs are told from PATHs, shown without passwords, and kept whole when split."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashfix.errors import UsageError
from dashfix.inputs.sources import (
    FileSource,
    MissingExtraError,
    SourceUrl,
    TopicSource,
    open_source,
    open_store,
    parse_locator,
    redact,
    split_locators,
)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://app:s3cr%40t@db:5432/test?table=t", "postgresql://app@db:5432/test?table=t"),
    ("postgresql://app:pw@db", "postgresql://app@db"),
    ("redis://:hunter2@cache:6379/0?prefix=dashflow", "redis://cache:6379/0?prefix=dashflow"),
    ("postgresql://db/test?password=pw&table=t", "postgresql://db/test?table=t"),
    ("redis://cache?token=abc", "redis://cache"),
    ("sqlite:///relative.db", "sqlite:///relative.db"),
    ("sqlite:////srv/abs.db", "sqlite:////srv/abs.db"),
    ("checkpoints/run:1", "checkpoints/run:1"),
])
def test_redact_takes_out_passwords_only(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "s3cr" not in repr(SourceUrl(url)) and "hunter2" not in str(SourceUrl(url))


@pytest.mark.parametrize(("joined", "parts"), [
    ("checkpoints:postgresql://u:pw@db:5432/test:sqlite:////srv/c.db",
     ["checkpoints", "postgresql://u:pw@db:5432/test", "sqlite:////srv/c.db"]),
    ("redis://localhost:6379:checkpoints:/abs", ["redis://localhost:6379", "checkpoints", "/abs"]),
    ("redis://localhost:6379/0?prefix=x:logs", ["redis://localhost:6379/0?prefix=x", "logs"]),
    ("a::b", ["a", "b"]),
    ("kafka://h1:9092,h2:9092/events:logs", ["kafka://h1:9092,h2:9092/events", "logs"]),
    ("/plain/path", ["/plain/path"]),
])
def test_split_keeps_urls_whole(joined: str, parts: list[str]) -> None:
    assert split_locators(joined, ":") == parts


def test_parse_locator() -> None:
    assert parse_locator("store") == Path("store")
    assert parse_locator("sqlite:///x.db") == SourceUrl("sqlite:///x.db")
    with pytest.raises(UsageError, match="ftp://"):
        parse_locator("ftp://host/x")


def test_a_kafka_topic_is_a_stream_source_not_a_store() -> None:
    topic = parse_locator("kafka://h1:9092,h2:9092/events")
    assert isinstance(topic, SourceUrl) and topic.is_topic
    assert not SourceUrl("postgresql://db/test").is_topic
    with pytest.raises(UsageError, match="a Kafka topic is a stream"):
        open_store(topic)
    opened = open_source(topic.text, what="PATH")
    assert isinstance(opened, TopicSource)
    assert opened.locator.topic == "events" and opened.cache_key is None
    assert open_source("logs/run.log") == FileSource(Path("logs/run.log"))


def test_a_missing_client_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psycopg" else real(name, *a))
    needs = r"'postgres' extra \(python3 -m pip install '\.\[postgres\]'"
    with pytest.raises(MissingExtraError, match=needs) as caught:
        open_store(SourceUrl("postgresql://app:pw@db/test"))
    assert caught.value.exit_code == 2
    assert "pw" not in str(caught.value)


def test_a_missing_cramjam_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cramjam" else real(name, *a))
    with pytest.raises(MissingExtraError, match=r"needs cramjam.*'redis' extra"):
        open_store(SourceUrl("redis://127.0.0.1:6379/0"))
