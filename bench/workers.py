"""Payments per second over real HTTP with 1, 2 and 4 worker processes on one port (PostgreSQL).

For each worker count it makes a fresh PostgreSQL database, starts ``saoma serve --workers N``
on it, signs up a merchant whose webhooks go to a receiver in this process, and starts
``--clients`` client processes, each with its own consumer. Every client loops over the two
flows of bench/e2e.py: order + PIN (the merchant creates an order, the consumer pays it with the
PIN) and, for ``--code-share`` of the payments, a payment code the merchant charges, settled at
once under the no-PIN limit. Payments acknowledged within the ``--seconds`` window are counted,
and the webhooks ``payment.succeeded`` that reached the receiver by its end plus a grace period.
The baseline is the same run's single worker: each row's figure is divided by it.

The machine's cores bound the gain: on 2 cores, expect none past 2 workers (PostgreSQL, the
clients and the workers share them).

    .venv/bin/python bench/workers.py [--seconds 8] [--clients 8] [--workers 1,2,4]
                                      [--code-share 0.5]

SAOMA_BENCH_POSTGRES_URL names the PostgreSQL server (default: the test server).
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import make_url

from common import DATABASES, Receiver, free_port, sign_up_shop
from saoma import signing
from saoma.client import ConsumerClient, MerchantClient, SaomaError
from saoma.paycode import codes

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "bench-password"
PIN = "246810"
TOP_UP = 5_000_000  # the most one top-up takes
NO_PIN = 5_000
NO_PIN_PER_DAY = 200_000  # the most a wallet may allow a day
SETUP_S = 120
START_S = 300
SIGN_UP_TRIES = 5


def start_workers(database_url: str, workers: int, log: Path) -> tuple[Any, str]:
    """``saoma serve --workers N`` on a free port, once it answers /healthz (common.start_server
    with more time: N processes import Saoma and build their platforms)."""
    port = free_port()
    env = dict(
        os.environ,
        SAOMA_DATABASE_URL=database_url,
        SAOMA_SANDBOX_BANK_DELAY_S="0.01",
        SAOMA_ALLOW_PRIVATE_WEBHOOKS="1",
        SAOMA_WORKERS=str(workers),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "saoma.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                DATABASES[url] = database_url
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])


def pg_admin(sql: str) -> None:
    url = make_url(PG_SERVER).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type,unused-ignore]


def client_main(spec: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """One client process: its consumer set up, then payments until the window closes; sends
    back (payments per flow, errors)."""
    url = spec["url"]
    try:
        shop = MerchantClient(
            url,
            key_id=spec["key_id"],
            private_key=signing.private_key_from_b64(spec["key"]),
            timeout=30,
        )
        me = ConsumerClient(url, timeout=30)
        me.sign_up(f"+86136{secrets.randbelow(10**8):08d}", PASSWORD)
        me.set_pin(PIN, password=PASSWORD)
        me.top_up(TOP_UP)
        me.request(
            "PUT",
            "/v1/me/no-pin-limit",
            {"per_payment": NO_PIN, "per_day": NO_PIN_PER_DAY, "pin": PIN},
        )
        device = me.request("POST", "/v1/me/devices", {"label": "bench phone"})
        secret = base64.b64decode(device["secret"])
        handles: list[str] = list(device["handles"])
        deadline = time.monotonic() + SETUP_S
        while me.me()["balance"] < TOP_UP:
            if time.monotonic() > deadline:
                raise RuntimeError("the top-up did not settle")
            time.sleep(0.05)
    except Exception as exc:
        ready.put(f"{type(exc).__name__}: {exc}")
        return
    ready.put(None)
    stop_at = go.get()
    rnd = random.Random(spec["n"])
    done = {"order": 0, "code": 0}
    errors: dict[str, int] = {}
    k = 0
    while time.monotonic() < stop_at:
        k += 1
        order_no = f"w-{spec['n']}-{k}"
        try:
            if rnd.random() < spec["code_share"]:
                if not handles:
                    got = me.request("POST", f"/v1/me/devices/{device['device_id']}/handles")
                    handles.extend(got["handles"])
                code = codes.generate(secret, handles.pop(), time.time())
                charge = shop.create_charge(code, 10 + k % 40, order_no, terminal_id="till")
                flow = "code" if charge["state"] == "succeeded" else f"charge {charge['state']}"
            else:
                order = shop.create_order(order_no, 100 + k % 50)
                me.pay_order(order["id"], PIN)
                flow = "order"
        except SaomaError as exc:
            errors[exc.slug] = errors.get(exc.slug, 0) + 1
            continue
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            continue
        if time.monotonic() < stop_at:
            if flow in done:
                done[flow] += 1
            else:
                errors[flow] = errors.get(flow, 0) + 1
    results.put((done, errors))


@dataclass
class Run:
    workers: int
    seconds: float
    by_flow: dict[str, int] = field(default_factory=dict)
    hooks: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def payments(self) -> int:
        return sum(self.by_flow.values())

    @property
    def rate(self) -> float:
        return self.payments / self.seconds


def new_shop(url: str, receiver: Receiver) -> dict[str, str]:
    """The bench's merchant (common.sign_up_shop), as its clients' processes take it."""
    for _ in range(SIGN_UP_TRIES):  # a sign-up can outlast httpx's 5 s on a busy machine
        try:
            shop = sign_up_shop(url, "Workers Bench Shop", receiver.url)
            break
        except httpx.TimeoutException:
            continue
    else:
        raise RuntimeError("the bench's merchant could not sign up")
    shop.close()
    return {"key_id": shop.key_id, "key": signing.private_key_to_b64(shop.private_key)}


def run(workers: int, args: argparse.Namespace, tmp: Path) -> Run:
    name = f"saoma_workers_{uuid.uuid4().hex[:8]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    database_url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    receiver = Receiver()
    proc, url = start_workers(database_url, workers, tmp / f"server-{workers}.log")
    outcome = Run(workers, args.seconds)
    try:
        shop = new_shop(url, receiver)
        ctx = mp.get_context("spawn")
        ready, go, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
        clients = [
            ctx.Process(
                target=client_main,
                args=(
                    {"n": n, "url": url, "code_share": args.code_share, **shop},
                    ready,
                    go,
                    results,
                ),
            )
            for n in range(args.clients)
        ]
        for c in clients:
            c.start()
        failed = [e for e in (ready.get(timeout=SETUP_S) for _ in clients) if e]
        if failed:
            raise RuntimeError(f"clients failed to set up: {failed[:3]}")
        stop_at = time.monotonic() + args.seconds
        for _ in clients:
            go.put(stop_at)
        for _ in clients:
            done, errors = results.get(timeout=args.seconds + 60)
            for flow, count in done.items():
                outcome.by_flow[flow] = outcome.by_flow.get(flow, 0) + count
            for slug, count in errors.items():
                outcome.errors[slug] = outcome.errors.get(slug, 0) + count
        for c in clients:
            c.join(10)
        grace = time.monotonic() + 10
        while len(receiver.arrived) < outcome.payments and time.monotonic() < grace:
            time.sleep(0.1)
        outcome.hooks = len(receiver.arrived)
    finally:
        proc.terminate()
        proc.wait(30)
        receiver.close()
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return outcome


def report(runs: list[Run], args: argparse.Namespace) -> None:
    base = runs[0].rate or float("nan")
    cores = os.cpu_count()
    print(
        f"\nsaoma serve --workers N on PostgreSQL, {args.clients} client processes,"
        f" {args.seconds:g} s each, {cores} cores; baseline: {runs[0].workers} worker(s)\n"
    )
    head = f"{'workers':>7} {'payments/s':>10} {'vs base':>8} {'order+PIN':>9} {'code':>6}"
    print(head + f" {'webhooks':>8}  errors")
    for r in runs:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "-"
        print(
            f"{r.workers:>7} {r.rate:>10.1f} {r.rate / base:>7.2f}x"
            f" {r.by_flow.get('order', 0) / r.seconds:>9.1f}"
            f" {r.by_flow.get('code', 0) / r.seconds:>6.1f}"
            f" {r.hooks:>4}/{r.payments:<4}  {errors}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, the first the baseline")
    parser.add_argument("--code-share", type=float, default=0.5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="saoma-workers-"))
    try:
        runs = [run(int(n), args, tmp) for n in args.workers.split(",")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(runs, args)


if __name__ == "__main__":
    main()
