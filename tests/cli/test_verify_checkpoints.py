"""Acceptance: `dashfix verify` on stores holding exactly one fault each (CK codes).

Every store is built in tmp_path with the fixture builder; each case asserts the exit code
and the exact set of finding codes of the real CLI's JSON output.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dashfix import native
from dashfix.formats import dchk
from dashfix.formats.bincode import Writer, encode_string
from dashfix.formats.checkpoint import encode_tail
from dashfix.formats.ids import IdScheme
from dashfix.formats.index import IndexEntry
from dashfix.rules.checkpoint import RULES
from dashfix.testing.checkpoints import (
    BASE_SECS,
    DEFAULT_PROC,
    Header,
    StoreBuilder,
    WrittenCheckpoint,
    append_bytes,
    damage_magic,
    flip_byte,
    set_declared_length,
    set_version,
    truncate,
)

INTEROP = Path(__file__).resolve().parents[2] / "fixtures" / "interop"
OTHER_PROC = "ffee00112233abcd"


def _healthy(store: StoreBuilder) -> list[WrittenCheckpoint]:
    return store.chain("alpha", 3)


def _indexed(store: StoreBuilder, **extra: WrittenCheckpoint) -> None:
    entries = store.latest_entries()
    for thread, written in extra.items():
        entries[thread] = IndexEntry(written.checkpoint_id, written.secs, written.nanos)
    store.index(entries)
    store.lock()


Build = Callable[[StoreBuilder], None]


def _replace(checkpoint: Path, name: str, make: Callable[[Path], Any]) -> None:
    """The store's ``name`` (index.bin, .checkpoint.lock) made anew by ``make``."""
    entry = checkpoint.with_name(name)
    entry.unlink()
    make(entry)


def _healthy_then(damage: Callable[[list[WrittenCheckpoint]], Any]) -> Build:
    def build(store: StoreBuilder) -> None:
        chain = _healthy(store)
        _indexed(store)
        damage(chain)

    return build


def _legacy_first(damage: Callable[[Path], Any]) -> Callable[[StoreBuilder], None]:
    def build(store: StoreBuilder) -> None:
        first = store.checkpoint("alpha", header=Header.LEGACY)
        store.chain("alpha", 2)
        _indexed(store)
        damage(first.path)

    return build


def _ambiguous(store: StoreBuilder) -> None:
    secs = 0x68000000  # its bytes are valid UTF-8, so the real tail can be a metadata value
    real_tail = encode_tail("step", secs, 0, None, {"a": "b"})
    state = (Writer().string("x").u64(secs).u32(0).u8(0).u64(1).string("k")
             .u64(len(real_tail)).getvalue())
    store.checkpoint("amb", state=state, metadata={"a": "b"}, parent=None, secs=secs,
                     node="step")
    _indexed(store)


def _tail_unparsed(store: StoreBuilder) -> None:
    _healthy(store)
    checkpoint_id = f"alpha_{DEFAULT_PROC}_chkpt7"
    payload = encode_string(checkpoint_id) + encode_string("alpha") + bytes(range(1, 200))
    store.write_raw(f"{checkpoint_id}.bin", dchk.wrap(payload))
    _indexed(store)


def _invalid_utf8_id(store: StoreBuilder) -> None:
    _healthy(store)
    payload = Writer().u64(4).raw(b"\xff\xfe\xfd\xfc").getvalue() + encode_string("alpha")
    store.write_raw("bad.bin", dchk.wrap(payload + bytes(40)))
    _indexed(store)


def _name_mismatch(store: StoreBuilder) -> None:
    store.checkpoint("alpha", name="renamed.bin")
    store.chain("alpha", 2)
    _indexed(store)


def _id_thread_mismatch(store: StoreBuilder) -> None:
    store.chain("alpha", 2)
    store.checkpoint("alpha", checkpoint_id=f"zeta_{DEFAULT_PROC}_chkpt0")
    _indexed(store)


def _unsafe_thread(store: StoreBuilder) -> None:
    _healthy(store)
    store.checkpoint("a:b")
    entries = store.latest_entries()
    del entries["a:b"]
    store.index(entries)


def _unsafe_index_entry(store: StoreBuilder) -> None:
    _healthy(store)
    entries = list(store.latest_entries().items())
    entries.append(("../evil", IndexEntry("../evil_x", BASE_SECS, 0)))
    store.index(entries)


def _promotable_temp(store: StoreBuilder) -> None:
    _healthy(store)
    beta = store.checkpoint("beta")
    store.temp_checkpoint(beta, remove_target=True)
    _indexed(store)


def _orphan_temp(store: StoreBuilder) -> None:
    _healthy(store)
    _indexed(store)
    store.temp_index()


def _incomplete_temp(store: StoreBuilder) -> None:
    chain = _healthy(store)
    _indexed(store)
    store.temp_checkpoint(chain[-1], complete=False)


def _thread_not_indexed(store: StoreBuilder) -> None:
    _healthy(store)
    alpha = store.latest_entries()["alpha"]
    store.checkpoint("beta")
    store.index({"alpha": alpha})


def _entry_file_missing(store: StoreBuilder) -> None:
    _healthy(store)
    store.index({"alpha": IndexEntry(f"alpha_{DEFAULT_PROC}_chkpt9", BASE_SECS + 9, 0)})


def _entry_stale(store: StoreBuilder) -> None:
    chain = _healthy(store)
    older = chain[1]
    store.index({"alpha": IndexEntry(older.checkpoint_id, older.secs, 0)})


def _entry_time_differs(store: StoreBuilder) -> None:
    chain = _healthy(store)
    store.index({"alpha": IndexEntry(chain[-1].checkpoint_id, chain[-1].secs + 100, 0)})


def _ghost_thread(store: StoreBuilder) -> None:
    _healthy(store)
    entries = store.latest_entries()
    entries["ghost"] = IndexEntry(f"ghost_{DEFAULT_PROC}_chkpt0", BASE_SECS, 0)
    store.index(entries)


def _duplicate_thread(store: StoreBuilder) -> None:
    _healthy(store)
    alpha = store.latest_entries()["alpha"]
    store.index([("alpha", alpha), ("alpha", alpha)])


def _parent_newer(store: StoreBuilder) -> None:
    store.checkpoint("alpha", secs=BASE_SECS + 100)
    store.checkpoint("alpha", secs=BASE_SECS + 10)
    _indexed(store)


def _fork(store: StoreBuilder) -> None:
    root = store.checkpoint("alpha")
    store.checkpoint("alpha", parent=root.checkpoint_id)
    store.checkpoint("alpha", parent=root.checkpoint_id)
    _indexed(store)


def _dangling(store: StoreBuilder) -> None:
    store.checkpoint("alpha", parent=f"alpha_{DEFAULT_PROC}_chkpt99")
    _indexed(store)


def _cross_thread(store: StoreBuilder) -> None:
    beta = store.checkpoint("beta", scheme=IdScheme.COUNTER)
    store.checkpoint("alpha", scheme=IdScheme.COUNTER, parent=beta.checkpoint_id)
    _indexed(store)


def _cross_thread_current_scheme(store: StoreBuilder) -> None:
    beta = store.checkpoint("beta")
    store.checkpoint("alpha", parent=beta.checkpoint_id)
    _indexed(store)


def _duplicate_id(store: StoreBuilder) -> None:
    chain = _healthy(store)
    _indexed(store)
    shutil.copyfile(chain[0].path, store.root / "copy.bin")


def _counter_inversion(store: StoreBuilder) -> None:
    store.checkpoint("alpha", secs=BASE_SECS + 10)
    store.checkpoint("alpha", secs=BASE_SECS + 5, parent=None)
    store.checkpoint("alpha", secs=BASE_SECS + 20)
    _indexed(store)


def _restart_collision(store: StoreBuilder) -> None:
    store.chain("demo", 4, scheme=IdScheme.COUNTER)
    store.restart()
    store.chain("demo", 2, scheme=IdScheme.COUNTER)
    _indexed(store)


def _concurrent(store: StoreBuilder) -> None:
    store.checkpoint("alpha")
    store.checkpoint("alpha", proc=OTHER_PROC)
    store.checkpoint("alpha")
    store.checkpoint("alpha", proc=OTHER_PROC)
    _indexed(store)


def _unlocked_variant(store: StoreBuilder) -> None:
    _healthy(store)
    _indexed(store, beta=store.versioned_checkpoint("beta", compress=True))


def _variant_blocks_delete(store: StoreBuilder) -> None:
    _healthy(store)
    _indexed(store, beta=store.versioned_checkpoint("beta"))


def _gzip_truncated(store: StoreBuilder) -> None:
    first = store.gzip_checkpoint("alpha")
    latest = store.gzip_checkpoint("alpha")
    _indexed(store, alpha=latest)
    truncate(first.path, first.path.stat().st_size - 10)


def _gzip_bomb(store: StoreBuilder) -> None:
    store.write_raw("huge.bin.gz", gzip.compress(bytes(100 * 1024 * 1024 + 1), 1))


def _versioned_bad_json(store: StoreBuilder) -> None:
    store.versioned_checkpoint("v", data_json="{not json")
    _indexed(store, v=store.versioned_checkpoint("v"))


def _versioned_mixed_compression(store: StoreBuilder) -> None:
    store.versioned_checkpoint("v")
    _indexed(store, v=store.versioned_checkpoint("v", compress=True))


def _versioned_schema_versions(store: StoreBuilder) -> None:
    store.versioned_checkpoint("v", schema_version=1)
    _indexed(store, v=store.versioned_checkpoint("v", schema_version=2))


def _legacy_json(store: StoreBuilder) -> None:
    _healthy(store)
    _indexed(store)
    store.json_checkpoint("old")


def _version_zero(store: StoreBuilder) -> None:
    store.checkpoint("alpha", version=0)
    store.chain("alpha", 2)
    _indexed(store)


def _legacy(store: StoreBuilder) -> None:
    store.checkpoint("alpha", header=Header.LEGACY)
    store.chain("alpha", 2)
    _indexed(store)


# (case id, builder, exit code, codes). Cases with two codes hold one fault that necessarily
# shows in two ways (the comment says why).
CASES: list[tuple[str, Callable[[StoreBuilder], None], int, set[str]]] = [
    ("zero-filled", _healthy_then(lambda c: c[0].path.with_name("crashed.bin").write_bytes(
        bytes(4096))), 1, {"CK100"}),
    ("too-small", _healthy_then(lambda c: c[0].path.write_bytes(b"DCHK\x01")), 1, {"CK101"}),
    ("version", _healthy_then(lambda c: set_version(c[0].path, 2)), 1, {"CK102"}),
    ("length", _healthy_then(lambda c: set_declared_length(c[0].path, 5)), 1, {"CK103"}),
    ("crc", _healthy_then(lambda c: flip_byte(c[0].path, 60)), 1, {"CK104"}),
    ("magic", _healthy_then(lambda c: damage_magic(c[0].path)), 1, {"CK105"}),
    ("version-zero", _version_zero, 0, {"CK106"}),
    ("legacy", _legacy, 0, {"CK107"}),
    ("legacy-truncated", _legacy_first(lambda p: truncate(p, p.stat().st_size - 10)), 1,
     {"CK108"}),
    ("legacy-garbage", _legacy_first(lambda p: append_bytes(p, b"garbage!")), 1, {"CK109"}),
    ("invalid-utf8-id", _invalid_utf8_id, 1, {"CK110"}),
    ("tail-unparsed", _tail_unparsed, 0, {"CK111"}),
    ("tail-ambiguous", _ambiguous, 0, {"CK112"}),
    ("name-mismatch", _name_mismatch, 1, {"CK113"}),
    ("id-thread", _id_thread_mismatch, 0, {"CK114"}),
    ("foreign", _healthy_then(lambda c: c[0].path.with_name("notes.bin").write_bytes(b"\xff" * 64)),
     1, {"CK115"}),
    ("empty-bin", _healthy_then(lambda c: c[0].path.with_name("empty.bin").write_bytes(b"")),
     1, {"CK115"}),
    ("bin-folder", _healthy_then(lambda c: c[0].path.with_name("folder.bin").mkdir()), 1,
     {"CK116"}),
    # built at test time: git cannot hold a FIFO (tests/cli/test_odd_entries.py has them all)
    ("bin-fifo", _healthy_then(lambda c: os.mkfifo(c[0].path.with_name("pipe.bin"))), 1,
     {"CK127"}),
    # named like a checkpoint, DashFlow reads through it: an error
    ("symlink", _healthy_then(lambda c: c[0].path.with_name("link.bin").symlink_to("/etc")), 1,
     {"CK117"}),
    ("symlink-other-name", _healthy_then(lambda c: c[0].path.with_name("notes.txt").symlink_to(
        "/etc")), 0, {"CK117"}),
    ("unsafe-id", _unsafe_thread, 1, {"CK119"}),
    ("unsafe-index-entry", _unsafe_index_entry, 1, {"CK120"}),
    ("promotable-temp", _promotable_temp, 0, {"CK121"}),
    ("index-temp", _orphan_temp, 0, {"CK122"}),
    ("index-folder", _healthy_then(lambda c: _replace(c[0].path, "index.bin", os.mkdir)), 1,
     {"CK126"}),
    # the fixture fixtures/lock-folder and tests/cli/test_odd_entries.py have the others
    ("lock-folder", _healthy_then(lambda c: _replace(c[0].path, ".checkpoint.lock", os.mkdir)),
     1, {"CK128"}),
    # DashFlow would follow it; dashfix's lock never does (repairs stop and say so)
    ("lock-symlink", _healthy_then(lambda c: _replace(
        c[0].path, ".checkpoint.lock", lambda lock: lock.symlink_to("/tmp/elsewhere.lock"))),
     0, {"CK117"}),
    ("incomplete-temp", _incomplete_temp, 0, {"CK122"}),
    # what a killed dashfix write leaves: its hidden temp beside the target
    ("dashfix-leftover", _healthy_then(lambda c: c[0].path.with_name(
        ".index.bin.0f1e2d3c-4b5a-4697-8877-665544332211.dashfix.tmp").write_bytes(b"partial")),
     0, {"CK123"}),
    ("corrupt-index", _healthy_then(lambda c: c[0].path.with_name("index.bin").write_bytes(
        b"\x01\x02")), 1, {"CK124"}),
    ("absurd-index-count", _healthy_then(lambda c: c[0].path.with_name("index.bin").write_bytes(
        (2**62).to_bytes(8, "little") + bytes(30))), 1, {"CK124"}),
    ("no-index", _healthy, 0, {"CK125"}),
    ("thread-not-indexed", _thread_not_indexed, 0, {"CK130"}),
    ("entry-file-missing", _entry_file_missing, 1, {"CK131"}),
    # the corrupt latest file is itself CK104, and the index names it: CK132
    ("entry-corrupt", _healthy_then(lambda c: flip_byte(c[-1].path, 60)), 1, {"CK104", "CK132"}),
    ("entry-stale", _entry_stale, 1, {"CK133"}),
    ("entry-time", _entry_time_differs, 0, {"CK134"}),
    ("ghost-thread", _ghost_thread, 1, {"CK135"}),
    ("duplicate-thread", _duplicate_thread, 0, {"CK136"}),
    ("parent-newer", _parent_newer, 1, {"CK140"}),
    # a restart with {thread}_{n} ids: the overwritten parent and the counter inversion
    ("restart-collision", _restart_collision, 1, {"CK140", "CK145"}),
    ("fork", _fork, 0, {"CK141"}),
    ("dangling", _dangling, 0, {"CK142"}),
    ("cross-thread", _cross_thread, 0, {"CK143"}),
    ("cross-thread-current-scheme", _cross_thread_current_scheme, 0, {"CK143"}),
    # a copy under another name: the copy's name is wrong and its id duplicates the original
    ("duplicate-id", _duplicate_id, 1, {"CK113", "CK144"}),
    ("counter-order", _counter_inversion, 0, {"CK145"}),
    ("concurrent", _concurrent, 0, {"CK150"}),
    ("unlocked-variant", _unlocked_variant, 0, {"CK151"}),
    # a .v.bin next to DCHK files: an unlocked writer, and a file FileCheckpointer cannot read
    ("delete-blocked", _variant_blocks_delete, 1, {"CK151", "CK155"}),
    ("gzip-truncated", _gzip_truncated, 1, {"CK160"}),
    ("gzip-too-large", _gzip_bomb, 1, {"CK161"}),
    ("versioned-bad-json", _versioned_bad_json, 1, {"CK162"}),
    ("compression-mismatch", _versioned_mixed_compression, 0, {"CK164"}),
    ("schema-versions", _versioned_schema_versions, 0, {"CK165"}),
    ("legacy-json", _legacy_json, 0, {"CK166"}),
]


def _verify(cli: Callable[..., Any], path: Path) -> tuple[int, list[dict[str, Any]]]:
    result = cli("verify", str(path), "--format", "json")
    return result.exit_code, result.json()["findings"]


@pytest.mark.parametrize(("build", "exit_code", "codes"),
                         [pytest.param(b, e, c, id=i) for i, b, e, c in CASES])
def test_each_fault_gives_exactly_its_codes(
    tmp_path: Path, cli: Callable[..., Any], build: Callable[[StoreBuilder], None],
    exit_code: int, codes: set[str],
) -> None:
    build(StoreBuilder(tmp_path / "store"))
    code, findings = _verify(cli, tmp_path)
    assert {f["code"] for f in findings} == codes, findings
    assert code == exit_code
    for finding in findings:
        inside = finding["path_in_root"]
        assert inside == "store" or inside.startswith("store/"), finding
        assert finding["message"]


def test_a_symlink_dashflow_reads_as_a_checkpoint_or_index_is_an_error(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """DashFlow reads ``*.bin`` and ``index.bin`` through a link (one to /dev/zero hangs it);
    dashfix only lstats and reads the link, so verify ends and names its target."""
    def links(chain: list[WrittenCheckpoint]) -> None:
        folder = chain[0].path.parent
        (folder / "ghost_1a2b3c4d5e6f0a1b_chkpt0.bin").symlink_to("/dev/zero")
        (folder / "ghost_1a2b3c4d5e6f0a1b_chkpt1.v.bin.gz").symlink_to("/dev/zero")
        _replace(chain[0].path, "index.bin", lambda index: index.symlink_to("/dev/zero"))
        _replace(chain[0].path, ".checkpoint.lock", lambda lock: lock.symlink_to("/dev/zero"))
        (folder / "notes.txt").symlink_to("/dev/zero")

    _healthy_then(links)(StoreBuilder(tmp_path / "store"))
    code, findings = _verify(cli, tmp_path)
    severities = {f["path_in_root"].removeprefix("store/"): f["severity"]
                  for f in findings if f["code"] == "CK117"}
    assert severities == {
        "ghost_1a2b3c4d5e6f0a1b_chkpt0.bin": "error",
        "ghost_1a2b3c4d5e6f0a1b_chkpt1.v.bin.gz": "error",
        "index.bin": "error",
        ".checkpoint.lock": "warning",
        "notes.txt": "warning",
    }
    assert all("'/dev/zero' was not followed" in f["message"]
               for f in findings if f["code"] == "CK117")
    assert code == 1


def test_every_ck_code_has_an_acceptance_case() -> None:
    covered = {code for *_, codes in CASES for code in codes} | {"CK118"}
    assert covered == {rule.code for rule in RULES}


def test_healthy_store_is_clean_and_says_so(tmp_path: Path, cli: Callable[..., Any]) -> None:
    store = StoreBuilder(tmp_path / "checkpoints")
    for thread in ("alpha", "beta", "gamma"):
        store.chain(thread, 5)
    _indexed(store)
    result = cli("verify", str(tmp_path / "checkpoints"))
    assert result.exit_code == 0
    assert "15 files, 3 threads checked: no problems found" in result.stdout.replace("\n", " ")
    document = cli("verify", str(tmp_path), "--format", "json").json()
    assert document["findings"] == []
    assert document["summary"]["checked"] == {"files": 15, "stores": 1, "threads": 3}


def test_fix_command_names_the_store_as_typed(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _healthy_then(lambda c: flip_byte(c[0].path, 60))(StoreBuilder(tmp_path / "run1" / "ckpt"))
    monkeypatch.chdir(tmp_path)
    _, findings = _verify(cli, Path("."))
    (finding,) = findings
    assert finding["path_in_root"] == f"run1/ckpt/alpha_{DEFAULT_PROC}_chkpt0.bin"
    # The plan first: the fix shows what repair would do; the plan says how to apply it.
    assert finding["fix"] == "dashfix repair run1/ckpt"
    assert finding["offset"] == dchk.CRC_OFFSET


def test_unreadable_file_exits_3(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = _healthy(StoreBuilder(tmp_path / "store"))
    _indexed(StoreBuilder(tmp_path / "store"))
    target = chain[0].path
    target.chmod(0)
    if os.access(target, os.R_OK):  # root reads anything: make the open fail instead
        real_open = os.open

        def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if os.fspath(path).endswith(target.name):
                raise PermissionError(13, "Permission denied")
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
        # The C reader opens files itself; the refusal is simulated in Python only.
        monkeypatch.setattr(native, "MODULE", None)
    code, findings = _verify(cli, tmp_path)
    assert code == 3
    assert "CK118" in {f["code"] for f in findings}
    unreadable = [f for f in findings if f["code"] == "CK118"]
    assert unreadable[0]["path_in_root"] == f"store/{target.name}"


@pytest.mark.parametrize(("name", "exit_code", "codes"), [
    ("ckpt-healthy", 0, set()),
    ("ckpt-crc-flip", 1, {"CK104"}),
    ("ckpt-legacy", 0, {"CK107"}),
    ("ckpt-corrupt-index", 1, {"CK124"}),
    ("ckpt-collision-restart", 1, {"CK140", "CK145"}),
    ("ckpt-versioned", 0, set()),
])
def test_interop_stores(cli: Callable[..., Any], name: str, exit_code: int,
                        codes: set[str]) -> None:
    code, findings = _verify(cli, INTEROP / name)
    assert {f["code"] for f in findings} == codes
    assert code == exit_code


def test_collision_restart_names_the_overwritten_parent(cli: Callable[..., Any]) -> None:
    _, findings = _verify(cli, INTEROP / "ckpt-collision-restart")
    (newer,) = [f for f in findings if f["code"] == "CK140"]
    assert newer["checkpoint_id"] == "demo_1_3"
    assert newer["thread_id"] == "demo_1"
    assert "demo_1_2" in newer["message"]


def test_artifact_folder_with_several_stores(tmp_path: Path, cli: Callable[..., Any]) -> None:
    for run in ("run1", "run2"):
        _healthy_then(lambda c: None)(StoreBuilder(tmp_path / run / "checkpoints"))
    flip_byte(tmp_path / "run2" / "checkpoints" / f"alpha_{DEFAULT_PROC}_chkpt0.bin", 60)
    document = cli("verify", str(tmp_path), "--format", "json").json()
    assert document["summary"]["checked"]["stores"] == 2
    assert [f["path_in_root"] for f in document["findings"]] == [
        f"run2/checkpoints/alpha_{DEFAULT_PROC}_chkpt0.bin"
    ]


def test_single_checkpoint_file_as_path(tmp_path: Path, cli: Callable[..., Any]) -> None:
    chain = _healthy(StoreBuilder(tmp_path / "store"))
    flip_byte(chain[1].path, 60)
    code, findings = _verify(cli, chain[1].path)
    assert code == 1
    assert [f["code"] for f in findings] == ["CK104"]


def test_demo_folder_shows_its_known_faults(cli: Callable[..., Any]) -> None:
    demo = INTEROP.parent / "demo"
    result = cli("verify", str(demo), "--format", "json")
    assert result.exit_code == 1
    store_findings = sorted((f["path_in_root"].split("/")[0], f["code"])
                            for f in result.json()["findings"] if f["code"].startswith("CK"))
    assert store_findings == [("run2", "CK104"), ("run2", "CK133"), ("run3", "CK121"),
                              ("run3", "CK140"), ("run3", "CK145")]


def test_demo_generator_reproduces_the_committed_folder(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_demo", INTEROP.parent / "make_demo.py")
    assert spec is not None and spec.loader is not None
    make_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_demo)
    make_demo.build(tmp_path / "demo")
    committed = INTEROP.parent / "demo"
    for path in (tmp_path / "demo").rglob("*"):
        if path.is_file():
            twin = committed / path.relative_to(tmp_path / "demo")
            assert path.read_bytes() == twin.read_bytes()
