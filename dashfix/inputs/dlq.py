"""Reading DLQ dumps line by line with a line-length cap, and recognising them.

A dump is what ``kafka-console-consumer`` or ``kcat -e`` prints for a DLQ topic: one
JSON object per line.  A line longer than the cap is skipped in bounded reads, never
held; every line keeps its 0-based number and byte offset for the findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dashfix.context import CONSUMER_LIMIT
from dashfix.formats.dlq import SNIFF_MARKERS, DlqProblem, DlqRecord, parse_line
from dashfix.formats.filelog import base64_cap
from dashfix.inputs.sources import FileSource, Source
from dashfix.inputs.streams import _capped_lines, size_when_opened

DUMP_FORMAT = "dlq-jsonl"
LINE_OVERHEAD = 64 * 1024
"""Room for the other keys of a record: error texts can quote long decoder messages."""


def default_max_line_bytes(limit: int) -> int:
    return base64_cap(limit + 1) + LINE_OVERHEAD


@dataclass(frozen=True, slots=True)
class DumpOptions:
    limit: int = CONSUMER_LIMIT
    """Frame size cap (``--limits``); payloads over ``limit + 1`` bytes are not decoded."""
    max_line_bytes: int | None = None

    @property
    def line_cap(self) -> int:
        return self.max_line_bytes or default_max_line_bytes(self.limit)


@dataclass(frozen=True, slots=True)
class LineTooLong:
    length: int
    cap: int


@dataclass(frozen=True, slots=True)
class DumpLine:
    index: int
    """0-based line number (blank lines count, so ``index + 1`` is the editor's line)."""
    offset: int
    """Byte offset of the line in the dump."""
    item: DlqRecord | DlqProblem | LineTooLong
    partition: int | None = None
    """For a DLQ topic: the record's partition (``index`` is then its Kafka offset)."""


def iter_dump(path: Path, options: DumpOptions | None = None) -> Iterator[DumpLine]:
    """Every non-blank line of the dump, parsed. Raises OSError if the file cannot be read."""
    options = options or DumpOptions()
    cap = options.line_cap
    with open(path, "rb", buffering=1 << 20) as handle:
        # A dump still being appended to: its lines when opened, not a chase of the writer.
        size = size_when_opened(handle)
        for index, (offset, line, length) in enumerate(_capped_lines(handle, cap, 0, size)):
            if line is None:
                yield DumpLine(index, offset, LineTooLong(length, cap))
                continue
            body = line.rstrip(b"\r\n")
            if body.strip():
                yield DumpLine(index, offset, parse_line(body, payload_cap=options.limit + 1))


def dump_lines(source: Source, options: DumpOptions | None = None) -> Iterator[DumpLine]:
    """``iter_dump`` of a dump file, or of a DLQ topic's snapshot (one JSON object per
    record value; a record over the line cap is not parsed, a null one is an empty line).
    Raises OSError if a file cannot be read."""
    if isinstance(source, FileSource):
        yield from iter_dump(source.path, options)
        return
    options = options or DumpOptions()
    cap = options.line_cap
    with source.snapshot() as snapshot:
        for part in snapshot.partitions:
            for record in snapshot.records(part):
                value = record.value or b""
                item: DlqRecord | DlqProblem | LineTooLong
                if len(value) > cap:
                    item = LineTooLong(len(value), cap)
                elif not value.strip():
                    continue
                else:
                    item = parse_line(value, payload_cap=options.limit + 1)
                yield DumpLine(record.offset, 0, item, part.partition)


def looks_like_dlq(head: bytes) -> bool:
    """Whether the first line (or Kafka record) of ``head`` is a DLQ record."""
    first = head.lstrip().split(b"\n", 1)[0]
    brace = first.find(b"{")
    if brace < 0 or (brace > 0 and b"\t" not in first[:brace]):
        return False
    return any(marker in first for marker in SNIFF_MARKERS)


def sniff_dlq_file(path: Path, head: bytes) -> str | None:
    """Discovery's sniffer: JSON lines whose first record carries DLQ keys."""
    return DUMP_FORMAT if looks_like_dlq(head) else None
