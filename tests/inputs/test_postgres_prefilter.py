"""The SQL that decides which Postgres states are fetched (``MAY_BE_COMPRESSED``) is true
for every state whose header ``lz4_header``, ``snappy_header`` or the zstd magic accepts,
so no compressed state goes unchecked; and false for the Rust-written uncompressed states,
so an uncompressed table's states do not travel."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashfix.formats.bincode import DecodeError
from dashfix.formats.compression import Compression, is_zstd, lz4_header, snappy_header
from dashfix.testing.backends import compressed, interop_states
from tests.servers import PostgresTable, postgres_schema

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def pg() -> Iterator[PostgresTable]:
    yield from postgres_schema()


def _accepted(state: bytes) -> bool:
    if is_zstd(state):
        return True
    for header in (lz4_header, snappy_header):
        try:
            header(state)
        except DecodeError:
            continue
        return True
    return False


def _states() -> list[bytes]:
    rng = random.Random(9)
    states = [path.read_bytes() for path in sorted((FIXTURES / "compression").iterdir())
              if path.suffix != ".md"]
    states += [bytes(rng.randrange(256) for _ in range(length)) for length in range(12)
               for _ in range(20)]
    for _ in range(300):
        data = rng.randbytes(rng.randrange(2000)) if rng.random() < 0.5 else (
            rng.randbytes(rng.randrange(1, 20)) * rng.randrange(1, 300))
        states += [data] + [compressed(data, kind) for kind in (
            Compression.LZ4, Compression.SNAPPY, Compression.ZSTD)]
    for size in (0, 1, 15, 127, 128, 300, 16383, 16384, 2**21):  # lz4 and snappy at bounds
        for block in (1, 2, 6, 17, size // 6 + 1, size * 3 // 64 + 1, size // 255 + 1):
            states.append(size.to_bytes(4, "little") + rng.randbytes(block))
            varint = bytearray()
            value = size
            while value >= 0x80:
                varint.append(value & 0x7F | 0x80)
                value >>= 7
            states.append(bytes([*varint, value]) + rng.randbytes(block))
    return states


def test_every_state_a_header_accepts_is_fetched(pg: PostgresTable) -> None:
    from psycopg import sql

    from dashfix.inputs.backends.postgres import MAY_BE_COMPRESSED

    states = _states()
    uncompressed = interop_states(FIXTURES / "interop" / "ckpt-healthy")
    connection = pg.connection
    connection.execute(b"CREATE TABLE states (id int PRIMARY KEY, state bytea NOT NULL)")
    with connection.cursor() as cursor:
        with cursor.copy("COPY states (id, state) FROM STDIN") as copy:
            for row, state in enumerate(states + uncompressed):
                copy.write_row((row, state))
        cursor.execute(sql.SQL("SELECT id, ({}) FROM states ORDER BY id").format(
            MAY_BE_COMPRESSED))
        fetched = [bool(value) for _, value in cursor.fetchall()]
    missed = [state.hex() for state, taken in zip(states, fetched, strict=False)
              if _accepted(state) and not taken]
    assert not missed
    assert sum(map(_accepted, states)) > len(states) // 2  # the cases above reach the rule
    assert not any(fetched[len(states):])
