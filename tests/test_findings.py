"""Fingerprints of findings on servers: the store counts, the host that served it does not."""

from __future__ import annotations

from dataclasses import replace

from dashfix.findings import Finding, Severity


def _at(root: str) -> Finding:
    finding = Finding(code="DB501", severity=Severity.ERROR, path="#dashflow_checkpoints/c1",
                      message="latest is not the newest", thread_id="t1", checkpoint_id="c1")
    return replace(finding, root=root)


def test_a_database_reached_through_another_host_port_or_user_keeps_its_fingerprints() -> None:
    first = _at("postgresql://alice@db1.example:5432/test?table=dashflow_checkpoints")
    moved = _at("postgresql://bob@10.0.0.7:5433/test?table=dashflow_checkpoints")
    assert first.fingerprint == moved.fingerprint
    assert _at("redis://cache-a:6379/0?prefix=dashflow").fingerprint == \
        _at("redis://cache-b:6380/0?prefix=dashflow").fingerprint


def test_another_database_table_or_prefix_is_another_store() -> None:
    base = _at("postgresql://db1/test?table=dashflow_checkpoints").fingerprint
    assert _at("postgresql://db1/prod?table=dashflow_checkpoints").fingerprint != base
    assert _at("postgresql://db1/test?table=other").fingerprint != base
    assert _at("redis://db1/test?table=dashflow_checkpoints").fingerprint != base
    assert _at("redis://h/0?prefix=a").fingerprint != _at("redis://h/0?prefix=b").fingerprint
