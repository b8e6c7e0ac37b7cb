"""The reads every payment makes, through SQLAlchemy's ``Connection.execute`` and on the driver.

On a fresh PostgreSQL database: a payer's session, a merchant with a signing key and an order.
Then, in rounds that alternate the two ways in one process, each of the three reads a payment's
requests make is run a few thousand times and its CPU time per read is printed: the payer's
session (``Wallets.for_token``), the signing key with its merchant (``Merchants.authenticate``)
and the order with its merchant (``Merchants.row_with_merchant``). Saoma runs them the second
way (``saoma.db.Bare``); the first is the baseline.

    .venv/bin/python bench/reads.py [--reads 3000] [--rounds 3]

SAOMA_BENCH_POSTGRES_URL names the server (default: the test server).
"""

from __future__ import annotations

import argparse
import base64
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, make_url, text

from saoma import signing
from saoma.config import get_settings
from saoma.core.ids import now_us, token_hash
from saoma.db import Bare, migrate, read
from saoma.merchants import service as merchants
from saoma.payments import tables as payment_tables
from saoma.wallets import service as wallets

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def cpu_us(call: Callable[[], Any], n: int) -> float:
    for _ in range(n // 10):
        call()
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) * 1e6 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from saoma.bootstrap import build

    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    name = f"saoma_reads_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        platform = build(get_settings().model_copy(update={"database_url": url}))
        try:
            consumer = platform.wallets.sign_up("+8613700000000", "bench-password")
            token = platform.wallets.new_session(consumer.id)
            shop = platform.merchants.sign_up(
                login="reads@example.cn", password="bench-password", name="Reads", city="SZ"
            )
            key = signing.new_private_key()
            public = base64.b64encode(signing.public_key_bytes(key)).decode()
            key_id = platform.merchants.add_key(shop.id, public)
            order, _ = platform.payments.create_order(
                shop, merchant_order_no="R-1", amount=100, currency="CNY"
            )
            engine = platform.engine
            reads: dict[str, tuple[Any, dict[str, Any]]] = {
                "payer's session": (
                    wallets._BY_TOKEN,
                    {"hash": token_hash(token), "now": now_us()},
                ),
                "signing key and merchant": (merchants._SIGNER, {"key_id": key_id}),
                "order and merchant": (
                    merchants._with_merchant(payment_tables.orders),
                    {"row_id": order["id"]},
                ),
            }

            def through_sqlalchemy(bare: Bare, params: dict[str, Any]) -> Callable[[], Any]:
                statement = bare._statement

                def call() -> Any:
                    with read(engine) as conn:
                        return conn.execute(statement, params).first()

                return call

            def on_the_driver(bare: Bare, params: dict[str, Any]) -> Callable[[], Any]:
                def call() -> Any:
                    with read(engine) as conn:
                        return bare.first(conn, params)

                return call

            for what, (bare, params) in reads.items():
                assert through_sqlalchemy(bare, params)() is not None, what
                assert tuple(through_sqlalchemy(bare, params)()) == tuple(
                    on_the_driver(bare, params)()
                ), what
            print(f"{args.reads} reads each, CPU per read (µs), PostgreSQL, one process")
            print("| round | read | Connection.execute (baseline) | on the driver (Bare) |")
            print("| ---: | --- | ---: | ---: |")
            for round_no in range(1, args.rounds + 1):
                for what, (bare, params) in reads.items():
                    before = cpu_us(through_sqlalchemy(bare, params), args.reads)
                    after = cpu_us(on_the_driver(bare, params), args.reads)
                    print(f"| {round_no} | {what} | {before:.0f} | {after:.0f} |")
        finally:
            platform.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
