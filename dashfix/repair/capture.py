"""``dashfix stream capture``: a Kafka topic's snapshot written to a file, atomically.

The default is a kcat ``-f '%R%s'`` capture (a 4-byte big-endian length, -1 for a null
value, then the value), byte for byte what the broker holds, partition after partition in
offset order: ``dashfix stream validate FILE`` then finds what validating the topic finds,
except what only the broker knows (keys, partitions, deleted offsets).  ``jsonl`` writes the
file backend's lines instead, with each record's Kafka offset and timestamp and its value
unchanged (framed: DashFlow's file-backend reader accepts framed and bare values alike); a
null value becomes an empty one there, since the format has no null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from dashfix.context import Progress
from dashfix.errors import UsageError
from dashfix.formats import filelog, kcat
from dashfix.inputs.sources import TopicSource
from dashfix.repair.atomic import AtomicFile


class CaptureFormat(StrEnum):
    KCAT = "kcat"
    JSONL = "jsonl"


CAPTURE_FORMATS = tuple(f.value for f in CaptureFormat)


@dataclass
class CaptureReport:
    source: str
    output: str
    to_format: str
    records: int = 0
    partitions: list[dict[str, int]] = field(default_factory=list)
    """Per partition: its number, first offset, end (high watermark) and records."""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.output, "to_format": self.to_format,
                "records": self.records, "partitions": self.partitions}


def capture_topic(source: TopicSource, out: Path, to_format: str = "kcat", *,
                  progress: Progress | None = None) -> CaptureReport:
    """Write the snapshot of ``source`` to ``out``; ``out`` appears only when complete."""
    try:
        fmt = CaptureFormat(to_format)
    except ValueError:
        raise UsageError(f"--to-format must be one of {', '.join(CAPTURE_FORMATS)}, "
                         f"not {to_format!r}") from None
    if out.is_dir():
        raise UsageError(f"--to {str(out)!r} is a folder; a capture is one file")
    if not out.absolute().parent.is_dir():
        raise UsageError(f"the folder of --to {str(out)!r} does not exist")
    report = CaptureReport(source.root, str(out), fmt.value)
    with source.snapshot() as snapshot, AtomicFile(out) as handle:
        write = handle.write
        for part in snapshot.partitions:
            if progress is not None:
                progress.start(f"{source.locator.topic} partition {part.partition}", part.size)
            count = 0
            for batch in snapshot.read(part):
                if fmt is CaptureFormat.KCAT:
                    write(b"".join(kcat.encode_record(m.value()) for m in batch))
                else:
                    write(b"".join(filelog.encode_line(m.offset(), _stamp_us(m),
                                                       m.value() or b"") for m in batch))
                count += len(batch)
                if progress is not None:
                    progress.advance(len(batch))
            report.records += count
            report.partitions.append({"partition": part.partition, "start": part.start,
                                      "end": part.end, "records": count})
    return report


def _stamp_us(message: Any) -> int:
    kind, stamp = message.timestamp()
    return stamp * 1000 if kind else 0
