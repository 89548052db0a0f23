"""Registry of every finding code. Each family keeps its rules in its own module."""

from __future__ import annotations

from dashfix.findings import Rule
from dashfix.rules import checkpoint, dlq, gate, general, stream

# Each family module exposes ``RULES``; add new families here.
_FAMILIES = (general, checkpoint, gate, stream, dlq)


def all_rules() -> tuple[Rule, ...]:
    return tuple(rule for module in _FAMILIES for rule in module.RULES)


def rules_by_code() -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for rule in all_rules():
        if rule.code in table:
            raise RuntimeError(f"duplicate rule code {rule.code}")
        table[rule.code] = rule
    return table


def get_rule(code: str) -> Rule | None:
    return rules_by_code().get(code.upper())


def unreadable_codes() -> frozenset[str]:
    """Codes that mean the run could not check what it was asked to (exit code 3)."""
    return frozenset(rule.code for rule in all_rules() if rule.unreadable)
