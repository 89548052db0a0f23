"""`dashfix verify postgresql://...` on a large PostgresCheckpointer table, against the plainest
client loop that reads the same data: psycopg fetching every column of every row through a
server-side cursor. Both are timed in the same run, in interleaved rounds (``--repeat=N``,
default 3); the CPU time of each is printed too (the server's is in neither).

Targets (issue 9): with 1,000,000 rows, verify takes at most 1.5x that loop's wall time and
peaks at 300 MiB RSS. `--rows=N` changes the size (one word: the runner passes only words
starting with `-` to a benchmark). The table is built once, in schema `dashfix_bench` of the
server named by DASHFIX_TEST_POSTGRES (default postgresql://127.0.0.1:5432/test), and kept
for the next run; `--rebuild` drops it first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from benchmarks.harness import machine, measure_interleaved, print_cpu, print_ratio
from dashfix.testing.backends import interop_states, postgres_schema

SCHEMA = "dashfix_bench"
TABLE = "dashflow_checkpoints"
THREADS = 1000
TIME_LIMIT = 1.5
RSS_LIMIT_MIB = 300
PROC = "1a2b3c4d5e6f0a1b"
INTEROP = Path(__file__).resolve().parent.parent / "fixtures" / "interop" / "ckpt-healthy"

_BASELINE = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as connection, connection.cursor(name="bench") as cursor:
    cursor.itersize = 2000
    cursor.execute("SELECT checkpoint_id, thread_id, state, node, timestamp, parent_id, "
                   "metadata FROM {table}")
    for _row in cursor:
        pass
"""


def _build(base: str, rows: int, rebuild: bool) -> None:
    import psycopg

    states = interop_states(INTEROP)
    with psycopg.connect(base, autocommit=True) as connection:
        if rebuild:
            connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE".encode())
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}".encode())
        connection.execute(f"SET search_path TO {SCHEMA}".encode())
        connection.execute(postgres_schema(TABLE).encode())
        (present,) = connection.execute(f"SELECT count(*) FROM {TABLE}".encode()).fetchone() or (0,)
        if present == rows:
            return
        connection.execute(f"TRUNCATE {TABLE}".encode())
        base_ns = 1_760_000_000_000_000_000
        with connection.cursor().copy(
            f"COPY {TABLE} (checkpoint_id, thread_id, state, node, timestamp, parent_id, "
            "metadata) FROM STDIN".encode()
        ) as copy:
            for row in range(rows):
                thread, step = row % THREADS, row // THREADS
                checkpoint_id = f"t{thread}_{PROC}_chkpt{step}"
                parent = None if step == 0 else f"t{thread}_{PROC}_chkpt{step - 1}"
                copy.write_row((checkpoint_id, f"t{thread}", states[row % len(states)],
                                f"step{step % 7}", base_ns + row * 1_000_003, parent, "{}"))
        connection.execute(f"ANALYZE {TABLE}".encode())


def main(argv: list[str]) -> int:
    rows = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--rows=")), 1_000_000)
    repeat = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--repeat=")), 3)
    base = os.environ.get("DASHFIX_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
    _build(base, rows, "--rebuild" in argv)
    url = f"{base}?options=-csearch_path%3D{SCHEMA}&table={TABLE}"
    plain = f"{base}?options=-csearch_path%3D{SCHEMA}"
    print(f"machine: {machine()}")
    verify, baseline = measure_interleaved({
        f"dashfix verify ({rows:,} rows)": [sys.executable, "-m", "dashfix", "verify", url,
                                            "--format", "json", "--progress", "never"],
        "psycopg server-side cursor loop": [sys.executable, "-c",
                                            _BASELINE.format(table=TABLE), plain],
    }, repeat=repeat)
    fast = print_ratio(verify, baseline, TIME_LIMIT, clean=True)
    print_cpu(verify, baseline)
    small = verify.peak_rss_mib <= RSS_LIMIT_MIB
    print(f"peak RSS {verify.peak_rss_mib:.0f} MiB "
          f"({'OK' if small else 'OVER'} the {RSS_LIMIT_MIB} MiB limit)")
    print(f"load after: {machine()}")
    return 0 if fast and small else 1
