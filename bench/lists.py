"""A page of a busy merchant's holds, with and without the index migration 0008_lists adds.

Makes a fresh PostgreSQL database at head, writes ``--holds`` holds of which half belong to one
merchant (a bike-sharing company) and the rest to 1,000 small shops, and times the query behind
``GET /v1/merchant/holds?limit=20`` for the big merchant and for a small shop: first with
``ix_preauths_merchant``, then, as the baseline in the same run, with it dropped (what the list
cost before: the (merchant_id, merchant_ref) unique index finds the rows, then all are sorted).

    .venv/bin/python bench/lists.py [--holds 200000] [--runs 200]

SAOMA_BENCH_POSTGRES_URL names the PostgreSQL server (default: the test server).
"""

from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from common import scratch_postgres
from saoma.db import migrate
from saoma.pagination import newest_first
from saoma.payments import tables as m

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SHOPS = 1_000


def fill(engine: Engine, holds: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO merchants (id, login, password_hash, name, city, category_code,"
                " account_id, currency, fee_ppm, webhook_secret, created_at_us)"
                " SELECT 'm' || g, 'shop' || g, 'x', 'Shop', 'Shenzhen', '5814', 10000 + g,"
                " 'CNY', 0, 'whsec_x', 0 FROM generate_series(0, :shops) g"
            ),
            {"shops": SHOPS},
        )
        conn.execute(
            text(
                "INSERT INTO preauths (id, merchant_id, merchant_ref, amount, currency, state,"
                " transfer_id, expires_at_us, created_at_us)"
                " SELECT 'ha_' || g,"
                " CASE WHEN g % 2 = 0 THEN 'm0' ELSE 'm' || (1 + g % :shops) END, 'ride-' || g,"
                " 100, 'CNY', 'requested', 'hold:' || g, 9000000000000000,"
                " 1700000000000000 + g FROM generate_series(1, :holds) g"
            ),
            {"shops": SHOPS, "holds": holds},
        )
        conn.execute(text("ANALYZE preauths"))


def page_ms(engine: Engine, merchant_id: str, runs: int) -> float:
    query = newest_first(
        select(m.preauths).where(m.preauths.c.merchant_id == merchant_id),
        m.preauths.c.created_at_us,
        m.preauths.c.id,
        None,
        20,
    )
    with engine.connect() as conn:
        conn.execute(query).all()
        started = time.perf_counter()
        for _ in range(runs):
            conn.execute(query).all()
        return (time.perf_counter() - started) / runs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holds", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with scratch_postgres(PG_SERVER, "saoma_bench_lists") as url:
        migrate(url)
        engine = create_engine(url)
        fill(engine, args.holds)
        print(f"{args.holds:,} holds, half of them one merchant's; ms per page of 20:")
        for label in ("with ix_preauths_merchant", "without (before 0008_lists)"):
            big, small = page_ms(engine, "m0", args.runs), page_ms(engine, "m1", args.runs)
            print(f"  {label:28} big merchant {big:8.3f}   small shop {small:8.3f}")
            with engine.begin() as conn:
                conn.execute(text("DROP INDEX IF EXISTS ix_preauths_merchant"))
        engine.dispose()


if __name__ == "__main__":
    main()
