"""S3Checkpointer objects (spec 4.9, crates/dashflow-s3-checkpointer).

``s3://bucket/prefix`` (``prefix`` defaults to DashFlow's ``dashflow``), with
``?endpoint_url=http://host:port`` for an S3-compatible store and ``&region=``. Credentials
come from the usual AWS places (environment, profiles). Needs boto3 (the ``aws``
extra), imported only when such a URL is given.

Read-only and streaming: listings are paginated, and each object is fetched, decoded and
dropped (a few threads fetch and decode the next ones meanwhile, at most ``IN_FLIGHT`` held
at once). A checkpoint object is exactly the payload of a DCHK file (spec 2.3) without the
header, possibly compressed as a whole: zstd is recognised by its magic and read as a
stream, up to 100 MiB; otherwise the object is read as it is, then as lz4, then as snappy,
and the first reading whose bytes parse as a whole payload (its ids, then one way to read
node, timestamp, parent and metadata after the state, ending at the last byte) is the
object's. ``threads/{thread}/index.json`` is DashFlow's JSON index, newest first by
insertion.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import boto3
import botocore.exceptions
import orjson

from dashfix.formats.bincode import DecodeError
from dashfix.formats.blocks import decodings
from dashfix.formats.checkpoint import CheckpointHead, parse_tail, read_ids
from dashfix.formats.compression import Compression
from dashfix.inputs.checkpoint_model import NS_PER_SEC, CheckpointEntry, Place
from dashfix.inputs.sources import SourceUnavailable, SourceUrl

DEFAULT_PREFIX = "dashflow"
INDEX_NAME = "index.json"
GETTERS = 4
"""Threads fetching checkpoint objects (botocore's connection pool holds 10)."""
IN_FLIGHT = 16
"""Objects asked for and not yet taken by the checks."""
_CLIENT_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class S3Object(NamedTuple):
    """One checkpoint object: its entry, or why it does not decode."""

    key: str
    key_id: str
    """The checkpoint id the key names (``{prefix}/checkpoints/{id}``)."""
    entry: CheckpointEntry | None
    problem: str | None
    compression: Compression = Compression.NONE
    """How the object is stored (the reading that parsed)."""


class IndexEntry(NamedTuple):
    checkpoint_id: str
    thread_id: str | None
    timestamp_ns: int | None


class ThreadIndex(NamedTuple):
    """One ``threads/{thread}/index.json``: its entries in file order, or a problem."""

    key: str
    thread_id: str
    entries: list[IndexEntry]
    problem: str | None


def split_url(url: SourceUrl) -> tuple[str, str, dict[str, str]]:
    """(bucket, prefix, client options) of ``s3://bucket/prefix?endpoint_url=...``."""
    rest, _, query = url.text.split("://", 1)[1].partition("?")
    bucket, _, prefix = rest.partition("/")
    options = dict(parse_qsl(query))
    client: dict[str, str] = {name: options[name] for name in ("endpoint_url", "region")
                              if name in options}
    return bucket, prefix.strip("/") or DEFAULT_PREFIX, client


def decode_object(key: str, key_id: str, data: bytes) -> S3Object:
    """A checkpoint object's entry: the first reading of ``decodings`` that parses as the
    section 2.3 payload, or why none does (each reading's reason)."""
    failures: list[str] = []
    for compression, payload in decodings(data):
        how = "as stored" if compression is Compression.NONE else f"as {compression.label}"
        if isinstance(payload, DecodeError):
            failures.append(f"{how}, it does not decompress ({payload})")
            continue
        found = _payload_entry(key, payload)
        if isinstance(found, CheckpointEntry):
            return S3Object(key, key_id, found, None, compression)
        failures.append(f"{how}, {found}")
    return S3Object(key, key_id, None, "does not decode: " + "; ".join(failures))


def _payload_entry(key: str, payload: bytes) -> CheckpointEntry | str:
    """The entry the section 2.3 ``payload`` holds, or why it holds none."""
    try:
        checkpoint_id, thread_id, state_start = read_ids(payload)
    except DecodeError as exc:
        return f"its ids do not decode ({exc})"
    tail = parse_tail(memoryview(payload), CheckpointHead(checkpoint_id, thread_id, state_start))
    found = tail.unique
    if found is None:
        why = "several ways" if tail.ambiguous else "no way"
        return f"there is {why} to read node, timestamp, parent and metadata after the state"
    return CheckpointEntry(
        checkpoint_id, thread_id, found.node, found.secs * NS_PER_SEC + found.nanos,
        found.parent_id, found.metadata or None, found.state_end - state_start, None,
        Place.OBJECT, key)


def _timestamp_ns(value: Any) -> int | None:
    """DashFlow's ``{secs, nanos}`` (or serde's default SystemTime shape) in nanoseconds."""
    if not isinstance(value, dict):
        return None
    secs = value.get("secs", value.get("secs_since_epoch"))
    nanos = value.get("nanos", value.get("nanos_since_epoch"))
    if isinstance(secs, int) and isinstance(nanos, int):
        return secs * NS_PER_SEC + nanos
    return None


def decode_index(key: str, thread_id: str, data: bytes) -> ThreadIndex:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return ThreadIndex(key, thread_id, [], f"is not JSON: {exc}")
    items = document.get("checkpoints") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return ThreadIndex(key, thread_id, [], 'has no "checkpoints" list')
    entries: list[IndexEntry] = []
    for at, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return ThreadIndex(key, thread_id, entries, f"entry {at} has no string id")
        thread = item.get("thread_id")
        entries.append(IndexEntry(item["id"], thread if isinstance(thread, str) else None,
                                  _timestamp_ns(item.get("timestamp"))))
    return ThreadIndex(key, thread_id, entries, None)


class S3Source:
    backend = "s3"

    def __init__(self, url: SourceUrl) -> None:
        self.url = url
        self.label = url.display
        self.bucket, self.prefix, self.options = split_url(url)
        self._client: Any = None

    def cache_key(self) -> None:
        return None  # a bucket cannot tell cheaply whether its objects changed

    def checkpoint_key(self, checkpoint_id: str) -> str:
        return f"{self.prefix}/checkpoints/{checkpoint_id}"

    def object_key(self, thread_id: str, checkpoint_id: str) -> str:
        """The object DashFlow keeps checkpoint ``checkpoint_id`` in."""
        return self.checkpoint_key(checkpoint_id)

    def index_key(self, thread_id: str) -> str:
        return f"{self.prefix}/threads/{thread_id}/{INDEX_NAME}"

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                client = boto3.client("s3", endpoint_url=self.options.get("endpoint_url"),
                                      region_name=self.options.get("region"))
                client.head_bucket(Bucket=self.bucket)
            except _CLIENT_ERRORS as exc:
                raise SourceUnavailable(f"{self.label}: cannot read bucket {self.bucket}: "
                                        f"{exc}") from None
            self._client = client
        return self._client

    def close(self) -> None:
        self._client = None

    def _keys(self, under: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=under)
        for page in pages:
            for item in page.get("Contents", ()):
                yield str(item["Key"])

    def _get(self, key: str) -> bytes:
        return self._get_tagged(key)[0]

    def _get_tagged(self, key: str) -> tuple[bytes, str]:
        """An object's bytes and the ETag of exactly those bytes."""
        response = self.client.get_object(Bucket=self.bucket, Key=key)
        body = response["Body"]
        try:
            return bytes(body.read()), str(response["ETag"])
        finally:
            body.close()

    def get_tagged(self, key: str) -> tuple[bytes, str] | None:
        """``key``'s bytes and ETag, or None when there is no such object."""
        try:
            return self._get_tagged(key)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise SourceUnavailable(f"{self.label}: cannot read {key}: {exc}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise SourceUnavailable(f"{self.label}: cannot read {key}: {exc}") from None

    def keys(self, under: str) -> Iterator[str]:
        """Every key under ``under`` (a paginated listing)."""
        try:
            yield from self._keys(under)
        except _CLIENT_ERRORS as exc:
            raise SourceUnavailable(f"{self.label}: cannot list {under}: {exc}") from None

    def objects(self) -> Iterator[S3Object]:
        """Every checkpoint object, in listing order. ``GETTERS`` threads fetch and decode
        the next objects while the caller takes one (a GET waits on the server most of its
        time); at most ``IN_FLIGHT`` objects are held at once."""
        head = f"{self.prefix}/checkpoints/"

        def fetched(key: str) -> S3Object:
            return decode_object(key, key[len(head):], self._get(key))

        client = self.client  # connect (and fail) before any thread starts
        assert client is not None
        try:
            with ThreadPoolExecutor(GETTERS, thread_name_prefix="dashfix-s3") as pool:
                pending: deque[Future[S3Object]] = deque()
                for key in self._keys(head):
                    pending.append(pool.submit(fetched, key))
                    if len(pending) >= IN_FLIGHT:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
        except _CLIENT_ERRORS as exc:
            raise SourceUnavailable(f"{self.label}: cannot read the checkpoint objects: "
                                    f"{exc}") from None

    def indexes(self) -> Iterator[ThreadIndex]:
        for key, thread_id, data, _ in self.raw_indexes():
            yield decode_index(key, thread_id, data)

    def raw_indexes(self) -> Iterator[tuple[str, str, bytes, str]]:
        """(key, thread, bytes, ETag) of every ``threads/{thread}/index.json``."""
        head = f"{self.prefix}/threads/"
        tail = f"/{INDEX_NAME}"
        try:
            for key in self._keys(head):
                if key.endswith(tail):
                    yield (key, key[len(head):-len(tail)], *self._get_tagged(key))
        except _CLIENT_ERRORS as exc:
            raise SourceUnavailable(f"{self.label}: cannot read the thread indexes: "
                                    f"{exc}") from None


def open_store(url: SourceUrl) -> S3Source:
    return S3Source(url)
