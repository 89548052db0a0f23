"""docs/rules.md is generated from the rule registry and must not drift from it."""

from __future__ import annotations

import io
import re
from pathlib import Path

from dashfix.report.rules_doc import render_markdown
from dashfix.rules import all_rules, rules_by_code

DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
CODE_SHAPE = re.compile(r"^(DF0|CK1|ST2|DQ3|GT4|DB5)\d\d$")


def test_docs_rules_md_is_current() -> None:
    rendered = io.StringIO()
    render_markdown(all_rules(), rendered)
    assert DOC.read_text(encoding="utf-8") == rendered.getvalue(), (
        "docs/rules.md is stale: run `dashfix rules --format markdown > docs/rules.md`"
    )


def test_codes_are_unique_well_formed_and_documented() -> None:
    table = rules_by_code()  # raises on a duplicate code
    for code, rule in table.items():
        assert CODE_SHAPE.match(code), code
        assert rule.summary and rule.explanation and rule.fix, code
        assert rule.bug, code
