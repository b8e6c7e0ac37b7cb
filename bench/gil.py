"""What a PostgreSQL statement costs the thread that sends it while other threads want the GIL.

psycopg gives up the GIL on every wait for the socket and takes it back after; with other
threads running Python, taking it back waits for the switch interval (``saoma serve`` sets 0.5
ms). The ledger's batch thread sends the hooks' statements one by one on a pipeline while it
holds the accounts' row locks, so each statement's wait for the GIL lengthens the batch.

On a temporary table, 50 single-row UPDATEs per transaction are sent four ways (on a pipeline,
on a pipeline with ``executemany``, one after another without a pipeline), first with nothing
else running (the baseline), then with ``--busy`` threads running Python. The sending thread's
own CPU time (``time.thread_time``) and the wall time are printed per statement.

    .venv/bin/python bench/gil.py [--busy 2] [--rounds 2]

SAOMA_BENCH_POSTGRES_URL names the server (default: the test server).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable

import psycopg
from sqlalchemy import make_url

from saoma.cli import SWITCH_INTERVAL_S

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROWS = 50
UPDATE = "UPDATE gil_bench SET v = %(v)s WHERE id = %(id)s"


def per_statement(send: Callable[[], None], runs: int) -> tuple[float, float]:
    """The sending thread's CPU and the wall time per statement, in µs."""
    send()
    cpu, wall = time.thread_time(), time.perf_counter()
    for _ in range(runs):
        send()
    n = runs * ROWS
    return (time.thread_time() - cpu) * 1e6 / n, (time.perf_counter() - wall) * 1e6 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="threads running Python meanwhile")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    url = make_url(PG_SERVER)
    conn = psycopg.connect(
        host=url.host, port=url.port or 5432, user=url.username, dbname=url.database
    )
    conn.execute("CREATE TEMP TABLE gil_bench (id int PRIMARY KEY, v int)")
    conn.execute("INSERT INTO gil_bench SELECT g, 0 FROM generate_series(0, %s) g", (ROWS,))
    conn.commit()

    def pipelined() -> None:
        with conn.pipeline():
            cur = conn.cursor()
            for i in range(ROWS):
                cur.execute(UPDATE, {"v": i, "id": i})
        conn.commit()

    def pipelined_many() -> None:
        with conn.pipeline():
            conn.cursor().executemany(UPDATE, [{"v": i, "id": i} for i in range(ROWS)])
        conn.commit()

    def one_by_one() -> None:
        cur = conn.cursor()
        for i in range(ROWS):
            cur.execute(UPDATE, {"v": i, "id": i})
        conn.commit()

    ways = {
        "pipeline, one execute each": pipelined,
        "pipeline, executemany": pipelined_many,
        "no pipeline": one_by_one,
    }
    stop = threading.Event()

    def busy() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    print(f"µs per statement, switch interval {SWITCH_INTERVAL_S * 1000:g} ms, {ROWS} per commit")
    print("| round | busy threads | way | sender's CPU | wall |")
    print("| ---: | ---: | --- | ---: | ---: |")
    for round_no in range(1, args.rounds + 1):
        for busy_threads in (0, args.busy):
            stop.clear()
            threads = [threading.Thread(target=busy, daemon=True) for _ in range(busy_threads)]
            for t in threads:
                t.start()
            try:
                for what, send in ways.items():
                    cpu, wall = per_statement(send, 100 if not busy_threads else 10)
                    print(f"| {round_no} | {busy_threads} | {what} | {cpu:.0f} | {wall:.0f} |")
            finally:
                stop.set()
                for t in threads:
                    t.join()
    conn.close()


if __name__ == "__main__":
    main()
