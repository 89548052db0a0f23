"""Imports every command module so that each registers itself on the app."""

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
