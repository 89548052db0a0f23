"""RedisCheckpointer keys (spec 4.8, crates/dashflow-redis-checkpointer).

``redis://[user:password@]host:port/db?prefix=dashflow`` (``rediss://`` for TLS): ``prefix``
is dashfix's own parameter (DashFlow's default ``dashflow`` when absent). Needs redis-py
(``pip install '.[redis]'``), imported only when such a URL is given.

Read-only and streaming: keys are found with SCAN (never KEYS, which blocks the server),
and read in pipelined batches: the checkpoint hashes ``{prefix}:checkpoint:{id}``, the
per-thread ZSETs ``{prefix}:thread:{thread}:checkpoints`` (member id, score milliseconds)
and the SET ``{prefix}:threads``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

import orjson
import redis

from dashfix.formats.blocks import needs_trial, state_framing
from dashfix.formats.compression import UNCOMPRESSED, StateFraming
from dashfix.inputs.checkpoint_model import CheckpointEntry, Place, PlainEntries
from dashfix.inputs.sources import SourceUnavailable, SourceUrl

DEFAULT_PREFIX = "dashflow"
FIELDS = (b"checkpoint_id", b"thread_id", b"state", b"node", b"timestamp", b"parent_id",
          b"metadata")
REQUIRED = ("checkpoint_id", "thread_id", "state", "node", "timestamp")
"""Fields whose absence makes DashFlow's load (and list) fail; metadata defaults to {}."""
KEYS_PER_SCAN = 1000
KEYS_PER_PIPELINE = 500
CONNECT_TIMEOUT_S = 10
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


class RedisCheckpoint(NamedTuple):
    """One checkpoint hash: its entry, or why DashFlow cannot read it back."""

    key: str
    checkpoint_id: str
    entry: CheckpointEntry | None
    problem: str | None
    framing: StateFraming
    """What the state reads as (``state_framing``)."""


class ThreadSet(NamedTuple):
    """One thread's ZSET: (member, score) pairs, highest score first (ZREVRANGE order)."""

    key: str
    thread_id: str
    members: list[tuple[str, float]]


def split_url(url: SourceUrl) -> tuple[str, str]:
    """(redis-py URL without dashfix's parameters, key prefix)."""
    base, _, query = url.text.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    prefixes = [value for name, value in pairs if name == "prefix"]
    rest = urlencode([(name, value) for name, value in pairs if name != "prefix"])
    return (f"{base}?{rest}" if rest else base), (prefixes[-1] if prefixes else DEFAULT_PREFIX)


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


class RedisSource:
    backend = "redis"

    def __init__(self, url: SourceUrl) -> None:
        self.url = url
        self.label = url.display
        self.client_url, self.prefix = split_url(url)
        self._client: redis.Redis | None = None

    def cache_key(self) -> None:
        return None  # a server cannot tell cheaply whether its keys changed

    def key(self, kind: str, name: str = "") -> str:
        return f"{self.prefix}:{kind}" + (f":{name}" if name else "")

    def hash_key(self, thread_id: str, checkpoint_id: str) -> str:
        """The hash DashFlow keeps checkpoint ``checkpoint_id`` in."""
        return self.key("checkpoint", checkpoint_id)

    def thread_key(self, thread_id: str) -> str:
        return f"{self.prefix}:thread:{thread_id}:checkpoints"

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            try:
                client = redis.Redis.from_url(
                    self.client_url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                    socket_timeout=60, decode_responses=False)
                client.ping()
            except (redis.RedisError, ValueError) as exc:
                raise SourceUnavailable(f"{self.label}: cannot connect: "
                                        f"{self.secret_free(exc)}") from None
            self._client = client
        return self._client

    def secret_free(self, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        authority = self.url.text.split("://", 1)[1].split("/", 1)[0]
        userinfo, at_sign, _ = authority.rpartition("@")
        password = userinfo.split(":", 1)[1] if at_sign and ":" in userinfo else ""
        return text.replace(password, "***") if password else text

    def _failed(self, what: str, exc: Exception) -> SourceUnavailable:
        return SourceUnavailable(f"{self.label}: cannot read {what}: {self.secret_free(exc)}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _scan(self, pattern: str) -> Iterator[list[bytes]]:
        """Keys matching ``pattern``, a SCAN page at a time."""
        cursor = 0
        while True:
            cursor, keys = self.client.scan(cursor, match=pattern, count=KEYS_PER_SCAN)
            if keys:
                yield [key if isinstance(key, bytes) else key.encode() for key in keys]
            if cursor == 0:
                return

    def _batches(self, pattern: str) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        for keys in self._scan(pattern):
            batch.extend(keys)
            while len(batch) >= KEYS_PER_PIPELINE:
                yield batch[:KEYS_PER_PIPELINE]
                batch = batch[KEYS_PER_PIPELINE:]
        if batch:
            yield batch

    def _hashes(self) -> Iterator[tuple[int, list[bytes], list[Any]]]:
        """(length of the keys' common head, keys, HMGET answers) of every checkpoint hash,
        in SCAN order, a pipeline at a time."""
        head = self.key("checkpoint") + ":"
        pattern = _glob_escape(head) + "*"
        try:
            for keys in self._batches(pattern):
                pipe = self.client.pipeline(transaction=False)
                for key in keys:
                    pipe.hmget(key, FIELDS)
                yield len(head.encode()), keys, pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            raise self._failed("the checkpoint hashes", exc) from None

    def checkpoints(self) -> Iterator[RedisCheckpoint]:
        """Every checkpoint hash, in SCAN order, read by pipelined HMGET."""
        for head, keys, answers in self._hashes():
            for key, values in zip(keys, answers, strict=True):
                yield _checkpoint(key, head, values)

    def pages(self) -> Iterator[PlainEntries | list[RedisCheckpoint]]:
        """``checkpoints`` a pipeline at a time: a page whose hashes are all plain (see
        ``PlainEntries``) as columns, with no object per hash, any other page as
        ``RedisCheckpoint`` values."""
        for head, keys, answers in self._hashes():
            plain = _plain_page(head, keys, answers)
            yield plain if plain is not None else [
                _checkpoint(key, head, values) for key, values in zip(keys, answers, strict=True)]

    def thread_sets(self) -> Iterator[ThreadSet]:
        """Every per-thread ZSET, members highest score first, read by pipelined ZREVRANGE."""
        head, tail = f"{self.prefix}:thread:", ":checkpoints"
        pattern = _glob_escape(head) + "*" + _glob_escape(tail)
        try:
            for keys in self._batches(pattern):
                pipe = self.client.pipeline(transaction=False)
                for key in keys:
                    pipe.zrevrange(key, 0, -1, withscores=True)
                for key, members in zip(keys, pipe.execute(raise_on_error=False), strict=True):
                    name = key.decode("utf-8", "replace")
                    pairs = [] if isinstance(members, Exception) else [
                        (member.decode("utf-8", "replace"), float(score))
                        for member, score in members]
                    yield ThreadSet(name, name[len(head):-len(tail)], pairs)
        except redis.RedisError as exc:
            raise self._failed("the thread sorted sets", exc) from None

    def threads(self) -> set[str]:
        """The members of ``{prefix}:threads`` (SSCAN)."""
        try:
            return {member.decode("utf-8", "replace")
                    for member in self.client.sscan_iter(self.key("threads"),
                                                         count=KEYS_PER_SCAN)}
        except redis.RedisError as exc:
            raise self._failed(self.key("threads"), exc) from None


def _glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


_EMPTY_METADATA = frozenset({None, b"", b"{}"})
"""Metadata DashFlow reads as ``{}`` (a missing field defaults to it)."""


def _plain_page(head: int, keys: list[bytes], answers: list[Any]) -> PlainEntries | None:
    """The columns of a page of hashes when every one is plain: every required field there
    and readable, the key naming the hash's own id, no metadata, a state with nothing for
    ``state_framing`` to try (``needs_trial``: it reads as uncompressed, and is counted so).
    None as soon as one is not (the page is then read an entry at a time)."""
    ids: list[str] = []
    threads: list[str] = []
    stamps: list[int] = []
    parents: list[str | None] = []
    for key, values in zip(keys, answers, strict=True):
        if type(values) is not list:
            return None
        checkpoint_id, thread_id, state, node, timestamp, parent_id, metadata = values
        if (metadata not in _EMPTY_METADATA or state is None or needs_trial(state)
                or key[head:] != checkpoint_id):
            return None
        try:
            node.decode()
            ids.append(checkpoint_id.decode())
            threads.append(thread_id.decode())
            stamps.append(int(timestamp))
            parents.append(parent_id.decode() if parent_id else None)
        except (AttributeError, TypeError, UnicodeDecodeError, ValueError):
            return None
    return PlainEntries(ids, threads, stamps, parents)


def _checkpoint(raw_key: bytes, head: int, values: Any) -> RedisCheckpoint:
    """One hash (key ``raw_key``, whose first ``head`` bytes are the common head) as DashFlow
    reads it back, or why it cannot."""
    key = raw_key.decode("utf-8", "replace")
    key_id = raw_key[head:].decode("utf-8", "replace")
    if isinstance(values, Exception):
        return RedisCheckpoint(key, key_id, None, f"not a hash ({values})", UNCOMPRESSED)
    raw = dict(zip((field.decode() for field in FIELDS), values, strict=True))
    missing = [name for name in REQUIRED if raw[name] is None]
    if missing:
        return RedisCheckpoint(key, key_id, None, f"missing field(s) {', '.join(missing)}",
                               UNCOMPRESSED)
    checkpoint_id, thread_id, node = (_text(raw[name]) for name in
                                      ("checkpoint_id", "thread_id", "node"))
    timestamp = _text(raw["timestamp"])
    if checkpoint_id is None or thread_id is None or node is None or timestamp is None:
        return RedisCheckpoint(key, key_id, None, "a text field is not UTF-8", UNCOMPRESSED)
    try:
        timestamp_ns = int(timestamp)
    except ValueError:
        return RedisCheckpoint(key, key_id, None, f"timestamp {timestamp!r} is not an integer "
                               "of nanoseconds", UNCOMPRESSED)
    try:
        metadata = orjson.loads(raw["metadata"] or b"{}")
    except orjson.JSONDecodeError as exc:
        return RedisCheckpoint(key, key_id, None, f"metadata is not JSON: {exc}", UNCOMPRESSED)
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return RedisCheckpoint(key, key_id, None, "metadata is not a JSON object of strings",
                               UNCOMPRESSED)
    state: bytes = raw["state"]
    parent = _text(raw["parent_id"]) or None
    entry = CheckpointEntry(checkpoint_id, thread_id, node, timestamp_ns, parent,
                            metadata or None, len(state), None, Place.KEY, key)
    return RedisCheckpoint(key, key_id, entry, None, state_framing(state))


def open_store(url: SourceUrl) -> RedisSource:
    return RedisSource(url)
