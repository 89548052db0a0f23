from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashfix.formats import dchk
from dashfix.formats.checkpoint import parse_tail, read_head
from dashfix.formats.dchk import IntegrityErrorKind
from dashfix.formats.ids import IdScheme, parse_id
from dashfix.formats.index import IndexEntry, decode_index, decode_index_entries
from dashfix.formats.variants import (
    Variant,
    classify,
    decode_legacy_json,
    decode_versioned,
    gunzip_bounded,
    parse_temp_name,
)
from dashfix.testing.checkpoints import (
    AGENT_STATE_OVERHEAD,
    BASE_SECS,
    Header,
    StoreBuilder,
    WrittenCheckpoint,
    agent_state,
    append_bytes,
    build_large_store,
    damage_magic,
    flip_byte,
    set_declared_length,
    set_mtime,
    set_version,
    sized_agent_state,
    truncate,
)


def read_back(written: WrittenCheckpoint) -> None:
    """The decoders recover exactly what the builder says it wrote."""
    data = written.path.read_bytes()
    payload = data[dchk.HEADER_SIZE :] if dchk.is_wrapped(data) else data
    assert payload == written.payload
    head = read_head(payload)
    assert (head.checkpoint_id, head.thread_id) == (written.checkpoint_id, written.thread_id)
    tail = parse_tail(payload, head).unique
    assert tail is not None
    assert (tail.node, tail.secs, tail.nanos, tail.parent_id, tail.metadata) == (
        written.node,
        written.secs,
        written.nanos,
        written.parent_id,
        written.metadata,
    )
    assert payload[head.state_start : tail.state_end] == written.state


def test_chain_writes_linked_dchk_checkpoints(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path / "store")
    items = store.chain("alpha", 3)
    assert [item.checkpoint_id for item in items] == [
        f"alpha_1a2b3c4d5e6f0a1b_chkpt{n}" for n in range(3)
    ]
    assert [item.parent_id for item in items] == [
        None,
        items[0].checkpoint_id,
        items[1].checkpoint_id,
    ]
    assert [item.secs for item in items] == [BASE_SECS, BASE_SECS + 1, BASE_SECS + 2]
    assert [item.node for item in items] == ["plan", "research", "draft"]
    for item in items:
        assert item.path.name == f"{item.checkpoint_id}.bin"
        assert dchk.verify(item.path.read_bytes()) is None
        read_back(item)


def test_checkpoint_options(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    item = store.checkpoint(
        "t",
        node="tools",
        secs=1_800_000_000,
        nanos=42,
        parent="t_feedbeef0001_chkpt9",
        proc="feedbeef0001",
        counter=10,
        state=agent_state(5, ["x"], {"s": 1.0}, True, "note"),
        metadata={"sequence": "1", "distributed": "true"},
    )
    assert item.checkpoint_id == "t_feedbeef0001_chkpt10"
    read_back(item)
    legacy = store.checkpoint("old", scheme=IdScheme.COUNTER, header=Header.LEGACY)
    assert legacy.checkpoint_id == "old_0"
    assert classify(legacy.path.name, legacy.path.read_bytes()[:64]) is Variant.LEGACY_BINCODE
    read_back(legacy)
    renamed = store.checkpoint("t", name="copy.bin")
    assert renamed.path.name == "copy.bin"
    read_back(renamed)


@pytest.mark.parametrize(
    "scheme",
    [IdScheme.CURRENT, IdScheme.COUNTER, IdScheme.UUID, IdScheme.UUID_PREFIXED, IdScheme.SECS_UUID],
)
def test_id_schemes_parse_back(tmp_path: Path, scheme: IdScheme) -> None:
    item = StoreBuilder(tmp_path).checkpoint("th", scheme=scheme)
    parsed = parse_id(item.checkpoint_id)
    assert parsed.scheme is scheme
    assert parsed.thread_id == (None if scheme is IdScheme.UUID else "th")
    read_back(item)


def test_restart_reuses_counter_ids_and_overwrites(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    first_run = store.chain("demo_1", 3, scheme=IdScheme.COUNTER)
    store.restart()
    second = store.checkpoint("demo_1", scheme=IdScheme.COUNTER)
    assert second.checkpoint_id == first_run[0].checkpoint_id
    assert second.parent_id is None
    assert second.secs > first_run[2].secs
    assert len(store.written) == 3
    read_back(second)


def test_new_run_starts_a_new_root(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    store.checkpoint("t")
    store.new_run("t")
    assert store.checkpoint("t").parent_id is None


def test_sized_state_is_exact_and_decodable() -> None:
    for size in (AGENT_STATE_OVERHEAD, 100, 2048):
        assert len(sized_agent_state(size)) == size
    with pytest.raises(ValueError):
        sized_agent_state(AGENT_STATE_OVERHEAD - 1)


def test_auto_index_matches_the_latest_files(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    a = store.chain("a", 2)
    b = store.chain("b", 3)
    same_second = store.checkpoint("c", secs=BASE_SECS + 100, counter=9)
    higher_id = store.checkpoint("c", secs=BASE_SECS + 100, counter=10)
    path = store.index()
    assert path.name == "index.bin"
    assert decode_index(path.read_bytes()) == {
        "a": IndexEntry(a[-1].checkpoint_id, a[-1].secs, 0),
        "b": IndexEntry(b[-1].checkpoint_id, b[-1].secs, 0),
        # DashFlow's tie-break compares id strings: "...chkpt9" > "...chkpt10".
        "c": IndexEntry(same_second.checkpoint_id, same_second.secs, 0),
    }
    assert higher_id.checkpoint_id < same_second.checkpoint_id
    assert store.index("auto").read_bytes() == path.read_bytes()


def test_index_with_duplicate_threads(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    pairs = [("t", IndexEntry("t_1", 1, 0)), ("t", IndexEntry("t_2", 2, 0))]
    data = store.index(pairs).read_bytes()
    assert decode_index_entries(data) == pairs
    assert decode_index(data) == {"t": IndexEntry("t_2", 2, 0)}


def test_lock_is_zero_length(tmp_path: Path) -> None:
    lock = StoreBuilder(tmp_path).lock()
    assert lock.name == ".checkpoint.lock"
    assert lock.stat().st_size == 0


def test_temp_files(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    item = store.checkpoint("t")
    complete = store.temp_checkpoint(item, remove_target=True)
    target, _uuid = parse_temp_name(complete.name) or (None, "")
    assert target == item.checkpoint_id
    assert classify(complete.name, complete.read_bytes()[:64]) is Variant.TEMP_CHECKPOINT
    assert dchk.verify(complete.read_bytes()) is None
    assert not item.path.exists()
    assert store.written == []
    partial = store.temp_checkpoint(item, complete=False)
    error = dchk.verify(partial.read_bytes())
    assert error is not None and error.kind is IntegrityErrorKind.LENGTH_MISMATCH
    index_temp = store.temp_index({"t": IndexEntry("t_1", 1, 0)})
    bin_temp = store.temp_index({}, bin_suffix=True)
    assert index_temp.name.startswith(".index.") and not index_temp.name.startswith(".index.bin.")
    assert bin_temp.name.startswith(".index.bin.")
    assert parse_temp_name(index_temp.name) is not None
    assert parse_temp_name(bin_temp.name) is not None
    assert decode_index(index_temp.read_bytes()) == {"t": IndexEntry("t_1", 1, 0)}


def test_damage_helpers_produce_each_integrity_error(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)

    def kind_after(damage: str) -> IntegrityErrorKind | None:
        item = store.checkpoint(damage)
        {
            "flip": lambda: flip_byte(item.path, 30),
            "truncate": lambda: truncate(item.path, item.path.stat().st_size - 3),
            "tiny": lambda: truncate(item.path, 10),
            "append": lambda: append_bytes(item.path, b"junk"),
            "version2": lambda: set_version(item.path, 2),
            "version0": lambda: set_version(item.path, 0),
            "length": lambda: set_declared_length(item.path, 2**63),
            "magic": lambda: damage_magic(item.path),
        }[damage]()
        error = dchk.verify(item.path.read_bytes())
        return None if error is None else error.kind

    assert kind_after("flip") is IntegrityErrorKind.CHECKSUM_MISMATCH
    assert kind_after("truncate") is IntegrityErrorKind.LENGTH_MISMATCH
    assert kind_after("tiny") is IntegrityErrorKind.FILE_TOO_SMALL
    assert kind_after("append") is IntegrityErrorKind.LENGTH_MISMATCH
    assert kind_after("version2") is IntegrityErrorKind.UNSUPPORTED_VERSION
    assert kind_after("version0") is None
    assert kind_after("length") is IntegrityErrorKind.LENGTH_MISMATCH
    assert kind_after("magic") is IntegrityErrorKind.INVALID_MAGIC
    assert dchk.has_damaged_magic((tmp_path / "magic_1a2b3c4d5e6f0a1b_chkpt0.bin").read_bytes())


def test_flip_byte_outside_file_is_refused(tmp_path: Path) -> None:
    item = StoreBuilder(tmp_path).checkpoint("t")
    with pytest.raises((ValueError, IndexError)):
        flip_byte(item.path, 10_000)


def test_set_mtime(tmp_path: Path) -> None:
    item = StoreBuilder(tmp_path).checkpoint("t")
    set_mtime(item.path, 1_700_000_000)
    assert os.stat(item.path).st_mtime == 1_700_000_000


def test_variant_writers_round_trip(tmp_path: Path) -> None:
    store = StoreBuilder(tmp_path)
    gz = store.gzip_checkpoint("g")
    assert gz.path.name.endswith(".bin.gz")
    assert classify(gz.path.name, gz.path.read_bytes()[:64]) is Variant.GZIP_BIN
    assert gunzip_bounded(gz.path.read_bytes()) == gz.payload
    plain = store.versioned_checkpoint("v", data_json='{"a":1}')
    packed = store.versioned_checkpoint("v", compress=True)
    assert classify(plain.path.name, plain.path.read_bytes()[:64]) is Variant.VERSIONED
    assert classify(packed.path.name, packed.path.read_bytes()[:64]) is Variant.VERSIONED_GZ
    first = decode_versioned(plain.path.read_bytes())
    second = decode_versioned(gunzip_bounded(packed.path.read_bytes()))
    assert (first.data_json, first.parent_id) == ('{"a":1}', None)
    assert second.parent_id == first.checkpoint_id
    for spelling in (False, True):
        path = store.json_checkpoint("j", serde_default_time=spelling)
        assert classify(path.name, path.read_bytes()[:64]) is Variant.LEGACY_JSON
        decoded = decode_legacy_json(path.read_bytes())
        assert decoded.thread_id == "j"
        assert f"{decoded.checkpoint_id}.json" == path.name


def _tree(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_builder_is_deterministic(tmp_path: Path) -> None:
    def build(root: Path) -> dict[str, bytes]:
        store = StoreBuilder(root)
        item = store.checkpoint("t", scheme=IdScheme.UUID_PREFIXED)
        store.gzip_checkpoint("g")
        store.versioned_checkpoint("v", compress=True)
        store.temp_checkpoint(item)
        store.temp_index()
        store.index()
        store.lock()
        return _tree(root)

    assert build(tmp_path / "one") == build(tmp_path / "two")


def test_large_store(tmp_path: Path) -> None:
    info = build_large_store(tmp_path / "large", files=60, threads=7, state_size=300)
    files = sorted(
        p for p in info.root.iterdir() if p.name not in ("index.bin", ".checkpoint.lock")
    )
    assert len(files) == 60
    assert (info.root / ".checkpoint.lock").stat().st_size == 0
    latest: dict[str, tuple[str, int]] = {}
    children: dict[str, str | None] = {}
    for path in files:
        data = path.read_bytes()
        assert dchk.verify(data) is None
        payload = data[dchk.HEADER_SIZE :]
        head = read_head(payload)
        tail = parse_tail(payload, head).unique
        assert tail is not None
        assert tail.state_end - head.state_start == 300
        assert path.name == f"{head.checkpoint_id}.bin"
        children[head.checkpoint_id] = tail.parent_id
        if head.thread_id not in latest or tail.secs > latest[head.thread_id][1]:
            latest[head.thread_id] = (head.checkpoint_id, tail.secs)
    assert len(latest) == 7
    index = decode_index((info.root / "index.bin").read_bytes())
    assert {t: (e.checkpoint_id, e.secs) for t, e in index.items()} == latest
    # Every parent exists and belongs to the same thread.
    for checkpoint_id, parent in children.items():
        if parent is not None:
            assert parent in children
            assert parse_id(parent).thread_id == parse_id(checkpoint_id).thread_id
    assert sum(parent is None for parent in children.values()) == 7
