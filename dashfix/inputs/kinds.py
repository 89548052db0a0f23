"""The ordered list of input kinds that discovery consults.

Order matters: the first kind that claims a folder or file wins.
"""

from __future__ import annotations

from dashfix.checks.dlq import DLQ_DUMP_KIND
from dashfix.checks.stream.log import STREAM_LOG_KIND
from dashfix.inputs import InputKind
from dashfix.inputs.checkpoint_store import CHECKPOINT_STORE


def input_kinds() -> tuple[InputKind, ...]:
    return (CHECKPOINT_STORE, DLQ_DUMP_KIND, STREAM_LOG_KIND)
