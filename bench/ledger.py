"""Ledger throughput: Saoma's group commit against a hand-written ledger and raw batching.

For each database (a temporary SQLite file; a fresh PostgreSQL database, dropped at the end) it
creates 10,000 accounts (one bank clearing account, 2,000 merchants and 7,999 wallets funded
from the bank, which can never be overdrawn), then measures, in the same run:

- Saoma: callers (threads, as the HTTP service's thread pool calls it) each calling
  ``ledger.create_transfers([t])`` with one payment at a time;
- the baseline a user would write by hand: one transfer per transaction, ``SELECT ... FOR
  UPDATE`` on both accounts in id order, check the balance, UPDATE both, INSERT the transfer,
  COMMIT (on SQLite ``BEGIN IMMEDIATE``, writers queued on a lock as Saoma's own do), with the
  same callers sharing a pool of at most 40 connections;
- the upper bound: the baseline's statements, 100 transfers per commit, with no ledger logic
  at all (no reads, no checks), on one connection;

at 1, 16 and 256 callers for two mixes: ``random`` (a random wallet pays a random wallet or
merchant) and ``hot`` (half of all payments go to one merchant). It prints transfers per second
and p50/p99 latency, and the ratios Saoma / baseline and Saoma / bound.

    .venv/bin/python bench/ledger.py [--db sqlite|postgres|both] [--seconds 5] [--quick]

SAOMA_BENCH_POSTGRES_URL names the PostgreSQL server (default: the test server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, make_url, text

from common import pct
from saoma.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, migrate
from saoma.ledger import (
    Account,
    AccountFlags,
    AccountKind,
    Ledger,
    Result,
    Transfer,
    TransferCode,
)

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BANK = 1
MERCHANTS = range(2, 2002)
WALLETS = range(2002, 10_001)
HOT_MERCHANT = MERCHANTS[0]
PAYEES = range(MERCHANTS.start, WALLETS.stop)  # any wallet or merchant
FUNDING = 10**12  # per wallet, in fen: no payment in a run fails for want of funds
CALLERS = (1, 16, 256)
MIXES = ("random", "hot")
POOL_MAX = 40  # PostgreSQL connections the baseline may hold (the server allows 100, shared)
RAW_BATCH = 100

INSERT_TRANSFER = (
    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, code, flags,"
    " timeout_s, ref, user_data, created_at_us) VALUES ({p}, {p}, {p}, {p}, {p}, 0, 0, '', '', {p})"
)
DEBIT = "UPDATE accounts SET debits_posted = debits_posted + {p} WHERE id = {p}"
CREDIT = "UPDATE accounts SET credits_posted = credits_posted + {p} WHERE id = {p}"


@dataclass
class Row:
    db: str
    mix: str
    system: str
    callers: int
    per_s: float
    p50_ms: float
    p99_ms: float
    failed: int = 0


def payment(rng: random.Random, mix: str) -> tuple[int, int, int]:
    """(payer wallet, payee, amount in fen) for one payment of ``mix``."""
    debit = rng.randrange(WALLETS.start, WALLETS.stop)
    if mix == "hot" and rng.random() < 0.5:
        credit = HOT_MERCHANT
    else:
        credit = rng.randrange(PAYEES.start, PAYEES.stop)
        if credit == debit:
            credit = HOT_MERCHANT + 1
    return debit, credit, rng.randrange(1, 5_000)


# --- load -------------------------------------------------------------------------------------

Call = Callable[[random.Random, str], bool]  # one caller's next transfer: True if it succeeded


def drive(call: Call, callers: int, seconds: float, warmup: float) -> tuple[int, list[float], int]:
    """Run ``callers`` threads calling ``call`` in a loop; measure after ``warmup``.

    Returns (transfers completed in the window, their latencies in seconds, failures).
    """
    window = [float("inf"), float("inf")]
    stop = threading.Event()
    samples: list[list[float]] = [[] for _ in range(callers)]
    failures = [0] * callers
    tag = uuid.uuid4().hex[:8]

    def loop(n: int) -> None:
        rng = random.Random(f"{tag}-{n}")
        mine = samples[n]
        prefix = f"{tag}-{n}-"
        i = 0
        while not stop.is_set():
            i += 1
            t0 = time.perf_counter()
            ok = call(rng, f"{prefix}{i}")
            t1 = time.perf_counter()
            if t0 >= window[0] and t1 <= window[1]:
                if ok:
                    mine.append(t1 - t0)
                else:
                    failures[n] += 1

    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(callers)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    window[0] = time.perf_counter()
    time.sleep(seconds)
    window[1] = time.perf_counter()
    stop.set()
    for thread in threads:
        thread.join()
    latencies = [s for part in samples for s in part]
    return len(latencies), latencies, sum(failures)


def measure(
    db: str, mix: str, system: str, call: Callable[[random.Random, str, str], bool], args: Any
) -> list[Row]:
    rows = []
    for callers in CALLERS:
        count, lat, failed = drive(
            lambda rng, tid: call(rng, tid, mix), callers, args.seconds, args.warmup
        )
        row = Row(
            db, mix, system, callers, count / args.seconds, pct(lat, 0.5), pct(lat, 0.99), failed
        )
        row.p50_ms *= 1000
        row.p99_ms *= 1000
        print_row(row)
        rows.append(row)
    return rows


# --- Saoma --------------------------------------------------------------------------------------


def setup(url: str) -> None:
    migrate(url)
    with Ledger(make_engine(url)) as ledger:
        bank = Account(
            BANK,
            "CNY",
            AccountKind.BANK_CLEARING.value,
            AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
        )
        accounts = [bank]
        accounts += [Account(i, "CNY", AccountKind.MERCHANT.value) for i in MERCHANTS]
        accounts += [
            Account(
                i,
                "CNY",
                AccountKind.CONSUMER_WALLET.value,
                AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            )
            for i in WALLETS
        ]
        assert all(r.ok for r in ledger.create_accounts(accounts))
        top_ups = [Transfer(f"top-up-{i}", BANK, i, FUNDING, TransferCode.TOP_UP) for i in WALLETS]
        for start in range(0, len(top_ups), 4000):
            results = ledger.create_transfers(top_ups[start : start + 4000])
            assert all(r is Result.OK for r in results)
    # Fresh tables have no statistics yet; a database in service has them.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def bench_saoma(db: str, url: str, args: Any) -> list[Row]:
    rows = []
    engine = make_engine(url)
    with Ledger(engine) as ledger:

        def call(rng: random.Random, tid: str, mix: str) -> bool:
            debit, credit, amount = payment(rng, mix)
            t = Transfer(tid, debit, credit, amount, TransferCode.PAYMENT)
            return ledger.create_transfers([t])[0] is Result.OK

        for mix in MIXES:
            rows += measure(db, mix, "saoma", call, args)
            rows += measure_async(db, mix, ledger, args)
    engine.dispose()
    return rows


def measure_async(db: str, mix: str, ledger: Ledger, args: Any) -> list[Row]:
    """The same load from asyncio tasks on one event loop, as an async service calls the ledger."""
    rows = []
    for callers in CALLERS:
        count, lat = asyncio.run(drive_async(ledger, mix, callers, args.seconds, args.warmup))
        row = Row(
            db, mix, "saoma async", callers, count / args.seconds, pct(lat, 0.5), pct(lat, 0.99), 0
        )
        row.p50_ms *= 1000
        row.p99_ms *= 1000
        print_row(row)
        rows.append(row)
    return rows


async def drive_async(
    ledger: Ledger, mix: str, callers: int, seconds: float, warmup: float
) -> tuple[int, list[float]]:
    window = [float("inf"), float("inf")]
    samples: list[float] = []
    tag = uuid.uuid4().hex[:8]
    stop = False

    async def loop(n: int) -> None:
        rng = random.Random(f"{tag}-{n}")
        i = 0
        while not stop:
            i += 1
            debit, credit, amount = payment(rng, mix)
            t = Transfer(f"{tag}-a{n}-{i}", debit, credit, amount, TransferCode.PAYMENT)
            t0 = time.perf_counter()
            (result,) = await ledger.create_transfers_async([t])
            t1 = time.perf_counter()
            if result is Result.OK and t0 >= window[0] and t1 <= window[1]:
                samples.append(t1 - t0)

    tasks = [asyncio.create_task(loop(n)) for n in range(callers)]
    await asyncio.sleep(warmup)
    window[0] = time.perf_counter()
    await asyncio.sleep(seconds)
    window[1] = time.perf_counter()
    stop = True
    await asyncio.gather(*tasks)
    return len(samples), samples


# --- the hand-written baseline --------------------------------------------------------------------


class Pool:
    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self.all = [connect() for _ in range(size)]
        self.free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for conn in self.all:
            self.free.put(conn)

    @contextmanager
    def conn(self) -> Iterator[Any]:
        conn = self.free.get()
        try:
            yield conn
        finally:
            self.free.put(conn)

    def close(self) -> None:
        for conn in self.all:
            conn.close()


def connect_postgres(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))


def connect_sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def one_by_one(conn: Any, sqlite: bool, tid: str, debit: int, credit: int, amount: int) -> bool:
    """The hand-written ledger: lock both rows, check, update both, insert, commit."""
    p = "?" if sqlite else "%s"
    cur = conn.cursor()
    try:
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
            cur.execute(
                "SELECT id, flags, debits_pending, debits_posted, credits_posted FROM accounts"
                " WHERE id IN (?, ?) ORDER BY id",
                (debit, credit),
            )
        else:
            cur.execute(
                "SELECT id, flags, debits_pending, debits_posted, credits_posted FROM accounts"
                " WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                ([debit, credit],),
            )
        found = {r[0]: r for r in cur.fetchall()}
        payer = found.get(debit)
        if payer is None or credit not in found:
            conn.rollback()
            return False
        _, flags, pending, posted, credits = payer
        if flags & 1 and pending + posted + amount > credits:
            conn.rollback()
            return False
        cur.execute(DEBIT.format(p=p), (amount, debit))
        cur.execute(CREDIT.format(p=p), (amount, credit))
        cur.execute(
            INSERT_TRANSFER.format(p=p),
            (tid, debit, credit, amount, int(TransferCode.PAYMENT), time.time_ns() // 1000),
        )
        conn.commit()
        return True
    except Exception:
        conn.rollback()
        raise
    finally:
        cur.close()


def bench_baseline(db: str, url: str, path: str | None, args: Any) -> list[Row]:
    rows = []
    sqlite = path is not None
    lock = threading.Lock() if sqlite else None
    size = POOL_MAX
    pool = Pool(
        (lambda: connect_sqlite(path)) if path is not None else (lambda: connect_postgres(url)),
        size,
    )

    def call(rng: random.Random, tid: str, mix: str) -> bool:
        debit, credit, amount = payment(rng, mix)
        for _ in range(10):
            try:
                with pool.conn() as conn:
                    if lock is None:
                        return one_by_one(conn, False, tid, debit, credit, amount)
                    with lock:
                        return one_by_one(conn, True, tid, debit, credit, amount)
            except psycopg.errors.DeadlockDetected:
                continue
        return False

    try:
        for mix in MIXES:
            rows += measure(db, mix, "baseline", call, args)
    finally:
        pool.close()
    return rows


# --- the upper bound --------------------------------------------------------------------------


RAW_DEBITS = (
    "UPDATE accounts AS a SET debits_posted = a.debits_posted + v.amount FROM ("
    "SELECT id, sum(amount) AS amount FROM unnest(%s::int8[], %s::int8[]) AS u(id, amount)"
    " GROUP BY id) AS v WHERE a.id = ANY(%s::int8[]) AND a.id = v.id"
)
RAW_CREDITS = RAW_DEBITS.replace("debits_posted", "credits_posted")
RAW_INSERT = (
    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, code, flags,"
    " timeout_s, ref, user_data, created_at_us)"
    " SELECT id, d, c, amount, %s, 0, 0, '', '', %s"
    " FROM unnest(%s::text[], %s::int8[], %s::int8[], %s::int8[]) AS u(id, d, c, amount)"
)


def write_batch(conn: Any, sqlite: bool, ids: list[str], batch: list[tuple[int, int, int]]) -> None:
    """The baseline's UPDATEs and INSERT for a whole batch, in the database's batched form.

    SQLite runs each statement over the batch in C (``executemany``); PostgreSQL takes arrays
    (one statement each, a row per account: an UPDATE ... FROM updates a row only once).
    """
    code, now = int(TransferCode.PAYMENT), time.time_ns() // 1000
    cur = conn.cursor()
    if sqlite:
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(DEBIT.format(p="?"), [(a, d) for d, _, a in batch])
        cur.executemany(CREDIT.format(p="?"), [(a, c) for _, c, a in batch])
        cur.executemany(
            INSERT_TRANSFER.format(p="?"),
            [(i, d, c, a, code, now) for i, (d, c, a) in zip(ids, batch, strict=True)],
        )
    else:
        debits, credits, amounts = ([x[k] for x in batch] for k in range(3))
        cur.execute(RAW_DEBITS, (debits, amounts, debits))
        cur.execute(RAW_CREDITS, (credits, amounts, credits))
        cur.execute(RAW_INSERT, (code, now, ids, debits, credits, amounts))
    conn.commit()
    cur.close()


def bench_raw(db: str, url: str, path: str | None, args: Any) -> list[Row]:
    """The baseline's writes, 100 transfers per commit, no reads and no checks: one connection."""
    sqlite = path is not None
    conn: Any = connect_sqlite(path) if path is not None else connect_postgres(url)
    rows = []
    tag = uuid.uuid4().hex[:8]
    try:
        for mix in MIXES:
            rng = random.Random(f"raw-{mix}")
            lat: list[float] = []
            n = 0
            deadline = time.perf_counter() + args.warmup + args.seconds
            measured_from = time.perf_counter() + args.warmup
            done = 0
            while (t0 := time.perf_counter()) < deadline:
                batch = [payment(rng, mix) for _ in range(RAW_BATCH)]
                ids = [f"{tag}-{mix}-{n + i}" for i in range(RAW_BATCH)]
                write_batch(conn, sqlite, ids, batch)
                n += RAW_BATCH
                t1 = time.perf_counter()
                if t0 >= measured_from:
                    lat.append(t1 - t0)
                    done += RAW_BATCH
            elapsed = sum(lat)
            row = Row(
                db,
                mix,
                f"raw x{RAW_BATCH}",
                1,
                done / elapsed if elapsed else 0.0,
                pct(lat, 0.5) * 1000,
                pct(lat, 0.99) * 1000,
            )
            print_row(row)
            rows.append(row)
    finally:
        conn.close()
    return rows


# --- report ---------------------------------------------------------------------------------------

HEADER = (
    f"{'database':10s} {'mix':7s} {'system':9s} {'callers':>7s} {'tx/s':>9s}"
    f" {'p50 ms':>8s} {'p99 ms':>8s}"
)


def print_row(row: Row) -> None:
    failed = f"  ({row.failed} failed)" if row.failed else ""
    print(
        f"{row.db:10s} {row.mix:7s} {row.system:9s} {row.callers:7d} {row.per_s:9,.0f}"
        f" {row.p50_ms:8.2f} {row.p99_ms:8.2f}{failed}",
        flush=True,
    )


def print_ratios(rows: list[Row]) -> None:
    print("\nratios (raw bound: latency is per batch of 100)")
    print(
        f"{'database':10s} {'mix':7s} {'callers':>7s} {'saoma':12s} {'saoma/baseline':>15s}"
        f" {'saoma/raw':>10s}"
    )
    by = {(r.db, r.mix, r.system, r.callers): r for r in rows}
    for r in rows:
        if not r.system.startswith("saoma"):
            continue
        base = by.get((r.db, r.mix, "baseline", r.callers))
        raw = by.get((r.db, r.mix, f"raw x{RAW_BATCH}", 1))
        vs_base = r.per_s / base.per_s if base and base.per_s else float("nan")
        vs_raw = r.per_s / raw.per_s if raw and raw.per_s else float("nan")
        print(
            f"{r.db:10s} {r.mix:7s} {r.callers:7d} {r.system:12s} {vs_base:14.1f}x {vs_raw:10.2f}"
        )
    print("aims: saoma/baseline >= 10x on postgresql (hot included); saoma/raw >= 0.5 on both")


def run(db: str, args: Any) -> list[Row]:
    admin = None
    name = ""
    path: str | None = None
    if db == "sqlite":
        path = str(Path(tempfile.mkdtemp(prefix="saoma-bench-")) / "ledger.db")
        url = f"sqlite:///{path}"
    else:
        admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        name = f"saoma_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    label = "postgresql" if db == "postgres" else "sqlite"
    try:
        setup(url)
        rows = bench_saoma(label, url, args)
        rows += bench_baseline(label, url, path, args)
        rows += bench_raw(label, url, path, args)
        return rows
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        if path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
            Path(path).parent.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=sys.getswitchinterval(),
        help="the GIL switch interval in seconds (`saoma serve` uses 0.0005)",
    )
    args = parser.parse_args()
    args.warmup = min(1.0, args.seconds / 5)
    if args.quick:
        args.seconds, args.warmup = 0.3, 0.1
    sys.setswitchinterval(args.switch_interval)
    print(f"GIL switch interval {sys.getswitchinterval() * 1000:g} ms")
    print(HEADER)
    rows: list[Row] = []
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        rows += run(db, args)
    print_ratios(rows)


if __name__ == "__main__":
    main()
