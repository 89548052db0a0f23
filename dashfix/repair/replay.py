"""Replay writers: kcat capture, file-backend JSONL, folder of raw frames, Kafka topic.

Output is atomic: a capture or JSONL log goes through ``AtomicFile`` (temp file in the
target folder, fsync, rename); a folder of frames is written into a hidden temp folder
next to the target and renamed into place only when complete; a Kafka topic gets one
transaction (``kafka_out``).  Nothing is ever written
to the input: ``check_output`` refuses an output that is the input or lies inside it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from dashfix.errors import UsageError
from dashfix.formats import filelog, kcat
from dashfix.inputs.kafka import DEFAULT_TIMEOUT_SECONDS, KafkaLocator
from dashfix.repair.atomic import AtomicFile, fsync_dir
from dashfix.repair.kafka_out import kafka_writer

FRAME_NAME = "{:010d}.frame"
"""Zero-padded so name order is record order (the frames reader sorts by name)."""


class OutputFormat(StrEnum):
    KCAT = "kcat"
    JSONL = "jsonl"
    FRAMES = "frames"
    KAFKA = "kafka"

    @property
    def framed(self) -> bool:
        """Kafka record values carry the flag byte; the file backend stores bare protobuf."""
        return self is not OutputFormat.JSONL


OUTPUT_FORMATS = tuple(f.value for f in OutputFormat)


Destination = Path | KafkaLocator


class RecordWriter(Protocol):
    def write(self, value: bytes, timestamp_us: int, key: bytes) -> None:
        """``key``: the record's thread_id (Kafka's record key; files have none)."""


class _KcatWriter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def write(self, value: bytes, timestamp_us: int, key: bytes) -> None:
        self.out.write(kcat.encode_record(value))


class _JsonlWriter:
    """Offsets count from 0 like a fresh file backend (its consumer position is the line)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offset = 0

    def write(self, value: bytes, timestamp_us: int, key: bytes) -> None:
        self.out.write(filelog.encode_line(self.offset, timestamp_us, value))
        self.offset += 1


class _FramesWriter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def write(self, value: bytes, timestamp_us: int, key: bytes) -> None:
        path = self.folder / FRAME_NAME.format(self.count)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, value)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.count += 1


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(source: Path | None, out: Path, to_format: OutputFormat) -> None:
    """Refuse file outputs that would touch the input (None: not a file) or replace a
    folder."""
    out_abs = Path(os.path.abspath(out))
    if source is not None:
        source_abs = Path(os.path.abspath(source))
        if out_abs == source_abs or (source.is_dir() and _inside(out_abs, source_abs)):
            raise UsageError(f"--to {str(out)!r} would write into the input {str(source)!r}; "
                             "replay never changes its input")
        if out.exists() and source.exists() and os.path.samefile(out, source):
            raise UsageError(f"--to {str(out)!r} is the input itself; replay never changes "
                             "its input")
    if to_format is OutputFormat.FRAMES and (out.exists() or out.is_symlink()):
        raise UsageError(f"--to {str(out)!r} exists; a folder of frames is only written new")
    if to_format is not OutputFormat.FRAMES and out.is_dir():
        raise UsageError(f"--to {str(out)!r} is a folder; --to-format {to_format.value} "
                         "writes one file")
    if not out_abs.parent.is_dir():
        raise UsageError(f"the folder of --to {str(out)!r} does not exist")


@contextmanager
def open_writer(out: Destination, to_format: OutputFormat, *,
                timeout: float = DEFAULT_TIMEOUT_SECONDS,
                kafka_properties: Mapping[str, str] | None = None) -> Iterator[RecordWriter]:
    """A writer whose output appears at ``out`` only if the block completes; ``timeout``
    bounds each wait on a Kafka broker, ``kafka_properties`` are its client settings."""
    if isinstance(out, KafkaLocator):
        with kafka_writer(out, timeout=timeout, properties=kafka_properties) as writer:
            yield writer
        return
    if to_format is OutputFormat.FRAMES:
        temp = out.parent / f".{out.name}.{uuid.uuid4()}.dashfix.tmp"
        temp.mkdir()
        try:
            yield _FramesWriter(temp)
            fsync_dir(temp)
            os.rename(temp, out)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        fsync_dir(out.parent)
        return
    with AtomicFile(out) as handle:
        yield _KcatWriter(handle) if to_format is OutputFormat.KCAT else _JsonlWriter(handle)
