"""How soon a merchant's webhook hears "paid" after the payer confirms, under load.

Starts a real `saoma serve` process (SQLite, then PostgreSQL), a webhook receiver in this process,
merchants and consumers; then payer threads pay dynamic orders over HTTP as fast as they can.
Prints payments per second and the latency from the payer's confirmation (the POST starting) to
the webhook's arrival, p50/p95/p99, beside a baseline from the same run: the plain HTTP round trip
(GET /healthz) at the same concurrency.

    .venv/bin/python bench/webhook.py [--db sqlite|postgres|both] [--payers 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from common import Receiver, pct, sign_up_shop, start_server
from saoma.client import ConsumerClient, MerchantClient

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PIN = "246810"


def spread(values: list[float]) -> str:
    p50, p95, p99 = (pct(values, q) * 1000 for q in (0.5, 0.95, 0.99))
    return f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"


def setup(
    url: str, receiver: Receiver, payers: int
) -> tuple[list[MerchantClient], list[ConsumerClient]]:
    shops = [sign_up_shop(url, f"Bench Shop {n}", receiver.url) for n in range(4)]
    consumers = []
    for _ in range(payers):
        c = ConsumerClient(url)
        c.sign_up(f"+86137{secrets.randbelow(10**8):08d}", "bench-password")
        c.set_pin(PIN, password="bench-password")
        c.top_up(1_000_000)
        consumers.append(c)
    for c in consumers:
        while c.me()["balance"] < 1_000_000:
            time.sleep(0.05)
    return shops, consumers


def run_payments(
    shops: list[MerchantClient], consumers: list[ConsumerClient], receiver: Receiver, seconds: float
) -> tuple[int, float, list[float], list[float]]:
    started: dict[str, float] = {}
    confirm: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def payer(n: int, c: ConsumerClient) -> None:
        shop = shops[n % len(shops)]
        k = 0
        while time.perf_counter() < stop:
            order = shop.create_order(f"B-{n}-{k}-{uuid.uuid4().hex[:6]}", 100 + k % 50)
            k += 1
            t0 = time.monotonic()  # the receiver's clock
            with lock:
                started[order["id"]] = t0
            c.pay_order(order["id"], PIN)
            with lock:
                confirm.append(time.monotonic() - t0)

    t_begin = time.perf_counter()
    threads = [threading.Thread(target=payer, args=(n, c)) for n, c in enumerate(consumers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_begin
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and len(receiver.arrived) < len(started):
        time.sleep(0.05)
    hooks = [receiver.arrived[o] - t for o, t in started.items() if o in receiver.arrived]
    return len(confirm), elapsed, confirm, hooks


def baseline(url: str, threads_n: int, seconds: float) -> tuple[float, list[float]]:
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        with httpx.Client(base_url=url) as http:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                http.get("/healthz")
                with lock:
                    lat.append(time.perf_counter() - t0)

    t_begin = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat) / (time.perf_counter() - t_begin), lat


def bench(kind: str, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="saoma-bench-"))
    admin = None
    name = ""
    if kind == "sqlite":
        database_url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        name = f"saoma_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    proc, url = start_server(database_url, tmp / "server.log")
    receiver = Receiver(key="order_id")
    try:
        shops, consumers = setup(url, receiver, args.payers)
        base_rps, base_lat = baseline(url, args.payers, 3)
        n, elapsed, confirm, hooks = run_payments(shops, consumers, receiver, args.seconds)
        print(f"\n{kind}: {args.payers} payers, {elapsed:.1f} s")
        print(f"  payments acknowledged      {n:>8}   {n / elapsed:8.0f}/s")
        print(f"  webhooks received          {len(hooks):>8}")
        print(f"  confirm → response   {spread(confirm)}")
        print(f"  confirm → webhook    {spread(hooks)}")
        print(f"  baseline GET /healthz {spread(base_lat)}  ({base_rps:.0f} req/s)")
        print(f"  webhook p99 target 100 ms: {'met' if pct(hooks, 0.99) < 0.1 else 'missed'}")
    finally:
        proc.terminate()
        proc.wait(10)
        receiver.close()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--payers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        bench(kind, args)


if __name__ == "__main__":
    main()
