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

``--instructions`` runs the server under valgrind's callgrind and counts the machine
instructions it executes per payment instead of its CPU time: the same code, database and
inputs give the same count within about a percent whatever else the machine is doing, so a
change of a few percent shows (the CPU time of a run moves by a fifth here). The server is
about fifty times slower under it: 60 payments are enough and take about three minutes. What its
pollers execute by the clock is measured while it is idle and taken off, as for statements.
The baseline, in the same server: instructions per ``GET /healthz`` (a small JSON answer).

    .venv/bin/python bench/statements.py [--payments 300] [--kind order|code] [--instructions]

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
from dataclasses import dataclass
from pathlib import Path

import httpx
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


class Instructions:
    """The instructions a server run under callgrind executes, counted between two calls."""

    def __init__(self, tmp: Path) -> None:
        self.out = tmp / "callgrind"
        self.command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}.%p"]
        self.pid = 0

    def _control(self, flag: str) -> None:
        subprocess.run(["callgrind_control", flag, str(self.pid)], check=True, capture_output=True)

    def start(self) -> None:
        self._control("--zero")

    def stop(self) -> int:
        """Instructions since :meth:`start`: callgrind writes them to a new numbered dump."""
        self._control("--dump")
        dumps = self.out.parent.glob(f"{self.out.name}.{self.pid}.*")
        newest = max(dumps, key=lambda d: int(d.name.rsplit(".", 1)[1]))
        for line in newest.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
        raise RuntimeError(f"no instruction total in {newest}")

    def idle_per_s(self, seconds: float = 10.0) -> float:
        """What the server's pollers execute by the clock, per second, while nothing is asked."""
        self.start()
        t0 = time.perf_counter()
        time.sleep(seconds)
        return self.stop() / (time.perf_counter() - t0)


@dataclass
class Run:
    statements: float  # per payment, the pollers' taken off
    cpu_ms: float  # server CPU per payment (not comparable under callgrind)
    rate: float  # payments per second
    instructions: float = 0.0  # per payment, the pollers' taken off (under callgrind)
    healthz_instructions: float = 0.0  # per GET /healthz, the baseline


def saoma(admin: Engine, payments: int, kind: str = "order", counted: bool = False) -> Run:
    """What one order and payment costs, or one charge of a payment code (``kind`` "code":
    settled under the payer's no-PIN limit); with ``counted``, in instructions too."""
    name = f"saoma_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'"))
    url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="saoma-bench-"))
    counter = Instructions(tmp) if counted else None
    proc, base = start_server(url, tmp / "server.log", counter.command if counter else None)
    if counter:
        counter.pid = proc.pid
    receiver = Receiver()
    try:
        timeout = 300.0 if counter else 10.0  # the server is slower under callgrind
        shop = sign_up_shop(base, "Bench Shop", receiver.url, timeout)
        payer = ConsumerClient(base, timeout=timeout)
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
        idle = counter.idle_per_s() if counter else 0.0
        count0, cpu0, t0 = logged(name), cpu_s(proc.pid), time.perf_counter()
        if counter:
            counter.start()
        pay("measured", payments)
        elapsed = time.perf_counter() - t0
        executed = counter.stop() if counter else 0
        cpu1 = cpu_s(proc.pid)
        count1, at = count_after(name)
        statements = count1 - count0 - background * (at - t0)
        run = Run(statements / payments, (cpu1 - cpu0) * 1000 / payments, payments / elapsed)
        if counter:
            run.instructions = (executed - idle * elapsed) / payments
            with httpx.Client(base_url=base, timeout=timeout) as http:
                counter.start()
                t1 = time.perf_counter()
                for _ in range(payments):
                    http.get("/healthz").raise_for_status()
                executed = counter.stop()
                run.healthz_instructions = (executed - idle * (time.perf_counter() - t1)) / payments
        return run
    finally:
        receiver.close()
        proc.terminate()
        try:  # under callgrind the server writes its last dump as it exits, slowly
            proc.wait(timeout=120 if counter else 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
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
    parser.add_argument(
        "--instructions", action="store_true", help="count the server's instructions (callgrind)"
    )
    args = parser.parse_args()
    if args.instructions and not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    if not os.access(PG_LOG, os.R_OK):
        raise SystemExit(f"cannot read PostgreSQL's log at {PG_LOG} (SAOMA_BENCH_POSTGRES_LOG)")
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        run = saoma(admin, args.payments, args.kind, args.instructions)
        baseline = pgbench(admin, args.payments)
    finally:
        admin.dispose()
    what = "order and payment" if args.kind == "order" else "charge of a payment code"
    made = "orders paid" if args.kind == "order" else "payment codes charged"
    print(f"{args.payments} {made} one after another, each with its webhook")
    print(f"  Saoma:   {run.statements:5.1f} statements per {what}")
    if args.instructions:
        print(f"           {run.instructions / 1e6:5.2f} million server instructions per {what}")
        print(
            f"           {run.healthz_instructions / 1e6:5.2f} million per GET /healthz (baseline)"
        )
        print(f"           ratio {run.instructions / run.healthz_instructions:.1f}")
    else:
        print(
            f"           {run.cpu_ms:5.1f} ms of server CPU per {what}, {run.rate:.0f} per second"
        )
    print(f"  pgbench: {baseline:5.1f} statements per TPC-B-like transaction (baseline)")
    print(f"  ratio:   {run.statements / baseline:5.1f}")


if __name__ == "__main__":
    main()
