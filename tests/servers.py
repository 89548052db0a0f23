"""The real servers the database source tests run against (PostgreSQL, Redis on loopback).

Each is named by an environment variable with a local default. A test that needs one skips
with how to start it when it is unreachable, except under CI (env CI set), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

POSTGRES_ENV = "DASHFIX_TEST_POSTGRES"
POSTGRES_DEFAULT = "postgresql://127.0.0.1:5432/test"
REDIS_ENV = "DASHFIX_TEST_REDIS"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


def _unreachable(what: str, url: str, env: str, start: str, exc: Exception) -> None:
    message = (f"{what} is not reachable at {url} ({type(exc).__name__}: {exc}); start one "
               f"({start}) or point {env} at one")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class PostgresTable:
    """A schema of this test's own on the test server; ``url(table)`` names a table in it."""

    base: str
    schema: str
    connection: Any

    def url(self, table: str, base: str | None = None) -> str:
        return (f"{base or self.base}?options=-csearch_path%3D{self.schema}&table={table}")


def postgres_schema() -> Iterator[PostgresTable]:
    import psycopg

    base = os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT)
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _unreachable("PostgreSQL", base, POSTGRES_ENV,
                     "apt-get install postgresql; trust auth for 127.0.0.1; createdb test", exc)
        raise
    schema = f"dashfix_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}".encode())
    admin.execute(f"SET search_path TO {schema}".encode())
    try:
        yield PostgresTable(base, schema, admin)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE".encode())
        admin.close()




@dataclass
class RedisPrefix:
    """A key prefix of this test's own on the test server; ``url()`` names it."""

    base: str
    prefix: str
    client: Any

    def url(self, base: str | None = None) -> str:
        return f"{base or self.base}?prefix={self.prefix}"


def redis_prefix() -> Iterator[RedisPrefix]:
    import redis

    base = os.environ.get(REDIS_ENV, REDIS_DEFAULT)
    try:
        client = redis.Redis.from_url(base, socket_connect_timeout=5)
        client.ping()
    except redis.RedisError as exc:
        _unreachable("Redis", base, REDIS_ENV, "apt-get install redis-server", exc)
        raise
    prefix = f"dashfix_test_{uuid.uuid4().hex[:12]}"
    try:
        yield RedisPrefix(base, prefix, client)
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@dataclass
class S3Bucket:
    """A bucket of this test's own on a moto server started on a loopback port."""

    endpoint: str
    bucket: str
    client: Any

    def url(self, prefix: str = "dashflow") -> str:
        return f"s3://{self.bucket}/{prefix}?endpoint_url={self.endpoint}"


def moto_server() -> Iterator[str]:
    """An S3-compatible server (moto's server mode) on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
    except OSError as exc:
        _unreachable("moto's S3 server", "127.0.0.1", "(none)", "pip install 'moto[server]'",
                     exc)
        raise
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint)
    bucket = f"dashfix-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Bucket(endpoint, bucket, client)
