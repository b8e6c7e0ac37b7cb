"""The statements every payment makes, through SQLAlchemy's ``Connection.execute`` and on the
driver.

On a fresh PostgreSQL database: a payer with a PIN and a session, a merchant with a signing key
and an order. Then, in rounds that alternate the two ways in one process, each statement a
payment's requests make on the driver is run a few thousand times and its CPU time per run is
printed. The reads: the payer's session (``Wallets.for_token``), the signing key with its
merchant (``Merchants.authenticate``), the order with its merchant
(``Merchants.row_with_merchant``). The writes, each committing on its own (``write_one``): the
Idempotency-Key's claim, the request's nonce, and a PIN try claimed and given back with the
check recorded (two statements). Each is run through SQLAlchemy's ``Connection.execute`` (the
baseline), as ``saoma.db.Bare`` on the driver of such a connection, and as ``Bare`` alone on a
pooled driver connection without a ``Connection`` around it (``saoma.db.alone``): there through
psycopg's cursor, and as Saoma runs it, on libpq directly (``saoma.libpq``; a ``Bare`` in a
``Connection`` in autocommit goes there too). Before timing, the four ways are checked to give
the same answer.

The floor, after: one small prepared SELECT through psycopg's cursor, as ``saoma.libpq`` runs
it, and on libpq with psycopg's own wait loop and no adapters at all.

    .venv/bin/python bench/driver.py [--runs 3000] [--rounds 3]

SAOMA_BENCH_POSTGRES_URL names the server (default: the test server).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import make_url

from common import scratch_postgres
from saoma import libpq, signing
from saoma.config import get_settings
from saoma.core.ids import now_us, token_hash
from saoma.db import Bare, alone, migrate, read, write_one
from saoma.merchants import service as merchants
from saoma.payments import idempotency
from saoma.payments import tables as payment_tables
from saoma.wallets import pins
from saoma.wallets import service as wallets
from saoma.wallets import tables as wallet_tables

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def through_the_cursor(way: Callable[[], Any]) -> Callable[[], Any]:
    """``way`` with every statement sent through psycopg's cursor, as before ``saoma.libpq``."""

    def cursor_only() -> Any:
        ready = libpq.ready
        libpq.ready = lambda driver, sql, values: None  # type: ignore[assignment]
        try:
            return way()
        finally:
            libpq.ready = ready  # type: ignore[assignment]

    return cursor_only


def cpu_us(call: Callable[[], Any], n: int) -> float:
    for _ in range(n // 10):
        call()
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) * 1e6 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from saoma.bootstrap import build

    with scratch_postgres(PG_SERVER, "saoma_driver") as url:
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
            platform.wallets.set_pin(consumer.id, "147258", password="bench-password", old_pin=None)
            reads: dict[str, tuple[Bare, dict[str, Any]]] = {
                "payer's session": (
                    wallets._BY_TOKEN,
                    {"hash": token_hash(token), "now": now_us()},
                ),
                "signing key and merchant": (merchants._SIGNER, {"key_id": key_id}),
                "order and merchant": (
                    merchants.with_merchant(payment_tables.orders),
                    {"row_id": order["id"]},
                ),
            }
            fresh = itertools.count()

            def claim_params() -> dict[str, Any]:
                n = next(fresh)
                return {"s": "bench", "k": f"key-{n}", "hash": "h", "now": now_us()}

            def nonce_params() -> dict[str, Any]:
                return {"key_id": key_id, "n": f"nonce-{next(fresh)}", "at": now_us()}

            writes: dict[str, tuple[Bare, Callable[[], dict[str, Any]]]] = {
                "Idempotency-Key claim": (idempotency._INSERT_KEY, claim_params),
                "nonce": (merchants._INSERT_NONCE, nonce_params),
            }
            pin_claim = pins._claim_statement(wallet_tables.consumers)
            pin_passed = wallets._PIN_PASSED_AND_RECORDED

            def pin_params() -> tuple[dict[str, Any], dict[str, Any]]:
                now = now_us()
                claim = {"row_id": consumer.id, "now": now, "stale": now - 10_000_000}
                record = {
                    "check_id": f"pc-{next(fresh)}",
                    "consumer_id": consumer.id,
                    "at": now,
                    "counted_until": now + pins.PIN_PENDING_STALE_US,  # the give-back in time
                }
                return claim, record

            def ways(bare: Bare, params: Callable[[], dict[str, Any]], *, write: bool) -> Any:
                """The statement through ``Connection.execute``, then on the driver."""
                opened = write_one if write else read
                statement = bare.statement

                def through_sqlalchemy() -> Any:
                    with opened(engine) as conn:
                        found = conn.execute(statement, params())
                        return found.first() if not write else 1  # a row written, or raised

                def on_the_driver() -> Any:
                    with opened(engine) as conn:
                        return bare.first(conn, params()) if not write else bare.run(conn, params())

                def alone_on_the_driver() -> Any:
                    with alone(engine, writes=write) as conn:
                        return bare.first(conn, params()) if not write else bare.run(conn, params())

                return (
                    through_sqlalchemy,
                    on_the_driver,
                    through_the_cursor(alone_on_the_driver),
                    alone_on_the_driver,
                )

            def pin_ways() -> Any:
                """A try claimed, then given back with the check recorded: both ways."""

                def through_sqlalchemy() -> Any:
                    claim, record = pin_params()
                    with write_one(engine) as conn:
                        got = conn.execute(pin_claim.statement, claim).first()
                    passed = {"row_id": consumer.id, "failures_before": got.pin_failures}
                    with write_one(engine) as conn:
                        conn.execute(pin_passed.statement, passed | record)
                    return tuple(got)

                def on_the_driver(opened: Any = write_one) -> Any:
                    claim, record = pin_params()
                    with opened(engine) as conn:
                        got = pin_claim.first(conn, claim)
                    passed = {"row_id": consumer.id, "failures_before": got.pin_failures}
                    with opened(engine) as conn:
                        pin_passed.run(conn, passed | record)
                    return tuple(got)

                def alone_on_the_driver() -> Any:
                    return on_the_driver(lambda e: alone(e, writes=True))

                return (
                    through_sqlalchemy,
                    on_the_driver,
                    through_the_cursor(alone_on_the_driver),
                    alone_on_the_driver,
                )

            cases = {
                what: ways(bare, lambda p=p: p, write=False) for what, (bare, p) in reads.items()
            }
            cases |= {what: ways(bare, p, write=True) for what, (bare, p) in writes.items()}
            cases["PIN try claimed and given back"] = pin_ways()
            for what, ways_of in cases.items():
                answers = [way() for way in ways_of]
                assert answers[0] and all(a == answers[0] for a in answers), (what, answers)
            print(f"{args.runs} runs each, CPU per run (µs), PostgreSQL, one process")
            print(
                "| round | statement | Connection.execute (baseline) | Bare in a Connection"
                " | Bare alone, psycopg's cursor | Bare alone, libpq (Saoma) |"
            )
            print("| ---: | --- | ---: | ---: | ---: | ---: |")
            for round_no in range(1, args.rounds + 1):
                for what, ways_of in cases.items():
                    figures = " | ".join(f"{cpu_us(way, args.runs):.0f}" for way in ways_of)
                    print(f"| {round_no} | {what} | {figures} |")
            floor(url, args.runs, args.rounds)
        finally:
            platform.close()


def floor(url: str, runs: int, rounds: int) -> None:
    """What psycopg's Python costs per statement: one small prepared SELECT of three columns run
    through psycopg's cursor (``execute``, ``fetchone``), as ``saoma.libpq`` runs it (psycopg's
    C adapters around one ``PQexecPrepared``) and straight on libpq through ``psycopg.pq``
    (send the prepared statement, wait with psycopg's own generator, read the three values), on
    one connection in autocommit."""
    import psycopg
    from psycopg import generators, waiting

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        pgconn = conn.pgconn
        pgconn.prepare(b"floor", b"SELECT $1::int8, $2::text, $3::int8", None)
        n = itertools.count()

        def cursor() -> Any:
            with conn.cursor() as cur:
                values = (next(n), "abc", 7)
                cur.execute("SELECT %s::int8, %s::text, %s::int8", values, prepare=True)
                return cur.fetchone()

        def saoma() -> Any:
            values = {"a": next(n), "b": "abc", "c": 7}
            sql = "SELECT %(a)s::int8, %(b)s::text, %(c)s::int8"
            statement = libpq.ready(conn, sql, values)
            assert statement is not None
            return libpq.run(conn, statement, sql, values, fetch=True, every=False, describe=False)[
                1
            ]

        def bare_libpq() -> Any:
            pgconn.send_query_prepared(b"floor", [str(next(n)).encode(), b"abc", b"7"], None, 0)
            res = waiting.wait(generators.execute(pgconn), pgconn.socket)[-1]
            return int(res.get_value(0, 0)), res.get_value(0, 1).decode(), int(res.get_value(0, 2))

        assert cursor()[1:] == saoma()[1:] == bare_libpq()[1:] == ("abc", 7)
        print()
        print(f"{runs} runs each, CPU per statement (µs): psycopg's cursor and libpq directly")
        print("| round | psycopg's cursor | saoma.libpq (Saoma) | libpq, no adapters (the floor) |")
        print("| ---: | ---: | ---: | ---: |")
        for round_no in range(1, rounds + 1):
            figures = " | ".join(f"{cpu_us(way, runs):.0f}" for way in (cursor, saoma, bare_libpq))
            print(f"| {round_no} | {figures} |")


if __name__ == "__main__":
    main()
