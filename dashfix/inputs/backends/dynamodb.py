"""DynamoDBCheckpointer tables (spec 4.10, crates/dashflow-dynamodb-checkpointer).

``dynamodb://table?region=us-east-1`` with ``&endpoint_url=http://host:port`` for a local
or compatible endpoint, and ``&segments=N`` for a parallel scan (``--segments N`` overrides
it). Credentials come from the
usual AWS places. Needs boto3 (``pip install '.[aws]'``), imported only when such a
URL is given.

Read-only and streaming: a paginated Scan of every item (DashFlow reads only the first
1 MB page), in ``segments`` parallel segments whose pages meet in a bounded queue, plus the
keys of the first page of a plain Scan: what DashFlow's ``load`` ever sees.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import boto3
import botocore.exceptions

from dashfix.errors import UsageError
from dashfix.formats.blocks import state_framing
from dashfix.formats.compression import UNCOMPRESSED, StateFraming
from dashfix.inputs.checkpoint_model import CheckpointEntry, Place
from dashfix.inputs.sources import MAX_SEGMENTS, SourceUnavailable, SourceUrl

_PAGES_IN_FLIGHT = 4
_CLIENT_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class DynamoItem(NamedTuple):
    """One item: its entry, or why DashFlow cannot read it back."""

    key: str
    thread_id: str
    checkpoint_id: str
    entry: CheckpointEntry | None
    problem: str | None
    framing: StateFraming
    """What the state reads as (``state_framing``)."""


def split_url(url: SourceUrl, segments: int | None = None) -> tuple[str, dict[str, str], int]:
    """(table, client options, segments) of ``dynamodb://table?region=...``; ``segments``
    (``--segments``, checked by the caller) over the URL's."""
    rest, _, query = url.text.split("://", 1)[1].partition("?")
    table = rest.strip("/")
    options = dict(parse_qsl(query))
    if not table:
        raise UsageError(f"{url.display}: expected dynamodb://TABLE?region=REGION (DashFlow "
                         "has no default table name)")
    segments_text = options.get("segments", "1") if segments is None else str(segments)
    if not segments_text.isdigit() or not 1 <= int(segments_text) <= MAX_SEGMENTS:
        raise UsageError(f"{url.display}: segments must be 1 to {MAX_SEGMENTS}, not "
                         f"{segments_text!r}")
    client: dict[str, str] = {name: options[name] for name in ("endpoint_url", "region")
                              if name in options}
    return table, client, int(segments_text)


def item_name(table: str, thread_id: str, checkpoint_id: str) -> str:
    return f"{table}/{thread_id}/{checkpoint_id}"


def _string(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if isinstance(value, dict) else None


def decode_item(table: str, item: dict[str, Any]) -> DynamoItem:
    thread_id = _string(item, "thread_id") or ""
    checkpoint_id = _string(item, "checkpoint_id") or ""
    key = item_name(table, thread_id, checkpoint_id)
    node = _string(item, "node")
    state = item.get("state", {}).get("B")
    timestamp = item.get("timestamp", {}).get("N")
    missing = [name for name, value in (("node", node), ("state", state),
                                        ("timestamp", timestamp)) if value is None]
    if missing:
        return DynamoItem(key, thread_id, checkpoint_id, None,
                          f"missing or mistyped attribute(s) {', '.join(missing)}", UNCOMPRESSED)
    assert node is not None and state is not None and timestamp is not None
    try:
        timestamp_ns = int(timestamp)
    except ValueError:
        return DynamoItem(key, thread_id, checkpoint_id, None,
                          f"timestamp {timestamp!r} is not an integer of nanoseconds",
                          UNCOMPRESSED)
    raw_metadata = item.get("metadata", {}).get("M", {})
    metadata = {name: value.get("S") for name, value in raw_metadata.items()}
    if not all(isinstance(value, str) for value in metadata.values()):
        return DynamoItem(key, thread_id, checkpoint_id, None,
                          "metadata holds a value that is not a string", UNCOMPRESSED)
    state_bytes = bytes(state)
    entry = CheckpointEntry(checkpoint_id, thread_id, node, timestamp_ns,
                            _string(item, "parent_id"),
                            {k: str(v) for k, v in metadata.items()} or None,
                            len(state_bytes), None, Place.ITEM, key)
    return DynamoItem(key, thread_id, checkpoint_id, entry, None, state_framing(state_bytes))


class DynamoSource:
    backend = "dynamodb"

    def __init__(self, url: SourceUrl, segments: int | None = None) -> None:
        self.url = url
        self.label = url.display
        self.table, self.options, self.segments = split_url(url, segments)
        self._client: Any = None

    def cache_key(self) -> None:
        return None  # a table cannot tell cheaply whether its items changed

    def item_key(self, thread_id: str, checkpoint_id: str) -> str:
        """An item as findings name it: table, partition key, sort key."""
        return item_name(self.table, thread_id, checkpoint_id)

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                client = boto3.client("dynamodb",
                                      endpoint_url=self.options.get("endpoint_url"),
                                      region_name=self.options.get("region"))
                client.describe_table(TableName=self.table)
            except _CLIENT_ERRORS as exc:
                raise SourceUnavailable(f"{self.label}: cannot read table {self.table}: "
                                        f"{exc}") from None
            self._client = client
        return self._client

    def close(self) -> None:
        self._client = None

    def first_page_keys(self) -> set[tuple[str, str]]:
        """(thread_id, checkpoint_id) of the items on the first page of a plain Scan: all
        that DashFlow's ``load`` (a Scan with a filter, never paginated) can find."""
        try:
            page = self.client.scan(TableName=self.table)
        except _CLIENT_ERRORS as exc:
            raise SourceUnavailable(f"{self.label}: cannot scan {self.table}: {exc}") from None
        return {(_string(item, "thread_id") or "", _string(item, "checkpoint_id") or "")
                for item in page.get("Items", ())}

    def _segment_pages(self, segment: int, out: queue.Queue[Any]) -> None:
        arguments: dict[str, Any] = {"TableName": self.table}
        if self.segments > 1:
            arguments.update(Segment=segment, TotalSegments=self.segments)
        try:
            while True:
                page = self.client.scan(**arguments)
                out.put(page.get("Items", []))
                last = page.get("LastEvaluatedKey")
                if not last:
                    break
                arguments["ExclusiveStartKey"] = last
        except _CLIENT_ERRORS as exc:
            out.put(SourceUnavailable(f"{self.label}: cannot scan {self.table}: {exc}"))
        finally:
            out.put(None)

    def items(self) -> Iterator[DynamoItem]:
        """Every item of every page of every segment, as the pages arrive."""
        client = self.client  # connect (and fail) before any thread starts
        assert client is not None
        pages: queue.Queue[Any] = queue.Queue(maxsize=_PAGES_IN_FLIGHT * self.segments)
        workers = [threading.Thread(target=self._segment_pages, args=(segment, pages),
                                    daemon=True) for segment in range(self.segments)]
        for worker in workers:
            worker.start()
        running = len(workers)
        failure: SourceUnavailable | None = None
        while running:
            page = pages.get()
            if page is None:
                running -= 1
            elif isinstance(page, SourceUnavailable):
                failure = page
            elif failure is None:
                for item in page:
                    yield decode_item(self.table, item)
        if failure is not None:
            raise failure


def open_store(url: SourceUrl, segments: int | None = None) -> DynamoSource:
    return DynamoSource(url, segments)
