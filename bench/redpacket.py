"""Red packet claims per second: 10,000 racing claimers over real HTTP for a packet of 1,000.

Starts `saoma serve` (SQLite, then PostgreSQL), makes 10,000 signed-in wallets straight in the
database, and lets client processes claim as fast as they can. Prints claims per second (all
answers, and the 1,000 that won) beside a baseline from the same run: GET /healthz at the same
concurrency.

    .venv/bin/python bench/redpacket.py [--db sqlite|postgres|both] [--claimers 10000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

from common import start_server
from saoma.client import ConsumerClient
from saoma.core.ids import new_account_id, new_id, now_us, token_hash
from saoma.db import make_engine
from saoma.ledger import Account, AccountFlags, AccountKind, Ledger
from saoma.wallets import tables as pm

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PROCESSES = 4
THREADS = 16


def crowd(database_url: str, n: int) -> list[str]:
    engine = make_engine(database_url)
    tokens = []
    with Ledger(engine) as ledger:
        ids = [new_account_id() for _ in range(n)]
        for start in range(0, n, 5000):
            ledger.create_accounts(
                [
                    Account(
                        i,
                        "CNY",
                        AccountKind.CONSUMER_WALLET,
                        AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                    )
                    for i in ids[start : start + 5000]
                ]
            )
        now = now_us()
        consumers, sessions = [], []
        for account_id in ids:
            cid, token = new_id("c"), "st_" + secrets.token_urlsafe(24)
            consumers.append(
                {
                    "id": cid,
                    "login": f"{cid}@bench.cn",
                    "display_name": cid[-6:],
                    "password_hash": "!",
                    "account_id": account_id,
                    "currency": "CNY",
                    "created_at_us": now,
                }
            )
            sessions.append(
                {
                    "token_hash": token_hash(token),
                    "consumer_id": cid,
                    "created_at_us": now,
                    "expires_at_us": now + 3600 * 1_000_000,
                }
            )
            tokens.append(token)
        with engine.begin() as conn:
            conn.execute(insert(pm.consumers), consumers)
            conn.execute(insert(pm.sessions), sessions)
    engine.dispose()
    return tokens


def worker(url: str, path: str, tokens: list[str], out: mp.Queue) -> None:  # type: ignore[type-arg]
    import threading

    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def run(chunk: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for token in chunk:
                t0 = time.perf_counter()
                headers = {"authorization": f"Bearer {token}"}
                if "claim" in path:  # a claim moves money: it needs an Idempotency-Key
                    headers["idempotency-key"] = secrets.token_hex(16)
                r = http.request("POST" if "claim" in path else "GET", path, headers=headers)
                with lock:
                    results.append((r.status_code, time.perf_counter() - t0))

    threads = [threading.Thread(target=run, args=(tokens[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(results)


def race(url: str, path: str, tokens: list[str]) -> tuple[float, list[tuple[int, float]]]:
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [
        mp.Process(target=worker, args=(url, path, tokens[i::PROCESSES], out))
        for i in range(PROCESSES)
    ]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [r for _ in procs for r in out.get()]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    return elapsed, results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def bench(kind: str, claimers: int, shares: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="saoma-rp-"))
    admin, name = None, ""
    if kind == "sqlite":
        url_db = f"sqlite:///{tmp / 'rp.db'}"
    else:
        name = f"saoma_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url_db = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    proc, url = start_server(url_db, tmp / "server.log")
    try:
        sender = ConsumerClient(url)
        sender.sign_up(f"+86136{secrets.randbelow(10**8):08d}", "bench-password")
        sender.set_pin("246810", password="bench-password")
        sender.top_up(5_000_000)
        while sender.me()["balance"] < 5_000_000:
            time.sleep(0.05)
        tokens = crowd(url_db, claimers)
        base_s, base = race(url, "/healthz", tokens[:claimers])
        packet = sender.request(
            "POST",
            "/v1/red-packets",
            {"amount": 1_000_000, "shares": shares, "pin": "246810"},
            idempotency_key="bench",
        )
        claim_s, results = race(url, f"/v1/red-packets/{packet['id']}/claim", tokens)
        won = [r for r in results if r[0] == 201]
        final = sender.request("GET", f"/v1/red-packets/{packet['id']}")
        print(
            f"\n{kind}: {claimers} claimers, packet of {shares} shares, "
            f"{PROCESSES} processes × {THREADS} threads"
        )
        took = [r[1] for r in results]
        print(
            f"  claims answered   {len(results) / claim_s:8.0f}/s  "
            f"(p50 {pct(took, 0.5):.1f} ms, p99 {pct(took, 0.99):.1f} ms)"
        )
        print(f"  winning claims    {len(won):8d}  (amounts add up: {final['claimed'] == shares})")
        took = [r[1] for r in base]
        print(
            f"  baseline /healthz {len(base) / base_s:8.0f}/s  "
            f"(p50 {pct(took, 0.5):.1f} ms, p99 {pct(took, 0.99):.1f} ms)"
        )
        print(f"  ratio claims ÷ baseline: {(len(results) / claim_s) / (len(base) / base_s):.2f}")
    finally:
        proc.terminate()
        proc.wait(10)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--claimers", type=int, default=10_000)
    parser.add_argument("--shares", type=int, default=1_000)
    args = parser.parse_args()
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        bench(kind, args.claimers, args.shares)


if __name__ == "__main__":
    main()
