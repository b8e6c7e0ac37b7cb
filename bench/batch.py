"""The ledger's batch thread, per order payment: its CPU and its waits on PostgreSQL.

On a fresh PostgreSQL database, in this process: one approved merchant and ``--payers`` funded
payers with a PIN. Each round, every payer pays ``--orders`` orders of their own, one after
another, all payers at once from their own threads (as a server's request threads do), through
``Payments.pay_order``. The ledger's batch thread is timed around each batch it applies
(``time.thread_time``), and the pipeline's waits inside them (``psycopg.Pipeline.sync``: a
hook looking at a statement's result) are counted, as are the requests applied again on their
own after their batch failed. The payers' threads contend for the GIL with the batch thread, as
in a server.

Printed per round: payments, batches, payments per batch, the batch thread's CPU per payment,
its waits per batch. Run it with the code before a change (``PYTHONPATH=<checkout>/src``) and
after, in turn: the figures compare within a run of each.

    .venv/bin/python bench/batch.py [--payers 16] [--orders 40] [--rounds 3]

SAOMA_BENCH_POSTGRES_URL names the server (default: the test server).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from common import pct, scratch_postgres
from saoma.config import get_settings
from saoma.db import migrate
from saoma.kyc.service import approve_directly
from saoma.ledger import Transfer, TransferCode
from saoma.observe import metrics

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PIN = "147258"
PASSWORD = "bench-password"


class Meter:
    """The batch thread's CPU and pipeline waits, in the batches it applies with hooks."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.waits = 0
        self.batches = 0
        self.alone = 0  # requests applied again on their own, after their batch failed
        self.inside = threading.local()

    def install(self, committer: Any) -> None:
        commit = committer._commit
        sync = psycopg.Pipeline.sync
        meter = self

        def timed(requests: list[Any], *args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            meter.inside.on = True
            try:
                return commit(requests, *args, **kwargs)
            finally:
                meter.inside.on = False
                meter.cpu_s += time.thread_time() - start  # a request applied alone counts too
                if not getattr(meter.inside, "alone", False):
                    meter.batches += 1

        def counted(pipeline: Any) -> Any:
            if getattr(meter.inside, "on", False):
                meter.waits += 1
            return sync(pipeline)

        one_by_one = committer._commit_one_by_one

        def alone(requests: list[Any]) -> None:
            meter.alone += len(requests)
            meter.inside.alone = True
            try:
                one_by_one(requests)
            finally:
                meter.inside.alone = False

        committer._commit = timed
        committer._commit_one_by_one = alone
        psycopg.Pipeline.sync = counted  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payers", type=int, default=16)
    parser.add_argument("--orders", type=int, default=40, help="per payer per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from saoma.bootstrap import build

    with scratch_postgres(PG_SERVER, "saoma_batch") as url:
        migrate(url)
        platform = build(get_settings().model_copy(update={"database_url": url}))
        try:
            run(platform, args)
        finally:
            platform.close()


def run(platform: Any, args: argparse.Namespace) -> None:
    shop = platform.merchants.sign_up(
        login="batch@example.cn", password=PASSWORD, name="Batch", city="SZ"
    )
    approve_directly(platform.engine, shop.id, by="bench")
    payers = []
    for i in range(args.payers):
        payer = platform.wallets.sign_up(f"+86137{i:08d}", PASSWORD)
        platform.wallets.set_pin(payer.id, PIN, password=PASSWORD, old_pin=None)
        fund = Transfer(
            f"fund-{payer.id}",
            platform.payments.bank_account,
            payer.account_id,
            10**9,
            TransferCode.TOP_UP,
        )
        platform.ledger.create_transfers([fund])
        payers.append(platform.wallets.get(payer.id))
    meter = Meter()
    meter.install(platform.ledger.committer)
    print(f"{args.payers} payers at once, {args.orders} orders each per round")
    print(
        "| round | payments | batches | payments per batch | batch CPU per payment"
        " | waits per batch | applied again alone | a payment's wall time p50 / p99"
        " | of which the ledger's p50 / p99 |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in range(args.rounds):
        orders = [
            [
                platform.payments.create_order(
                    shop, merchant_order_no=f"R{n}-{p}-{i}", amount=100, currency="CNY"
                )[0]["id"]
                for i in range(args.orders)
            ]
            for p in range(args.payers)
        ]
        meter.cpu_s, meter.waits, meter.batches, meter.alone = 0.0, 0, 0, 0

        took: list[float] = []
        waited: list[float] = []
        metrics.ledger_waited = waited.append  # the ledger's part of each payment

        def pay(p: int, mine: list[str], took: list[float]) -> None:
            for order_id in mine:
                start = time.perf_counter()
                platform.payments.pay_order(payers[p], order_id, pin=PIN)
                took.append(time.perf_counter() - start)

        with ThreadPoolExecutor(args.payers) as pool:
            for f in [pool.submit(pay, p, mine, took) for p, mine in enumerate(orders)]:
                f.result()
        paid = args.payers * args.orders
        print(
            f"| {n + 1} | {paid} | {meter.batches} | {paid / meter.batches:.1f}"
            f" | {meter.cpu_s * 1e6 / paid:.0f} µs | {meter.waits / meter.batches:.2f}"
            f" | {meter.alone} | {pct(took, 0.5) * 1e3:.1f} / {pct(took, 0.99) * 1e3:.1f} ms"
            f" | {pct(waited, 0.5) * 1e3:.1f} / {pct(waited, 0.99) * 1e3:.1f} ms |"
        )


if __name__ == "__main__":
    main()
