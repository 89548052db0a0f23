"""A database or object store's source composed with the checks for what it yields.

``check_source`` is what verify runs for a URL, and what the SQLite input kind runs for a
database found under a PATH: the backend's own checks (one module per backend, imported on
first use) plus the lineage checks every store gets. Findings are replayed from the verify
cache when the source supplies a cache key and it is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

from dashfix.cache import memoized
from dashfix.context import CheckContext
from dashfix.findings import Finding
from dashfix.inputs.sources import CheckpointSource, SourceUnavailable
from dashfix.rules.backends import SOURCE_UNREACHABLE

_CHECKS = {
    "sqlite": "dashfix.checks.backends.sqlite",
    "postgres": "dashfix.checks.backends.postgres",
    "redis": "dashfix.checks.backends.redis",
    "s3": "dashfix.checks.backends.s3",
    "dynamodb": "dashfix.checks.backends.dynamodb",
}
"""Backend name -> the module whose ``check(source, ctx, rel)`` reads it."""


def check_source(source: CheckpointSource, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    """Every finding of one store; ``rel`` is where findings put it ("." for a URL, which
    is its own root)."""
    key = source.cache_key()
    if key is None or ctx.cache is None:
        yield from _checked(source, ctx, rel)
        return
    yield from memoized(ctx, source.backend, key.path, rel,
                        lambda: _checked(source, ctx, rel), timeless=_reached, salt=key.salt)


def _checked(source: CheckpointSource, ctx: CheckContext, rel: str) -> Iterator[Finding]:
    module = import_module(_CHECKS[source.backend])
    try:
        yield from module.check(source, ctx, rel)
    except SourceUnavailable as exc:
        yield SOURCE_UNREACHABLE.at(rel, str(exc))
    finally:
        source.close()


def _reached(findings: list[Finding]) -> bool:
    """A store that could not be read is read again next time, never replayed."""
    return not any(finding.code == SOURCE_UNREACHABLE.code for finding in findings)
