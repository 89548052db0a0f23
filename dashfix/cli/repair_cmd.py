"""``dashfix rebuild-index``, ``dashfix repair`` and ``dashfix inspect``: one store each."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dashfix.cli.app import app, examples
from dashfix.errors import ExitCode, InputError, UsageError, describe_os_error
from dashfix.formats.variants import INDEX_NAME, LOCK_NAME

if TYPE_CHECKING:
    from dashfix.inputs.backends.redis import RedisSource
    from dashfix.inputs.backends.s3 import S3Source
    from dashfix.inputs.sources import CheckpointSource, SourceUrl
    from dashfix.repair.remote_index import RemoteRebuildOutcome, RemoteRestoreOutcome

FORMATS = ("text", "json")
DEFAULT_STORE = Path("checkpoints")

StoreArgument = Annotated[
    Path | None,
    typer.Argument(
        metavar="[STORE]",
        help="The store folder. Default: ./checkpoints, or the current folder if it is a store.",
        show_default=False,
        readable=False,
    ),
]
WaitOption = Annotated[
    float | None,
    typer.Option(
        "--wait",
        metavar="SECONDS",
        help="Wait up to SECONDS for the store lock instead of exiting with code 4 at once.",
    ),
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", metavar="text|json", help="Output format.")
]


def looks_like_store(folder: Path) -> bool:
    if (folder / INDEX_NAME).exists() or (folder / LOCK_NAME).exists():
        return True
    try:
        return any(path.name.endswith(".bin") for path in folder.iterdir())
    except OSError:
        return False


def resolve_store(given: Path | None) -> Path:
    if given is None:
        if DEFAULT_STORE.is_dir():
            given = DEFAULT_STORE
        elif looks_like_store(Path.cwd()):
            given = Path.cwd()
        else:
            raise InputError(
                "no store given, ./checkpoints does not exist and the current folder is not a "
                "store (no index.bin, .checkpoint.lock or *.bin); pass STORE"
            )
    if given.is_symlink() or not given.is_dir():
        raise InputError(f"{given} is not a store folder")
    _check_readable(given)
    return given


def _check_readable(folder: Path) -> None:
    """Fail with exit code 3 (cannot read) before any work when the folder cannot be listed
    or its entries cannot be reached (a store at mode 000, for example)."""
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as exc:
        raise InputError(f"cannot read store {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        raise InputError(f"cannot read store {folder}: no search (x) permission on the folder")


def check_format(output_format: str) -> None:
    if output_format not in FORMATS:
        raise UsageError(f"unknown --format {output_format!r}; choose text or json")


def check_wait(wait_seconds: float | None) -> None:
    if wait_seconds is not None and wait_seconds < 0:
        raise UsageError("--wait SECONDS must not be negative")


def emit_json(document: Any) -> None:
    from dashfix.osnames import json_text

    sys.stdout.write(json_text(document) + "\n")


@contextmanager
def reading() -> Iterator[None]:
    """An ``OSError`` of a read-only command (a store folder it may not list, ...) as an
    ``InputError`` naming the path and the cause. Writing commands report their own."""
    try:
        yield
    except OSError as exc:
        raise InputError(describe_os_error(exc)) from None


def warn_running_dashflow() -> None:
    from dashfix.repair.apply import RUNNING_DASHFLOW_WARNING

    print(f"dashfix: warning: {RUNNING_DASHFLOW_WARNING}", file=sys.stderr)


@app.command(
    "rebuild-index",
    help=(
        "Rebuild index.bin from the checkpoint files: per thread the latest readable "
        "checkpoint. Prints the old-to-new diff. Takes DashFlow's .checkpoint.lock, keeps a "
        "timestamped backup of the old index and writes atomically. Given an s3:// or "
        "redis:// URL, rebuilds S3Checkpointer's threads/*/index.json or "
        "RedisCheckpointer's ZSETs from the checkpoints, after a backup, each thread under "
        "a condition on what was read (exit 4 when it changed underneath)."
    ),
    epilog=examples(
        "dashfix rebuild-index ./checkpoints --dry-run",
        "dashfix rebuild-index ./checkpoints --wait 30",
        "dashfix rebuild-index 's3://bucket/dashflow' --dry-run",
        "dashfix rebuild-index 'redis://cache:6379/0?prefix=dashflow' --backup zsets.json",
        "dashfix rebuild-index 's3://bucket/dashflow' --restore 20261206T061500Z",
    ),
)
def rebuild_index_command(
    store: Annotated[
        str | None,
        typer.Argument(
            metavar="[STORE|URL]",
            help="The store folder (default: ./checkpoints, or the current folder if it is a "
            "store), or an s3:// or redis:// URL.",
            show_default=False,
        ),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option(
            metavar="auto|embedded|mtime",
            help="auto: embedded timestamp where the tail parse is unambiguous, mtime "
            "elsewhere; embedded: DashFlow's rule only; mtime: file modification time. "
            "Folders only.  [default: auto]",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and diff; write nothing.")
    ] = False,
    wait_seconds: WaitOption = None,
    backup: Annotated[
        Path | None,
        typer.Option(
            "--backup", metavar="FILE",
            help="redis:// only: where the old ZSETs are saved. Default: a "
            "dashfix-redis-backup-*.json in the current folder (printed).",
        ),
    ] = None,
    restore_backup: Annotated[
        str | None,
        typer.Option(
            "--restore", metavar="BACKUP",
            help="s3:// and redis:// only: put back the indexes a rebuild replaced, where "
            "they are still as it wrote them. BACKUP is the session the rebuild printed "
            "(s3://; 'list' lists them) or its backup file (redis://).",
        ),
    ] = None,
    output_format: FormatOption = "text",
) -> int:
    from dashfix.inputs.sources import SourceUrl, parse_locator

    check_format(output_format)
    check_wait(wait_seconds)
    locator = parse_locator(store) if store is not None else None
    if isinstance(locator, SourceUrl):
        if order is not None or wait_seconds is not None:
            raise UsageError("--order and --wait apply to a store folder, not to a URL")
        return _rebuild_remote(locator, dry_run, backup, restore_backup, output_format)
    if backup is not None or restore_backup is not None:
        raise UsageError("--backup and --restore of rebuild-index apply to s3:// and redis:// "
                         "URLs; a folder's rebuild is undone with `dashfix repair STORE "
                         "--restore SESSION`")
    return _rebuild_folder(locator, order or "auto", dry_run, wait_seconds, output_format)


def _rebuild_folder(store: Path | None, order: str, dry_run: bool, wait_seconds: float | None,
                    output_format: str) -> int:
    from dashfix.inputs.checkpoint_files.gc_pause import paused_gc
    from dashfix.repair.apply import rebuild_index
    from dashfix.repair.index_rebuild import Order

    try:
        chosen_order = Order(order)
    except ValueError:
        raise UsageError(f"--order must be auto, embedded or mtime, not {order!r}") from None
    folder = resolve_store(store)
    warn_running_dashflow()
    # The collector stays paused to the end: its first full collection after the scan would
    # walk every row (~0.04 s of CPU at 1,000,000 files); what little cyclic garbage the run
    # makes goes at exit.
    with paused_gc():
        with reading():
            outcome = rebuild_index(folder, chosen_order, dry_run=dry_run,
                                    wait_seconds=wait_seconds)
        if output_format == "json":
            emit_json(outcome.to_dict())
        else:
            from dashfix.report import repair_text  # rich: only to render text

            repair_text.render_rebuild(outcome, sys.stdout)
    return int(outcome.exit_code())


REBUILDABLE = ("s3", "redis")
"""The URL stores whose index is DashFlow's own state beside the checkpoints."""


def _rebuild_remote(url: SourceUrl, dry_run: bool, backup: Path | None,
                    restore_backup: str | None, output_format: str) -> int:
    from dashfix.inputs.sources import open_store, source_type
    from dashfix.report import repair_text

    kind = source_type(url)
    if kind.name not in REBUILDABLE:
        raise UsageError(
            f"{url.display}: a {kind.name} checkpoint store is its own index (DashFlow's "
            "get_latest and list query the checkpoints themselves), so there is nothing to "
            f"rebuild. Run `dashfix verify '{url.display}'`: each finding's fix says what "
            "to do.")
    if backup is not None and kind.name != "redis":
        raise UsageError("--backup applies to redis:// URLs; an S3 rebuild keeps its backup "
                         "under PREFIX/dashfix-backups/ in the bucket")
    if restore_backup is not None and (dry_run or backup is not None):
        raise UsageError("--restore cannot be combined with --dry-run or --backup")
    source = open_store(url)
    try:
        if restore_backup is not None:
            return _restore_remote(source, restore_backup, output_format)
        outcome = _remote_rebuild(source, dry_run, backup)
    finally:
        source.close()
    if output_format == "json":
        emit_json(outcome.to_dict())
    else:
        repair_text.render_remote_rebuild(outcome, sys.stdout)
    return int(outcome.exit_code())


def _remote_rebuild(source: CheckpointSource, dry_run: bool,
                    backup: Path | None) -> RemoteRebuildOutcome:
    # Each backend's module imports its client: only the one of this URL's scheme is loaded.
    if source.backend == "redis":
        from dashfix.repair import redis_index

        return redis_index.rebuild_index(_redis(source), dry_run=dry_run, backup=backup)
    from dashfix.repair import s3_index

    return s3_index.rebuild_index(_s3(source), dry_run=dry_run)


def _redis(source: CheckpointSource) -> RedisSource:
    from dashfix.inputs.backends.redis import RedisSource

    assert isinstance(source, RedisSource)
    return source


def _s3(source: CheckpointSource) -> S3Source:
    from dashfix.inputs.backends.s3 import S3Source

    assert isinstance(source, S3Source)
    return source


def _restore_remote(source: CheckpointSource, backup: str, output_format: str) -> int:
    from dashfix.report import repair_text

    outcome: RemoteRestoreOutcome
    if source.backend == "redis":
        from dashfix.repair import redis_index

        outcome = redis_index.restore_backup(_redis(source), Path(backup))
    else:
        from dashfix.repair import s3_index

        if backup == "list":
            sessions = list(s3_index.list_sessions(_s3(source)))
            if output_format == "json":
                emit_json({"store": source.label, "sessions": sessions})
            else:
                repair_text.render_remote_sessions(source.label, sessions, sys.stdout)
            return int(ExitCode.CLEAN)
        outcome = s3_index.restore_backup(_s3(source), backup)
    if output_format == "json":
        emit_json(outcome.to_dict())
    else:
        repair_text.render_remote_restore(outcome, sys.stdout)
    return int(outcome.exit_code())


@app.command(
    "repair",
    help=(
        "Plan the repairs of a checkpoint store and, with --apply, carry them out: fix "
        "damaged magics, promote complete temps whose checkpoint is missing, move corrupt and "
        "foreign files and orphan temps into .dashfix-quarantine/ (never deleted), rebuild "
        "index.bin. Holds .checkpoint.lock while writing; --restore undoes a session."
    ),
    epilog=examples(
        "dashfix repair ./checkpoints            # the plan; nothing is written",
        "dashfix repair ./checkpoints --apply",
        "dashfix repair ./checkpoints --restore list",
    ),
)
def repair_command(
    store: StoreArgument = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Carry out the plan (default: only print it).")
    ] = False,
    restore_session: Annotated[
        str | None,
        typer.Option(
            "--restore",
            metavar="SESSION",
            help="Undo the repair session SESSION (a folder name under .dashfix-quarantine/), "
            "interrupted ones too; 'list' lists the sessions and their state.",
        ),
    ] = None,
    wait_seconds: WaitOption = None,
    output_format: FormatOption = "text",
) -> int:
    from dashfix.repair.apply import apply_repair, preview_repair

    check_format(output_format)
    check_wait(wait_seconds)
    folder = resolve_store(store)
    if restore_session is not None:
        if apply:
            raise UsageError("--restore and --apply cannot be combined")
        return _restore(folder, restore_session, wait_seconds, output_format)
    warn_running_dashflow()
    with reading():
        outcome = (apply_repair(folder, wait_seconds=wait_seconds) if apply
                   else preview_repair(folder))
    if output_format == "json":
        emit_json(outcome.to_dict())
    else:
        from dashfix.report import repair_text  # rich: only to render text

        repair_text.render_repair(outcome, sys.stdout)
    return int(outcome.exit_code())


def _restore(folder: Path, session: str, wait_seconds: float | None, output_format: str) -> int:
    from dashfix.repair.apply import restore
    from dashfix.repair.quarantine import list_sessions

    if session == "list":
        with reading():
            sessions = list_sessions(folder)
        if output_format == "json":
            emit_json({"store": str(folder), "sessions": sessions})
            return int(ExitCode.CLEAN)
        if not sessions:
            print(f"no repair sessions in {folder}")
        for found in sessions:
            restored = f", restored {found['restored']}" if found["restored"] else ""
            print(f"{found['session']}  {found['command']}: {found['state']}, "
                  f"{found['done']} of {found['steps']} step(s) done{restored}")
        return int(ExitCode.CLEAN)
    warn_running_dashflow()
    outcome = restore(folder, session, wait_seconds=wait_seconds)
    if output_format == "json":
        emit_json({"store": str(folder), "session": session, "restored": outcome.restored,
                   "skipped": outcome.skipped, "already_restored": outcome.already_restored,
                   "notes": outcome.notes})
    else:
        for line in outcome.notes:
            print(line)
        if outcome.already_restored is not None:
            print(f"session {session} was already restored ({outcome.already_restored}); "
                  "nothing to do")
        elif not outcome.restored and not outcome.skipped:
            print(f"session {session} changed nothing that could be undone; nothing to do")
        for name in outcome.restored:
            print(f"restored {name}")
        for line in outcome.skipped:
            print(f"skipped {line}")
    return int(ExitCode.FAILURE if outcome.skipped else ExitCode.CLEAN)


@app.command(
    "inspect",
    help=(
        "Show what is inside one checkpoint file (header, ids, node, timestamp, parent, "
        "metadata, state byte range), a thread's history as a parent tree with the index's "
        "choice marked (STORE --thread T), or one line per thread (STORE). Read-only."
    ),
    epilog=examples(
        "dashfix inspect ./checkpoints",
        "dashfix inspect ./checkpoints --thread alpha",
        "dashfix inspect ./checkpoints/alpha_1a2b3c4d5e6f0a1b_chkpt2.bin --format json",
    ),
)
def inspect_command(
    target: Annotated[
        Path | None,
        typer.Argument(metavar="[FILE|STORE]",
                       help="A checkpoint file or a store folder (default: as for repair).",
                       show_default=False, readable=False),
    ] = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", "-t", metavar="THREAD", help="Show this thread's history."),
    ] = None,
    output_format: FormatOption = "text",
) -> int:
    from dashfix.inspect import inspect_file, thread_history
    from dashfix.repair.apply import rebuild_index
    from dashfix.repair.index_rebuild import Order
    from dashfix.report import repair_text

    check_format(output_format)
    if target is not None and not target.is_dir():
        if thread is not None:
            raise UsageError("--thread needs a STORE folder, not a file")
        with reading():
            found = inspect_file(target)
        if output_format == "json":
            emit_json(found.to_dict())
        else:
            repair_text.render_file(found, sys.stdout)
        return int(ExitCode.CLEAN)
    folder = resolve_store(target)
    if thread is not None:
        with reading():
            history = thread_history(folder, thread)
        if not history.entries:
            raise InputError(f"no checkpoint file of thread {thread!r} in {folder}")
        if output_format == "json":
            emit_json(history.to_dict())
        else:
            repair_text.render_thread(history, sys.stdout)
        return int(ExitCode.CLEAN)
    with reading():
        overview = rebuild_index(folder, Order.EMBEDDED, dry_run=True)
    if output_format == "json":
        emit_json(overview.to_dict())
    else:
        repair_text.render_store_overview(overview, sys.stdout)
    return int(ExitCode.CLEAN)
