"""Imports every command module so that each registers itself on the app.

Every run imports all of them (typer needs each command's signature for the help and the
parser), so a command module imports at the top only what its options need: the modules
that do the work are imported inside the command function, when that command runs.
"""

from dashfix.cli import (
    baseline_cmd,
    cache_cmd,
    config_cmd,
    dlq_cmd,
    repair_cmd,
    rules_cmd,
    stream_cmd,
    stream_replay_cmd,
    verify_cmd,
)

__all__ = [
    "baseline_cmd",
    "cache_cmd",
    "config_cmd",
    "dlq_cmd",
    "repair_cmd",
    "rules_cmd",
    "stream_cmd",
    "stream_replay_cmd",
    "verify_cmd",
]
