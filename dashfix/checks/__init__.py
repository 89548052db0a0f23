"""Checks: rules that turn what ``dashfix.inputs`` read into findings (one package per kind)."""
