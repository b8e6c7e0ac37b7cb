"""End to end: payments per second over the real HTTP API, beside PostgreSQL's own limit.

For each database (a temporary SQLite file; a fresh PostgreSQL database, dropped at the end) it
starts ``saoma serve`` (``--servers`` processes on the same database, each on its own port: the
command runs one process), a webhook receiver in this process, a few merchants whose webhook_url
points at it, and ``--clients`` client processes, each with its own HTTP clients, its own consumer
and one of the merchants. Every client loops as fast as it can over one of two flows:

- order + PIN: the merchant creates a dynamic order (a signed request), the consumer pays it
  with the PIN (``POST /v1/orders/{id}/pay``);
- payment code (``--code-share`` of the payments): the consumer has enrolled a device
  (``POST /v1/me/devices``) and allowed small payments without the PIN; the device's code is made
  with ``saoma.paycode.codes.generate`` and the merchant charges it (``POST /v1/charges``,
  signed), which settles at once.

Latency is from the start of the confirming request (the consumer's pay call; for a code, the
merchant's charge, as the payer confirms nothing) to the merchant's webhook ``payment.succeeded``
arriving at the receiver, both read on the system-wide monotonic clock. CPU is read from
/proc/<pid>/stat (utime + stime) at the start and end of the measured window: the server processes
(which also deliver the webhooks), the PostgreSQL backends serving the database, the client
processes, this process (the receiver), and the whole machine (/proc/stat, so anything else
running counts too), each divided by the payments made.

In the same run the baseline is PostgreSQL's own limit for a bank transfer on this machine:
``pgbench -i -s <clients>`` into a scratch database, then ``pgbench -c <clients> -j 2 -T <seconds>
-b tpcb-like`` (the built-in TPC-B-like script: three updates, a select and an insert per
transaction), and the ratio of Saoma's payments per second to pgbench's transactions per second.

Then, with ``--overload-clients`` (64) clients against the same servers, whose each process
works on SAOMA_WORKING_MAX requests at once and refuses one not started within
SAOMA_QUEUE_WAIT_MS: the share of payment requests refused (503 ``overloaded`` with
Retry-After), and the latency of those accepted.

``--flame FILE.svg`` samples the first server process with py-spy over the measured window and
writes a flame graph (``{db}`` in the name is replaced by the database); with
``--code-share 0`` it shows one kind of payment, orders paid with the PIN.

    .venv/bin/python bench/e2e.py [--seconds 15] [--clients 16] [--db sqlite,postgres]
                                  [--servers 2] [--code-share 0.5] [--warmup 2]
                                  [--overload-clients 64] [--flame bench/flame-{db}.svg]

SAOMA_BENCH_POSTGRES_URL names the PostgreSQL server (default: the test server).
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import make_url

from common import DATABASES, Receiver, approve, pct, start_server
from saoma import signing
from saoma.client import ConsumerClient, MerchantClient, SaomaError
from saoma.paycode import codes

PG_SERVER = os.environ.get(
    "SAOMA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PIN = "246810"
PASSWORD = "bench-password"
TOP_UP = 5_000_000  # fen per consumer: no payment in a run fails for want of funds
NO_PIN_PER_PAYMENT = 1_000
NO_PIN_PER_DAY = 200_000  # the most allowed: 4,000+ codes of at most 49 fen a day
EXTRA_HANDLE_BATCHES = 2  # fetched before the run (100 handles each); more are fetched if needed
SETUP_TRIES_MAX = 120  # a client setting up while the servers refuse work (503), a second apart
CLK_TCK = os.sysconf("SC_CLK_TCK")


def now() -> float:
    """CLOCK_MONOTONIC: one clock for every process on the machine."""
    return time.monotonic()


# --- CPU accounting from /proc -------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of one process, in seconds; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name may hold spaces; fields after it
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies over every core since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


class CpuWatch:
    """CPU seconds used by a changing set of processes during a window.

    The set is polled: a process present at the start counts from then, one that appears later
    from its birth, one that ends with the last value seen (at most ``every`` seconds stale).
    """

    def __init__(self, pids: Callable[[], list[int]], every: float = 0.25) -> None:
        self.pids = pids
        self.every = every
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self, initial: bool) -> None:
        for pid in self.pids():
            cpu = proc_cpu_s(pid)
            if cpu is None:
                continue
            if pid not in self.first:
                self.first[pid] = cpu if initial else 0.0
            self.last[pid] = cpu

    def start(self) -> None:
        self._sample(initial=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._sample(initial=False)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample(initial=False)
        return sum(self.last[p] - self.first[p] for p in self.last)


class MachineWatch:
    def start(self) -> None:
        self.busy0, self.total0 = machine_cpu()
        self.t0 = now()

    def stop(self) -> tuple[float, float]:
        """(busy CPU seconds, busy fraction of all cores) since start."""
        busy, total = machine_cpu()
        cores = os.cpu_count() or 1
        fraction = (busy - self.busy0) / max(1, total - self.total0)
        return fraction * cores * (now() - self.t0), fraction


def backend_pids(dbname: str) -> Callable[[], list[int]]:
    """The PostgreSQL backends connected to ``dbname`` (asked over a connection of our own)."""
    conn = psycopg.connect(pg_dsn(make_url(PG_SERVER).database or "postgres"), autocommit=True)

    def pids() -> list[int]:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    return pids


# --- the merchant's webhook endpoint --------------------------------------------------------------


# --- servers and databases ------------------------------------------------------------------------


def pg_dsn(database: str) -> str:
    url = make_url(PG_SERVER).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


def pg_admin(sql: str) -> None:
    with psycopg.connect(pg_dsn(make_url(PG_SERVER).database or "postgres"), autocommit=True) as c:
        c.execute(sql)  # type: ignore[arg-type]


Servers = list[tuple[subprocess.Popen[bytes], str]]


def start_servers(database_url: str, count: int, tmp: Path) -> Servers:
    """``count`` server processes on one database, one after the other (the first migrates)."""
    servers: Servers = []
    for n in range(count):
        servers.append(start_server(database_url, tmp / f"server-{n}.log"))
    return servers


def stop_servers(servers: Servers) -> None:
    for proc, _ in servers:
        proc.terminate()
    for proc, _ in servers:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def new_shop(url: str, receiver: Receiver, n: int) -> dict[str, str]:
    key = signing.new_private_key()
    r = httpx.post(
        url + "/v1/merchants",
        json={
            "login": f"e2e-{n}-{secrets.token_hex(3)}@example.cn",
            "password": PASSWORD,
            "name": f"E2E Shop {n}",
            "city": "Shenzhen",
            "webhook_url": receiver.url,
            "public_key": base64.b64encode(signing.public_key_bytes(key)).decode(),
        },
        timeout=30,
    )
    r.raise_for_status()
    approve(DATABASES[url], r.json()["merchant"]["id"])
    return {"key_id": r.json()["key_id"], "key": signing.private_key_to_b64(key)}


# --- a client process -----------------------------------------------------------------------------


def patiently(call: Callable[[], Any]) -> Any:
    """A set-up call, sent again while a busy server refuses it (503 overloaded: nothing of it
    was done), after the second its Retry-After asks for."""
    for _ in range(SETUP_TRIES_MAX - 1):
        try:
            return call()
        except SaomaError as exc:
            if exc.slug != "overloaded":
                raise
            time.sleep(1.0)
    return call()


def client_main(spec: dict[str, Any], ready: Any, go: Any, window: Any, results: Any) -> None:
    """One client process: set up its consumer, wait for the start, pay until the window closes.

    Sends back (n, records, errors, code fetches, payment requests sent, requests refused with
    503), a record being (flow, merchant_order_no, start, end) of each acknowledged payment."""
    n = spec["n"]
    url = spec["url"]
    try:
        shop = MerchantClient(
            url,
            key_id=spec["shop"]["key_id"],
            private_key=signing.private_key_from_b64(spec["shop"]["key"]),
            timeout=30,
        )
        me = ConsumerClient(url, timeout=30)
        phone = f"+86137{secrets.randbelow(10**8):08d}"
        patiently(lambda: me.sign_up(phone, PASSWORD))
        patiently(lambda: me.set_pin(PIN, password=PASSWORD))
        patiently(lambda: me.top_up(TOP_UP))
        limits = {"per_payment": NO_PIN_PER_PAYMENT, "per_day": NO_PIN_PER_DAY, "pin": PIN}
        patiently(lambda: me.request("PUT", "/v1/me/no-pin-limit", limits))
        label = {"label": f"e2e phone {n}"}
        device = patiently(lambda: me.request("POST", "/v1/me/devices", label))
        secret = base64.b64decode(device["secret"])
        handles: list[str] = list(device["handles"])

        def more_handles() -> None:
            path = f"/v1/me/devices/{device['device_id']}/handles"
            handles.extend(patiently(lambda: me.request("POST", path))["handles"])

        for _ in range(EXTRA_HANDLE_BATCHES):
            more_handles()
        deadline = now() + 60
        while patiently(me.me)["balance"] < TOP_UP:
            if now() > deadline:
                raise RuntimeError("the top-up did not settle")
            time.sleep(0.05)
    except Exception as exc:
        ready.put((n, f"{type(exc).__name__}: {exc}"))
        return
    ready.put((n, None))
    go.wait()
    stop_at = window[1]
    rnd = random.Random(spec["seed"])
    records: list[tuple[str, str, float, float]] = []
    errors: dict[str, int] = {}
    fetches = 0
    calls = refused = 0  # payment requests sent, and those a busy server refused (503)
    k = 0
    while now() < stop_at:
        k += 1
        calls += 1
        order_no = f"e2e-{n}-{k}"
        try:
            if rnd.random() < spec["code_share"]:
                if not handles:
                    more_handles()
                    fetches += 1
                code = codes.generate(secret, handles.pop(), time.time())
                t0 = now()
                charge = shop.create_charge(code, 10 + k % 40, order_no, terminal_id=f"till-{n}")
                t1 = now()
                if charge["state"] != "succeeded":
                    slug = f"charge {charge['state']}"
                    errors[slug] = errors.get(slug, 0) + 1
                    continue
                records.append(("code", order_no, t0, t1))
            else:
                order = shop.create_order(order_no, 100 + k % 50)
                calls += 1
                t0 = now()
                me.pay_order(order["id"], PIN)
                t1 = now()
                records.append(("order", order_no, t0, t1))
        except SaomaError as exc:
            errors[exc.slug] = errors.get(exc.slug, 0) + 1
            refused += exc.status == 503
            if exc.status == 503:  # as a client should: come back after its Retry-After (1 s)
                time.sleep(1.0)
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
    results.put((n, records, errors, fetches, calls, refused))
    shop.close()
    me.close()


# --- one database ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    servers: int
    clients: int
    seconds: float
    payments: int = 0
    by_flow: dict[str, int] = field(default_factory=dict)
    hooks: list[float] = field(default_factory=list)
    hooks_by_flow: dict[str, list[float]] = field(default_factory=dict)
    responses: list[float] = field(default_factory=list)
    missing_hooks: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    fetches: int = 0
    calls: int = 0
    refused: int = 0
    server_cpu: float = 0.0
    server_cpu_each: list[float] = field(default_factory=list)
    pg_cpu: float | None = None
    client_cpu: float = 0.0
    bench_cpu: float = 0.0
    machine_cpu: float = 0.0
    machine_busy: float = 0.0

    @property
    def ours(self) -> float:
        return self.server_cpu + (self.pg_cpu or 0.0) + self.client_cpu + self.bench_cpu

    @property
    def rate(self) -> float:
        return self.payments / self.seconds


def run_db(kind: str, args: argparse.Namespace) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="saoma-e2e-"))
    dbname = ""
    if kind == "sqlite":
        database_url = f"sqlite:///{tmp / 'e2e.db'}"
    else:
        dbname = f"saoma_e2e_{uuid.uuid4().hex[:8]}"
        pg_admin(f'CREATE DATABASE "{dbname}"')
        database_url = make_url(PG_SERVER).set(database=dbname).render_as_string(False)
    receiver = Receiver()
    servers: Servers = []
    procs: list[Any] = []
    try:
        servers = start_servers(database_url, args.servers, tmp)
        shops = [
            new_shop(servers[i % len(servers)][1], receiver, i)
            for i in range(max(1, args.clients // 4))
        ]
        ctx = mp.get_context("spawn")
        ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        window = ctx.Array("d", [0.0, 0.0])
        for n in range(args.clients):
            spec = {
                "n": n,
                "url": servers[n % len(servers)][1],
                "shop": shops[n % len(shops)],
                "code_share": args.code_share,
                "seed": n,
            }
            p = ctx.Process(target=client_main, args=(spec, ready, go, window, results))
            p.start()
            procs.append(p)
        for _ in procs:
            n, problem = ready.get(timeout=300)
            if problem:
                raise RuntimeError(f"client {n} could not set up: {problem}")
        watches = {
            "server": [CpuWatch(lambda p=p: [p.pid]) for p, _ in servers],
            "client": [CpuWatch(lambda: [int(p.pid) for p in procs])],
            "bench": [CpuWatch(lambda: [os.getpid()])],
            "pg": [CpuWatch(backend_pids(dbname))] if dbname else [],
        }
        measure_from = now() + 0.2 + args.warmup
        stop_at = measure_from + args.seconds
        window[0], window[1] = measure_from, stop_at
        go.set()
        time.sleep(max(0.0, measure_from - now()))
        machine = MachineWatch()
        machine.start()
        for group in watches.values():
            for w in group:
                w.start()
        flame = record_flame(args, kind, servers[0][0].pid)
        time.sleep(max(0.0, stop_at - now()))
        used = {name: [w.stop() for w in group] for name, group in watches.items()}
        if flame is not None:
            flame.wait(60)
        machine_s, busy = machine.stop()
        out = Outcome(kind, len(servers), args.clients, args.seconds)
        records: list[tuple[str, str, float, float]] = []
        for _ in procs:
            _n, recs, errors, fetches, calls, refused = results.get(timeout=120)
            records.extend(recs)
            out.fetches += fetches
            out.calls += calls
            out.refused += refused
            for slug, count in errors.items():
                out.errors[slug] = out.errors.get(slug, 0) + count
        for p in procs:
            p.join(30)
        counted = [r for r in records if measure_from <= r[2] < stop_at]
        deadline = now() + 30
        while now() < deadline:
            with receiver.lock:
                if all(r[1] in receiver.arrived for r in counted):
                    break
            time.sleep(0.05)
        out.payments = len(counted)
        for flow, order_no, t0, t1 in counted:
            out.by_flow[flow] = out.by_flow.get(flow, 0) + 1
            out.responses.append(t1 - t0)
            at = receiver.arrived.get(order_no)
            if at is None:
                out.missing_hooks += 1
                continue
            out.hooks.append(at - t0)
            out.hooks_by_flow.setdefault(flow, []).append(at - t0)
        out.server_cpu_each = used["server"]
        out.server_cpu = sum(used["server"])
        out.client_cpu = sum(used["client"])
        out.bench_cpu = sum(used["bench"])
        out.pg_cpu = sum(used["pg"]) if dbname else None
        out.machine_cpu, out.machine_busy = machine_s, busy
        return out
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(10)
        stop_servers(servers)
        receiver.close()
        if dbname:
            pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


def record_flame(args: argparse.Namespace, kind: str, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the first server process over the measured window (CPU only: threads
    waiting on the database or the network are left out), written as an SVG flame graph, or as
    collapsed stacks when the name ends in ``.txt``."""
    if not args.flame or args.overload_phase:
        return None
    out = Path(args.flame.replace("{db}", kind))
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--pid", str(pid), "--rate", "200", "--nonblocking", "--gil"]
    # A name ending in .txt gets the collapsed stacks (one line per stack, then its samples).
    form = "raw" if out.suffix == ".txt" else "flamegraph"
    command += ["--duration", str(max(1, round(args.seconds))), "--format", form]
    return subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL)


# --- PostgreSQL's own limit -----------------------------------------------------------------------


@dataclass
class PgBench:
    clients: int
    tps: float
    transactions: int
    latency_ms: float
    pg_cpu: float
    client_cpu: float
    machine_cpu: float
    machine_busy: float


def run_pgbench(args: argparse.Namespace) -> PgBench:
    url = make_url(PG_SERVER)
    dbname = f"pgbench_e2e_{uuid.uuid4().hex[:8]}"
    common = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    common += ["-U", url.username or "postgres"]
    env = dict(os.environ, PGPASSWORD=url.password or "")
    pg_admin(f'CREATE DATABASE "{dbname}"')
    try:
        subprocess.run(
            ["pgbench", *common, "-i", "-q", "-s", str(args.clients), dbname],
            env=env,
            check=True,
            capture_output=True,
        )
        pg = CpuWatch(backend_pids(dbname))
        machine = MachineWatch()
        machine.start()
        pg.start()
        before = os.times()
        run = ["pgbench", *common, "-c", str(args.clients), "-j", "2"]
        proc = subprocess.Popen(
            [*run, "-T", str(round(args.seconds)), "-b", "tpcb-like", dbname],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdout, stderr = proc.communicate()
        pg_cpu = pg.stop()
        machine_s, busy = machine.stop()
        # pgbench is reaped: its own CPU is what this process's reaped children gained since.
        after = os.times()
        client_cpu = (after.children_user + after.children_system) - (
            before.children_user + before.children_system
        )
        text = stdout.decode()
        if proc.returncode != 0:
            raise RuntimeError(stderr.decode()[-2000:])

        def grab(pattern: str) -> float:
            match = re.search(pattern, text)
            return float(match.group(1)) if match else float("nan")

        return PgBench(
            args.clients,
            grab(r"tps = ([\d.]+) \(without initial connection time\)"),
            int(grab(r"number of transactions actually processed: (\d+)")),
            grab(r"latency average = ([\d.]+) ms"),
            pg_cpu,
            client_cpu,
            machine_s,
            busy,
        )
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


# --- the report -----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}" if seconds == seconds else "-"


def per(cpu: float | None, count: int) -> str:
    return f"{cpu * 1000 / count:.2f}" if cpu is not None and count else "-"


def report(outcomes: list[Outcome], pgb: PgBench | None, args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(
        f"\n{args.clients} clients (separate processes), {args.seconds:g} s measured after "
        f"{args.warmup:g} s warm-up, payment codes {args.code_share:.0%} of payments; "
        f"{cores} CPU cores, load average before the run {args.load_before}"
    )
    print("\nthroughput and latency (start of the confirming request → merchant's webhook)\n")
    print(
        "| database | servers | payments/s | order+PIN / code | webhook p50 | p95 | p99 ms "
        "| response p99 ms | order p99 | code p99 ms | no webhook | errors |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for o in outcomes:
        flows = f"{o.by_flow.get('order', 0)} / {o.by_flow.get('code', 0)}"
        errors = ", ".join(f"{k} {v}" for k, v in sorted(o.errors.items())) or "none"
        print(
            f"| {o.kind} | {o.servers} | {o.rate:,.0f} | {flows} | {ms(pct(o.hooks, 0.5))} "
            f"| {ms(pct(o.hooks, 0.95))} | {ms(pct(o.hooks, 0.99))} "
            f"| {ms(pct(o.responses, 0.99))} | {ms(pct(o.hooks_by_flow.get('order', []), 0.99))} "
            f"| {ms(pct(o.hooks_by_flow.get('code', []), 0.99))} | {o.missing_hooks} | {errors} |"
        )
    print("\nCPU per payment (ms) and where it went\n")
    print(
        "| database | Saoma servers | PG backends | clients | bench+receiver | all of these "
        "| whole machine | server cores busy (each) | machine busy |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for o in outcomes:
        each = ", ".join(f"{c / o.seconds:.2f}" for c in o.server_cpu_each)
        print(
            f"| {o.kind} | {per(o.server_cpu, o.payments)} | {per(o.pg_cpu, o.payments)} "
            f"| {per(o.client_cpu, o.payments)} | {per(o.bench_cpu, o.payments)} "
            f"| {per(o.ours, o.payments)} | {per(o.machine_cpu, o.payments)} | {each} "
            f"| {o.machine_busy:.0%} |"
        )
    if pgb is not None:
        print(
            f"\nPostgreSQL's own limit: pgbench -s {pgb.clients} -c {pgb.clients} -j 2 "
            f"-T {round(args.seconds)} -b tpcb-like\n"
        )
        print(
            "| tps | latency avg ms | PG backends ms/tx | pgbench ms/tx | machine ms/tx "
            "| machine busy |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        print(
            f"| {pgb.tps:,.0f} | {pgb.latency_ms:.1f} | {per(pgb.pg_cpu, pgb.transactions)} "
            f"| {per(pgb.client_cpu, pgb.transactions)} "
            f"| {per(pgb.machine_cpu, pgb.transactions)} | {pgb.machine_busy:.0%} |"
        )
        print()
        for o in outcomes:
            print(
                f"{o.kind}: Saoma {o.rate:,.0f} payments/s ÷ pgbench {pgb.tps:,.0f} tps "
                f"= {o.rate / pgb.tps:.2f}"
            )
    print()
    for o in outcomes:
        print(f"{o.kind}: {bound(o, cores)}")
    fetched = sum(o.fetches for o in outcomes)
    if fetched:
        print(f"(clients fetched {fetched} more batches of one-time handles during the runs)")


def report_overload(outcomes: list[Outcome]) -> None:
    """Past what the servers take in time (SAOMA_QUEUE_WAIT_MS, SAOMA_MAX_IN_FLIGHT), a request
    is refused with 503 and Retry-After rather than queued for seconds."""
    print("\nunder overload: what was accepted, and what was refused at once\n")
    print(
        "| database | clients | payment requests | refused (503) | refused share "
        "| payments/s | response p50 ms | p99 ms | webhook p99 ms | other errors |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for o in outcomes:
        others = {k: v for k, v in o.errors.items() if k != "overloaded"}
        errors = ", ".join(f"{k} {v}" for k, v in sorted(others.items())) or "none"
        share = o.refused / o.calls if o.calls else 0.0
        print(
            f"| {o.kind} | {o.clients} | {o.calls:,} | {o.refused:,} | {share:.1%} "
            f"| {o.rate:,.0f} | {ms(pct(o.responses, 0.5))} | {ms(pct(o.responses, 0.99))} "
            f"| {ms(pct(o.hooks, 0.99))} | {errors} |"
        )


def bound(o: Outcome, cores: int) -> str:
    """What most likely capped throughput, from where the CPU went."""
    busiest = max(o.server_cpu_each) / o.seconds if o.server_cpu_each else 0.0
    ours = o.ours
    share = {
        "Saoma servers": o.server_cpu / max(ours, 1e-9),
        "PostgreSQL": (o.pg_cpu or 0.0) / max(ours, 1e-9),
        "clients": o.client_cpu / max(ours, 1e-9),
    }
    split = ", ".join(f"{k} {v:.0%}" for k, v in share.items() if v)
    ceiling = cores * o.payments / ours if ours else float("nan")
    if o.machine_busy >= 0.9:
        return (
            f"machine CPU saturated ({o.machine_busy:.0%} of {cores} cores; ours: {split}); "
            f"at {per(ours, o.payments)} ms per payment, {cores} cores with nothing else "
            f"running would make about {ceiling:,.0f} payments/s"
        )
    if busiest >= 0.85:
        return f"a server process is CPU-bound ({busiest:.2f} cores; one Python process ≈ 1 core)"
    return f"neither the machine nor a server process is CPU-bound (waits; ours: {split})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--servers", type=int, default=2, help="saoma serve processes per database")
    parser.add_argument("--code-share", type=float, default=0.5, help="payments made by code")
    parser.add_argument(
        "--overload-clients",
        type=int,
        default=64,
        help="then as many clients again, to see a busy server refuse (0: skip)",
    )
    parser.add_argument(
        "--flame",
        default="",
        metavar="FILE.svg",
        help="py-spy flame graph of the first server process ({db} is replaced by the database)",
    )
    args = parser.parse_args()
    args.overload_phase = False
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    for kind in kinds:
        if kind not in ("sqlite", "postgres"):
            parser.error(f"unknown database {kind!r}: sqlite or postgres")
    args.load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    outcomes = []
    for kind in kinds:
        print(f"{kind}: {args.servers} server processes, {args.clients} clients …", flush=True)
        outcomes.append(run_db(kind, args))
    pgb = None
    if "postgres" in kinds:
        print("pgbench …", flush=True)
        pgb = run_pgbench(args)
    overloaded = []
    if args.overload_clients:
        busy = argparse.Namespace(**{**vars(args), "clients": args.overload_clients})
        busy.overload_phase = True
        for kind in kinds:
            print(f"{kind}: {args.overload_clients} clients …", flush=True)
            overloaded.append(run_db(kind, busy))
    report(outcomes, pgb, args)
    if overloaded:
        report_overload(overloaded)


if __name__ == "__main__":
    main()
