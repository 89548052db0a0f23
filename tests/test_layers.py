"""The import contract: data flows one way, and imports only point down.

    formats/  <-  inputs/ (sources)  <-  checks/  <-  verify  <-  cli/

Every import of a ``dashfix`` module counts, wherever it is written (module level, inside a
function, under TYPE_CHECKING) and also ``import_module("dashfix....")`` by name: a deferred
import is still a dependency. ``make lint`` runs this file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import dashfix

PACKAGE = Path(dashfix.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("dashfix.formats",),
    ("dashfix.inputs",),
    ("dashfix.checks",),
    ("dashfix.verify", "dashfix.gate"),
    ("dashfix.cli",),
)
"""Lowest first. A module may import its own layer and the layers below it."""

SHARED = ("dashfix.findings", "dashfix.rules", "dashfix.errors", "dashfix.context",
          "dashfix.cache", "dashfix.sampling", "dashfix.cpus", "dashfix.native",
          "dashfix.config", "dashfix.progress", "dashfix.results")
"""Modules every layer may use; they import no layer above ``inputs``."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_module":
            for argument in node.args:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    yield node.lineno, argument.value


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def layer_of(module: str) -> int | None:
    for level, prefixes in enumerate(LAYERS):
        if _within(module, prefixes):
            return level
    return None


def violations() -> list[str]:
    found = []
    inputs_layer = layer_of("dashfix.inputs")
    assert inputs_layer is not None
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        own = layer_of(module)
        if own is None and _within(module, SHARED):
            own = inputs_layer
        if own is None:
            continue
        for line, imported in _imports(path):
            target = layer_of(imported)
            if target is not None and target > own:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} "
                             f"imports {imported}, a higher layer")
    return found


def test_imports_only_point_down() -> None:
    assert violations() == []


def test_the_contract_sees_a_deferred_upward_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def late():\n    from dashfix.checks import kinds\n"
                     "    return import_module('dashfix.cli.main')\n")
    assert [name for _, name in _imports(probe)] == ["dashfix.checks", "dashfix.cli.main"]
    assert layer_of("dashfix.inputs.sources") == 1
    assert layer_of("dashfix.checks.kinds") == 2
    assert layer_of("dashfix.verify") == 3
