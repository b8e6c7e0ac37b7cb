"""What one payment asks of PostgreSQL: statements sent and server CPU, one payment at a time.

Starts ``saoma serve`` on a fresh PostgreSQL database with ``log_statement = 'all'`` set for that
database only, makes one merchant (a webhook receiver in this process) and one consumer, and
then pays ``--payments`` orders one after another: the merchant's signed ``POST /v1/orders``,
the payer's ``POST /v1/orders/{id}/pay`` with the PIN, the webhook. It counts the statements
the server log shows for the database (BEGIN and COMMIT included: each is a round trip) and
reads the server process's CPU time; what the server's pollers send by the clock (measured
while it is idle) is taken off. The baseline, from the same log: what pgbench's built-in
TPC-B-like transaction sends (BEGIN, three UPDATEs, a SELECT, an INSERT, END), run here for
the same number of transactions.

Statement counts hardly depend on how busy the machine is; CPU and rates do.

    .venv/bin/python bench/statements.py [--payments 300] [--kind order|code]

``--kind code``: the payer's phone shows a payment code instead, and the merchant charges it
(``POST /v1/charges``, settled under the payer's no-PIN limit), as half of ``bench/e2e.py``'s
payments are.

SAOMA_BENCH_POSTGRES_URL names the PostgreSQL server (default: the test server);
SAOMA_BENCH_POSTGRES_LOG the file its log goes to (default: Debian's for PostgreSQL 15). Setting
log_statement for a database needs a superuser.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from common import Receiver, sign_up_shop, start_server
from saoma.client import ConsumerClient
from saoma.paycode import codes

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_LOG = Path(
    os.environ.get("SAOMA_BENCH_POSTGRES_LOG", "/var/log/postgresql/postgresql-15-main.log")
)
PIN = "246810"


def logged(database: str) -> int:
    """Statements the server log shows for ``database`` so far."""
    tag = f"@{database} "
    with PG_LOG.open(errors="replace") as log:
        return sum(
            1 for line in log if tag in line and ("statement: " in line or " execute " in line)
        )


def count_after(database: str, pause: float = 0.3) -> tuple[int, float]:
    """(statements logged for ``database``, when) once what was sent has reached the log."""
    time.sleep(pause)
    return logged(database), time.perf_counter()


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def saoma(admin: Engine, payments: int, kind: str = "order") -> tuple[float, float, float]:
    """(statements, server CPU ms, payments per second) per order and payment, or per charge
    of a payment code (``kind`` "code": settled under the payer's no-PIN limit)."""
    name = f"saoma_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'"))
    url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="saoma-bench-"))
    proc, base = start_server(url, tmp / "server.log")
    receiver = Receiver()
    try:
        shop = sign_up_shop(base, "Bench Shop", receiver.url)
        payer = ConsumerClient(base)
        payer.sign_up(f"+86137{secrets.randbelow(10**8):08d}", "bench-password")
        payer.set_pin(PIN, password="bench-password")
        payer.top_up(1_000_000)
        while payer.me()["balance"] < 1_000_000:
            time.sleep(0.05)

        limits = {"per_payment": 1_000, "per_day": 200_000, "pin": PIN}  # the most allowed
        payer.request("PUT", "/v1/me/no-pin-limit", limits)
        device = payer.request("POST", "/v1/me/devices", {"label": "bench phone"})
        secret = base64.b64decode(device["secret"])
        handles: list[str] = list(device["handles"])

        def pay(label: str, n: int) -> None:
            for i in range(n):
                if kind == "code":
                    if not handles:
                        path = f"/v1/me/devices/{device['device_id']}/handles"
                        handles.extend(payer.request("POST", path)["handles"])
                    code = codes.generate(secret, handles.pop(), time.time())
                    shop.create_charge(code, 100, f"{label}-{i}", terminal_id="till-1")
                    continue
                order = shop.create_order(f"{label}-{i}", 100)
                payer.pay_order(order["id"], PIN)
            while not all(f"{label}-{i}" in receiver.arrived for i in range(n)):
                time.sleep(0.01)

        pay("warm", 20)
        # The server's own pollers (webhooks due, the live feed, expired holds) also send
        # statements, by the clock: measured while idle, then taken off.
        idle0, at0 = count_after(name)
        idle1, at1 = count_after(name, 3.0)
        background = (idle1 - idle0) / (at1 - at0)
        count0, cpu0, t0 = logged(name), cpu_s(proc.pid), time.perf_counter()
        pay("measured", payments)
        elapsed = time.perf_counter() - t0
        cpu1 = cpu_s(proc.pid)
        count1, at = count_after(name)
        statements = count1 - count0 - background * (at - t0)
        return statements / payments, (cpu1 - cpu0) * 1000 / payments, payments / elapsed
    finally:
        receiver.close()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pgbench(admin: Engine, transactions: int) -> float:
    """Statements per pgbench TPC-B-like transaction, from the same log."""
    name = f"pgbench_stmt_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    server = make_url(PG_SERVER)
    args = ["-h", server.host or "127.0.0.1", "-p", str(server.port or 5432)]
    args += ["-U", server.username or "postgres"]
    try:
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "1", *args, name], check=True, capture_output=True
        )
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'"))
        before = logged(name)
        subprocess.run(
            ["pgbench", "-c", "1", "-t", str(transactions), "-b", "tpcb-like", *args, name],
            check=True,
            capture_output=True,
        )
        return (count_after(name)[0] - before) / transactions
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument(
        "--kind", choices=["order", "code"], default="order", help="what each payment is"
    )
    args = parser.parse_args()
    if not os.access(PG_LOG, os.R_OK):
        raise SystemExit(f"cannot read PostgreSQL's log at {PG_LOG} (SAOMA_BENCH_POSTGRES_LOG)")
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        statements, cpu_ms, rate = saoma(admin, args.payments, args.kind)
        baseline = pgbench(admin, args.payments)
    finally:
        admin.dispose()
    what = "order and payment" if args.kind == "order" else "charge of a payment code"
    made = "orders paid" if args.kind == "order" else "payment codes charged"
    print(f"{args.payments} {made} one after another, each with its webhook")
    print(f"  Saoma:   {statements:5.1f} statements per {what}")
    print(f"           {cpu_ms:5.1f} ms of server CPU per {what}, {rate:.0f} per second")
    print(f"  pgbench: {baseline:5.1f} statements per TPC-B-like transaction (baseline)")
    print(f"  ratio:   {statements / baseline:5.1f}")


if __name__ == "__main__":
    main()
