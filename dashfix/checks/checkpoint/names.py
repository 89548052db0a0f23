"""Items 4 and 6 (ids): file name vs embedded id, id vs thread, path-unsafe ids, JSON files."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import StoreView, ids_of
from dashfix.findings import Finding
from dashfix.formats.ids import id_matches_thread, is_path_unsafe
from dashfix.inputs.checkpoint_store import (
    CHECKPOINT_VARIANTS,
    DCHK,
    GZIP,
    JSON,
    LEGACY,
    VERSIONED,
    VERSIONED_GZ,
)
from dashfix.rules import checkpoint as ck

SUFFIX = {DCHK: ".bin", LEGACY: ".bin", GZIP: ".bin.gz", VERSIONED: ".v.bin",
          VERSIONED_GZ: ".v.bin.gz", JSON: ".json"}


def check(view: StoreView) -> Iterator[Finding]:
    for record in view.scan.records:
        if record.variant == JSON:
            yield ck.LEGACY_JSON.at(
                view.path(record.name), f"{record.name}: legacy JSON checkpoint; current "
                "DashFlow ignores .json files", thread_id=record.thread_id,
                checkpoint_id=record.checkpoint_id)
        if record.variant not in CHECKPOINT_VARIANTS or record.problem is not None:
            continue
        checkpoint_id, thread_id = record.checkpoint_id, record.thread_id
        assert checkpoint_id is not None and thread_id is not None
        path = view.path(record.name)
        ids = ids_of(record)
        unsafe = [(what, value, reason) for what, value in (("id", checkpoint_id),
                                                              ("thread_id", thread_id))
                  if (reason := is_path_unsafe(value)) is not None]
        for what, value, reason in unsafe:
            yield ck.PATH_UNSAFE_ID.at(
                path, f"{record.name}: embedded {what} {value!r} {reason}", key=what,
                actual=value, **ids)
        expected_name = checkpoint_id + SUFFIX[record.variant]
        if record.name != expected_name and not unsafe:
            yield ck.NAME_ID_MISMATCH.at(
                path, f"{record.name}: the embedded id is {checkpoint_id!r}, so DashFlow "
                f"looks for it as {expected_name!r}", expected=expected_name,
                actual=record.name, fix_command=view.repair, **ids)
        if not id_matches_thread(checkpoint_id, thread_id):
            yield ck.ID_THREAD_MISMATCH.at(
                path, f"{record.name}: id {checkpoint_id!r} does not start with the embedded "
                f"thread_id {thread_id!r} + '_'", expected=f"{thread_id}_...",
                actual=checkpoint_id, **ids)
