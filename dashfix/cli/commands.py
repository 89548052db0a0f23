"""Which module registers each command, so that a run imports only the command it runs.

typer needs a command's signature for its parser and its help, so registering a command
means importing its module (and what its options need). A run of one command imports that
command's module alone (``dashfix.cli.app``'s group asks ``register`` when the command is
named); ``dashfix --help`` imports them all, to list each command with its help. A command
module imports at the top only what its options need: the modules that do the work are
imported inside the command function, when that command runs.
"""

from __future__ import annotations

import importlib

COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "verify": ("verify_cmd",),
    "rebuild-index": ("repair_cmd",),
    "repair": ("repair_cmd",),
    "inspect": ("repair_cmd",),
    "rules": ("rules_cmd",),
    "baseline": ("baseline_cmd",),
    "cache": ("cache_cmd",),
    "config": ("config_cmd",),
    "dlq": ("dlq_cmd",),
    "stream": ("stream_cmd", "stream_replay_cmd"),
}
"""Every command (or group of commands) in the order ``dashfix --help`` lists them, and the
modules under ``dashfix.cli`` that register it and its subcommands on the app."""


def register(name: str) -> None:
    """Import the modules that register command ``name`` (a name not in the table: none)."""
    for module in COMMAND_MODULES.get(name, ()):
        importlib.import_module(f"dashfix.cli.{module}")


def register_all() -> None:
    for name in COMMAND_MODULES:
        register(name)
