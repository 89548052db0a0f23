"""Items 4 and 6 (ids): file name vs embedded id, id vs thread, path-unsafe ids, JSON files."""

from __future__ import annotations

from collections.abc import Iterator

from dashfix.checks.checkpoint.view import IdParts, StoreView, ids_of
from dashfix.findings import Finding
from dashfix.formats.ids import IdScheme, id_matches_thread, is_path_unsafe
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


def _own_id(checkpoint_id: str, thread_id: str, parsed: IdParts | None) -> bool:
    # Current-scheme ids are by far the most common: skip the regexes for them.
    if parsed is not None and parsed[0] is IdScheme.CURRENT:
        return checkpoint_id.rsplit("_", 2)[0] == thread_id
    return id_matches_thread(checkpoint_id, thread_id)


def check(view: StoreView) -> Iterator[Finding]:
    for record, parsed in zip(view.scan.records, view.id_parts, strict=True):
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
        if not _own_id(checkpoint_id, thread_id, parsed):
            yield ck.ID_THREAD_MISMATCH.at(
                path, f"{record.name}: id {checkpoint_id!r} does not start with the embedded "
                f"thread_id {thread_id!r} + '_'", expected=f"{thread_id}_...",
                actual=checkpoint_id, **ids)
