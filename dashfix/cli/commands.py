"""Imports every command module so that each registers itself on the app."""

from dashfix.cli import rules_cmd, verify_cmd

__all__ = ["rules_cmd", "verify_cmd"]
