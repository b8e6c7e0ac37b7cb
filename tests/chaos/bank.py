"""Money under crashes: a bank-style consistency test, in the spirit of Jepsen's "bank" workload.

Real ``saoma serve`` processes (two over one PostgreSQL database, or one over SQLite), a few
merchants and consumer wallets topped up through the sandbox bank before the run, then client
threads moving money at random through random servers: dynamic orders, static codes, partial
refunds, holds (consent, partial capture, void) and transfers between people. Every
money-moving POST carries an Idempotency-Key and is retried with the same key after a
connection error, a 5xx or a timeout, on the same server or another. Meanwhile a nemesis
SIGKILLs and restarts servers, drops every PostgreSQL connection of the database, makes the
database refuse connections for a few seconds, restarts PostgreSQL; clients give up on some
requests after 50 ms while the server carries on, send some requests twice at once with one
key, and race each other: two payers for one order, refunds of one payment that together ask
for too much, a capture against a void of the same hold. Merchants are paid out meanwhile
(``payday.py``): ``saoma settle`` runs as its own process, some SIGKILLed mid-way, merchants ask
for instant payouts, and one merchant's frozen bank account is replaced half-way.

A reader checks every snapshot: the money in the system and paid out to merchants' banks is
what the top-ups brought in, no
wallet is below zero, and now and then the ledger's own proof (``check_ledger``). At the end:
every acknowledged operation is in the books exactly once, no refused one at all, no operation
more than once, every webhook is delivered, ``check_ledger`` and ``check_authorisations`` pass,
and every account reconciles with the business records (payments, refunds, transfers); every
merchant movement is in exactly one settlement, no settlement is paid twice, and each merchant's
money is paid out, in its balance, held in reserve or an instant payout's fee.

    .venv/bin/python tests/chaos/bank.py --seconds 600 --db postgres
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

TESTS = str(Path(__file__).resolve().parents[1])
if TESTS not in sys.path:  # run on its own: ``support`` lives one folder up
    sys.path.insert(0, TESTS)

from payday import Payday  # noqa: E402

from saoma import signing  # noqa: E402
from saoma.authorisations import check_authorisations  # noqa: E402
from saoma.db import make_engine  # noqa: E402
from saoma.ledger.check import check_ledger  # noqa: E402
from saoma.payments.idempotency import LEASE_US  # noqa: E402
from saoma.payments.service import derived_id  # noqa: E402
from support import PASSWORD, PIN, POSTGRES_SERVER_URL, Receiver, Server, free_port  # noqa: E402

CURRENCY = "CNY"
TOO_MUCH = 10**12  # more than all the money there is: always refused
KINDS = ("order", "static", "refund", "hold", "p2p")
WEIGHTS = (30, 24, 14, 14, 18)
STALE_S = LEASE_US / 1_000_000 + 2  # after this an abandoned Idempotency-Key can be taken over
BUSY_PATIENCE_S = 3.0  # "request in progress" for longer: its first attempt probably died
OP_BUDGET_S = 20.0  # how long one operation keeps retrying before it is parked as unknown
QUIET_S = 4.0  # no fault in the last seconds of the run, so the operations in flight finish
SNAPSHOT_EVERY_S = 0.5
LEDGER_CHECK_EVERY = 8  # snapshots


class Unavailable(Exception):
    """The database the run needs cannot be reached."""


@dataclass
class Settings:
    db: str = "postgres"  # postgres | sqlite
    seconds: float = 30.0  # of load
    servers: int = 2
    consumers: int = 8
    merchants: int = 3
    threads: int = 8
    balance: int = 2_000_000  # topped up into every wallet before the run (¥20,000)
    kill_every: float = 7.0  # mean seconds between SIGKILLs of a server (0: never)
    drop_every: float = 9.0  # mean seconds between dropping every PostgreSQL connection (0: never)
    outage_every: float = 0.0  # mean seconds between 1-3 s outages of the database (0: never)
    pg_restarts: int = 0  # full PostgreSQL restarts during the run
    short_timeout: float = 0.05  # a client that gives up while the server carries on
    short_ratio: float = 0.12
    twin_ratio: float = 0.06  # the same request, same key, sent twice at once (any server)
    settle_seconds: float = 60.0  # at most this long for webhooks after the load
    settle_every: float = 15.0  # mean seconds between ``saoma settle`` runs (0: never)
    settle_kill_ratio: float = 0.3  # runs SIGKILLed mid-way (0: none; else the second always)
    instant_every: float = 4.0  # mean seconds between instant payouts asked for (0: never)
    takeover: bool = False  # finish abandoned requests by taking their key over (60 s wait)
    seed: int = 0
    workdir: Path | None = None
    keep: bool = False  # keep the database and logs
    progress: Callable[[str], None] | None = None


def ci_settings(db: str, workdir: Path) -> Settings:
    """The short form run by the test suite; SAOMA_CHAOS_SEED repeats a run's choices."""
    seed = int(os.environ.get("SAOMA_CHAOS_SEED") or secrets.randbelow(2**31))
    if db == "sqlite":
        # A killed server takes seconds to come back on a slow machine: killed every 3.5 s over
        # 10 s, one run in a few acknowledged fewer than 100 operations.
        return Settings(
            db="sqlite",
            seconds=20,
            servers=1,
            kill_every=5.0,
            drop_every=0,
            settle_every=7.0,
            instant_every=2.5,
            seed=seed,
            workdir=workdir,
        )
    restarts = 1 if os.environ.get("SAOMA_CHAOS_PG_RESTART") == "1" else 0
    return Settings(
        db="postgres",
        seconds=26,
        servers=2,
        kill_every=6.0,
        drop_every=9.0,
        outage_every=10.0,
        pg_restarts=restarts,
        settle_every=8.0,
        instant_every=2.5,
        seed=seed,
        workdir=workdir,
    )


# --- parties and operations --------------------------------------------------------------------


@dataclass(frozen=True)
class Wallet:
    id: str
    token: str
    account_id: int = 0


@dataclass(frozen=True)
class Shop:
    id: str
    key_id: str
    key: Ed25519PrivateKey
    account_id: int = 0


Party = Wallet | Shop


@dataclass
class Op:
    """One money-moving request, retried with its key until the client knows how it ended."""

    id: str
    kind: str  # order, static, refund, consent, capture, void, p2p
    actor: str  # the consumer or merchant id sending it
    amount: int
    method: str
    path: str
    body: bytes
    key: str | None  # the Idempotency-Key (a void has none: it is idempotent by itself)
    subject: str = ""  # the order, hold or payment it is about, or the payee
    status: str = "pending"  # ok | refused | unknown | unsent
    attempts: int = 0
    unknown: int = 0  # attempts whose outcome the client could not know
    busy: int = 0  # answers "request in progress"
    last_unknown_at: float = 0.0
    problem: str = ""
    response: dict[str, Any] = field(default_factory=dict)
    resolved: str = ""  # how an unknown outcome was settled: retry, takeover or database
    trail: list[str] = field(default_factory=list)  # every attempt: server, outcome, answer

    def story(self) -> str:
        return f"{self.kind} {self.id} ({self.status}): " + " | ".join(self.trail)


class History:
    """Everything the clients did and saw; shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops: list[Op] = []
        self.limbo: list[Op] = []
        self.refundable: list[tuple[str, Shop, int]] = []
        self.open_holds: list[tuple[Shop, str, int]] = []
        self.counters: Counter[str] = Counter()
        self.violations: list[str] = []

    def add(self, op: Op) -> None:
        with self.lock:
            self.ops.append(op)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counters[name] += n

    def violation(self, message: str) -> None:
        with self.lock:
            if len(self.violations) < 10_000:
                self.violations.append(message)

    def park(self, op: Op) -> None:
        with self.lock:
            self.limbo.append(op)

    def take_stale(self, now: float) -> Op | None:
        with self.lock:
            for i, op in enumerate(self.limbo):
                if now - op.last_unknown_at > STALE_S:
                    return self.limbo.pop(i)
        return None


# --- the cluster -------------------------------------------------------------------------------


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    """The merchants' webhook endpoint: records every delivery, answers 200."""
    port = free_port()
    rec = Receiver(f"http://127.0.0.1:{port}/hooks")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            try:  # a sender killed mid-request leaves a body cut short: not a delivery
                complete = len(body) == length and isinstance(json.loads(body), dict)
            except ValueError:
                complete = False
            status = 200 if complete else 400
            with rec.lock:
                rec.deliveries.append(
                    {
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "status": status,
                        "at": time.time(),
                    }
                )
            try:
                self.send_response(status)
                self.end_headers()
            except OSError:
                pass

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name="receiver", daemon=True).start()
    return rec, httpd


class Cluster:
    """The database, the server processes over it, and the merchants' webhook endpoint."""

    def __init__(self, settings: Settings, workdir: Path, history: History) -> None:
        self.settings = settings
        self.workdir = workdir
        self.history = history
        self.db_name = ""
        self.admin: Engine | None = None
        self.url = ""
        self.servers: list[Server] = []
        self.down: set[int] = set()
        self.lock = threading.Lock()
        self.receiver: Receiver | None = None
        self.httpd: ThreadingHTTPServer | None = None

    def open(self) -> None:
        self.url = self._create_database()
        self.receiver, self.httpd = start_receiver()
        for n in range(self.settings.servers):
            port = free_port()
            env = dict(os.environ)
            env.update(
                SAOMA_DATABASE_URL=self.url,
                SAOMA_SANDBOX_BANK_DELAY_S="0.01",
                SAOMA_POOL_SIZE="4",
                SAOMA_ALLOW_PRIVATE_WEBHOOKS="1",  # the receiver is on 127.0.0.1
            )
            log = self.workdir / f"server-{n}.log"
            server = Server(f"http://127.0.0.1:{port}", self.url, log, env, port)
            self.servers.append(server)
            server.start()  # one after the other: the first one migrates the database

    def _create_database(self) -> str:
        if self.settings.db == "sqlite":
            return f"sqlite:///{self.workdir / 'saoma.db'}"
        server = make_url(POSTGRES_SERVER_URL)
        self.db_name = f"saoma_chaos_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(server, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        try:
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        except Exception as exc:
            self.admin.dispose()
            self.admin = None
            raise Unavailable(f"PostgreSQL unreachable at {server!r}: {exc}") from exc
        return server.set(database=self.db_name).render_as_string(hide_password=False)

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self.admin is not None:
            self.end_outage()
            if not self.settings.keep:
                for _ in range(5):
                    try:
                        with self.admin.connect() as conn:
                            conn.execute(
                                text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                            )
                        break
                    except Exception:
                        time.sleep(1)
            self.admin.dispose()

    # which server a request goes to

    def pick(self, rng: random.Random) -> int:
        with self.lock:
            up = [i for i in range(len(self.servers)) if i not in self.down]
        return rng.choice(up) if up else rng.randrange(len(self.servers))

    # faults

    def kill(self, index: int) -> None:
        with self.lock:
            self.down.add(index)
        self.servers[index].kill()

    def restart(self, index: int) -> None:
        for attempt in range(3):
            try:
                self.servers[index].start()
                break
            except RuntimeError as exc:
                self.servers[index].stop()  # a process that is still starting: start afresh
                if attempt == 2:
                    self.history.violation(f"server {index} did not come back: {exc}")
                    return
        with self.lock:
            self.down.discard(index)

    def ensure_up(self) -> None:
        for index, server in enumerate(self.servers):
            if server.process is None or server.process.poll() is not None:
                self.restart(index)

    def drop_connections(self) -> int:
        """Every PostgreSQL connection to the database ends at once, mid-transaction or not."""
        assert self.admin is not None
        with self.admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": self.db_name},
                ).all()
            )

    def outage(self, seconds: float) -> None:
        """The database refuses every connection for a while, and drops the ones it had."""
        assert self.admin is not None
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.db_name}" ALLOW_CONNECTIONS false'))
        try:
            self.history.count("PostgreSQL connections ended", self.drop_connections())
            time.sleep(seconds)
        finally:
            self.end_outage()

    def end_outage(self) -> None:
        if self.admin is None:
            return
        for _ in range(20):
            try:
                with self.admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{self.db_name}" ALLOW_CONNECTIONS true'))
                return
            except Exception:  # PostgreSQL itself restarting
                time.sleep(0.5)

    def restart_postgres(self) -> bool:
        """Restart the PostgreSQL cluster (needs root and pg_ctlcluster)."""
        tool = shutil.which("pg_ctlcluster")
        clusters = Path("/etc/postgresql")
        if tool is None or not clusters.is_dir() or os.geteuid() != 0:
            return False
        version = sorted(p.name for p in clusters.iterdir())[0]
        subprocess.run(
            [tool, "--skip-systemctl-redirect", version, "main", "restart"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False)
            if ready.returncode == 0:
                return True
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not come back")


# --- talking to the servers --------------------------------------------------------------------


def slug(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1] or str(response.status_code)
    except ValueError:
        return str(response.status_code)


class Api:
    """One client thread's view of the servers: signs, retries, classifies outcomes."""

    def __init__(
        self,
        cluster: Cluster,
        history: History,
        rng: random.Random,
        http: httpx.Client | None = None,
    ) -> None:
        self.cluster = cluster
        self.settings = cluster.settings
        self.history = history
        self.rng = rng
        self.owner = http is None
        self.http = http or httpx.Client(timeout=10.0)
        self.only: int | None = None  # send to this server only

    def fork(self) -> Api:
        """Another view for a racing thread: its own randomness, the same connections."""
        return Api(self.cluster, self.history, random.Random(self.rng.random()), self.http)

    def close(self) -> None:
        if self.owner:
            self.http.close()

    @staticmethod
    def headers(who: Party, method: str, path: str, body: bytes, key: str | None) -> dict[str, str]:
        if isinstance(who, Shop):
            headers = signing.sign_request(
                who.key, who.key_id, method, path, body, timestamp=int(time.time())
            )
        else:
            headers = {"authorization": f"Bearer {who.token}"}
        if body:
            headers["content-type"] = "application/json"
        if key is not None:
            headers["idempotency-key"] = key
        return headers

    def once(
        self,
        who: Party,
        method: str,
        path: str,
        body: bytes,
        key: str | None,
        timeout: float,
        rng: random.Random | None = None,
        trail: list[str] | None = None,
    ) -> tuple[str, httpx.Response | None]:
        """ok, refused, busy (request in progress), down (never sent), timeout or unknown."""
        index = self.only if self.only is not None else self.cluster.pick(rng or self.rng)
        outcome, response = self._send(index, who, method, path, body, key, timeout)
        if trail is not None:
            answer = f" {response.status_code} {response.text[:160]}" if response else ""
            trail.append(f"{time.time():.3f} s{index} {outcome}{answer}")
        return outcome, response

    def _send(
        self,
        index: int,
        who: Party,
        method: str,
        path: str,
        body: bytes,
        key: str | None,
        timeout: float,
    ) -> tuple[str, httpx.Response | None]:
        server = self.cluster.servers[index]
        headers = self.headers(who, method, path, body, key)
        try:
            response = self.http.request(
                method, server.url + path, content=body, headers=headers, timeout=timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            return "down", None
        except httpx.TimeoutException:
            return "timeout", None
        except httpx.TransportError:  # the server died with the request
            return "unknown", None
        if response.status_code >= 500:
            return "unknown", response
        if response.status_code >= 400:
            if response.status_code == 409 and slug(response) == "request-in-progress":
                return "busy", response
            return "refused", response
        return "ok", response

    def call(self, op: Op, who: Party, *, budget: float = OP_BUDGET_S, faults: bool = True) -> Op:
        """Send ``op`` until its outcome is known, always with the same key and body."""
        give_up = time.monotonic() + budget
        busy_since = 0.0
        twins: list[tuple[str, httpx.Response | None]] = []
        twin: threading.Thread | None = None
        if faults and op.attempts == 0 and self.rng.random() < self.settings.twin_ratio:
            twin_rng = random.Random(self.rng.random())
            twin_trail: list[str] = []

            def send_twin() -> None:
                twins.append(
                    self.once(who, op.method, op.path, op.body, op.key, 10.0, twin_rng, twin_trail)
                )

            twin = threading.Thread(target=send_twin, name=f"twin-{op.id}", daemon=True)
            twin.start()
            self.history.count("twin requests")
        while True:
            short = faults and self.rng.random() < self.settings.short_ratio
            timeout = self.settings.short_timeout if short else 10.0
            outcome, response = self.once(
                who, op.method, op.path, op.body, op.key, timeout, trail=op.trail
            )
            if short:
                op.trail[-1] += " (short timeout)"
            op.attempts += 1
            self.history.count("requests")
            self.history.count(f"outcome {outcome}")
            if op.attempts > 1:
                self.history.count("retries")
            if outcome == "ok":
                assert response is not None
                op.status = "ok"
                op.response = response.json() if response.content else {}
                break
            if outcome == "refused":
                assert response is not None
                op.status = "refused"
                op.problem = slug(response)
                break
            now = time.monotonic()
            if outcome in ("timeout", "unknown"):
                op.unknown += 1
                op.last_unknown_at = time.time()
                if outcome == "timeout" and short:
                    self.history.count("client gave up (short timeout)")
                elif outcome == "timeout":
                    self.history.count("requests that hung 10 s")
                elif response is not None:
                    self.history.count(f"answered {response.status_code}")
                else:
                    self.history.count("connection lost mid-request")
            elif outcome == "busy":
                op.busy += 1
                busy_since = busy_since or now
            if now > give_up or (busy_since and now - busy_since > BUSY_PATIENCE_S):
                op.status = "unknown" if op.unknown or op.busy else "unsent"
                break
            time.sleep(self.rng.uniform(0.02, 0.15) if outcome != "busy" else 0.2)
        if twin is not None:
            twin.join(timeout=30)
            op.trail += [f"twin {t}" for t in twin_trail]
            self.merge_twin(op, twins)
        if op.status in ("ok", "refused") and (op.unknown or op.busy) and not op.resolved:
            op.resolved = "retry"
        return op

    def merge_twin(self, op: Op, twins: list[tuple[str, httpx.Response | None]]) -> None:
        """Two requests with one key: at most one effect, and both answers tell the same."""
        for outcome, response in twins:
            self.history.count(f"twin {outcome}")
            if outcome == "ok" and response is not None:
                body = response.json() if response.content else {}
                if op.status == "ok" and body.get("id") != op.response.get("id"):
                    self.history.violation(
                        f"{op.kind} {op.id}: one key answered twice with different objects,"
                        f" {op.response.get('id')} and {body.get('id')}"
                    )
                if op.status != "ok":
                    op.status, op.response, op.problem = "ok", body, ""
            elif outcome in ("timeout", "unknown") and op.status == "refused":
                op.status = "unknown"  # the twin may have gone through after the refusal
                op.last_unknown_at = time.time()
                op.unknown += 1

    def plain(self, who: Party, path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A POST that moves no money and is idempotent by its own reference (order, hold)."""
        body = json.dumps(payload).encode()
        give_up = time.monotonic() + OP_BUDGET_S
        while time.monotonic() < give_up:
            outcome, response = self.once(who, "POST", path, body, None, 10.0)
            self.history.count("requests")
            if outcome == "ok" and response is not None:
                result: dict[str, Any] = response.json()
                return result
            if outcome == "refused":
                self.history.count("setup refused")
                return None
            time.sleep(self.rng.uniform(0.02, 0.15))
        return None

    def get(self, who: Party, path: str) -> dict[str, Any] | None:
        outcome, response = self.once(who, "GET", path, b"", None, 10.0)
        if outcome == "ok" and response is not None:
            result: dict[str, Any] = response.json()
            return result
        return None


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Summary:
    db: str
    seed: int
    servers: int
    seconds: float
    elapsed: float
    ops: Counter[str]
    statuses: Counter[str]
    resolved: Counter[str]
    problems: Counter[str]
    counters: Counter[str]
    faults: Counter[str]
    webhooks: dict[str, int]
    phases: dict[str, float]
    violations: list[str]
    payouts: list[str] = field(default_factory=list)  # the settlement lines of the report
    settlement: Counter[str] = field(default_factory=Counter)

    @property
    def acknowledged(self) -> int:
        return self.statuses["ok"]

    def render(self) -> str:
        def detail(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in counter.most_common()) or "none"

        unknown = sum(self.resolved.values())
        moved = self.counters["unknown ops that moved money"]
        phases = ", ".join(f"{k} {v:.0f} s" for k, v in self.phases.items() if v >= 0.5)
        lines = [
            f"bank workload on {self.db} (seed {self.seed}): {self.servers} server(s),"
            f" {self.seconds:.0f} s of load, {self.elapsed:.0f} s in all ({phases})",
            f"  operations tried          {sum(self.ops.values()):6}  ({detail(self.ops)})",
            f"  acknowledged              {self.statuses['ok']:6}",
            f"  refused with a problem    {self.statuses['refused']:6}  ({detail(self.problems)})",
            f"  never reached a server    {self.statuses['unsent']:6}",
            f"  unknown, then resolved    {unknown:6}  ({detail(self.resolved)};"
            f" {moved} of those from the database had moved money)",
            f"  requests sent             {self.counters['requests']:6}"
            f"  (retries {self.counters['retries']})",
            f"  faults injected           {sum(self.faults.values()):6}  ({detail(self.faults)};"
            f" {self.counters['PostgreSQL connections ended']} connections ended,"
            f" {self.counters['connection lost mid-request']} connections lost mid-request)",
            f"  requests that hung 10 s   {self.counters['requests that hung 10 s']:6}",
            f"  snapshots checked         {self.counters['snapshots']:6}"
            f"  (ledger proofs {self.counters['ledger checks']},"
            f" skipped while the database was away {self.counters['snapshots skipped']})",
            f"  webhooks                  {self.webhooks.get('events', 0):6} events,"
            f" {self.webhooks.get('received', 0)} deliveries received,"
            f" {self.webhooks.get('missing', 0)} missing",
            *self.payouts,
            f"  invariant violations      {len(self.violations):6}",
        ]
        lines += [f"    ✗ {v}" for v in self.violations[:50]]
        return "\n".join(lines)


class Bank:
    """One run: set up, load with faults, settle, check."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.history = History()
        self.cluster = Cluster(settings, workdir, self.history)
        self.stop = threading.Event()
        self.wallets: list[Wallet] = []
        self.shops: list[Shop] = []
        self.parties: dict[str, Party] = {}
        self.total = 0  # the money brought in by the top-ups: all there is during the run
        self.faults: Counter[str] = Counter()
        self.phases: dict[str, float] = {}
        self.webhook_figures: dict[str, int] = {}
        self.api_balances: dict[str, int | None] = {}
        self.payday = Payday(self, lambda rng: Api(self.cluster, self.history, rng))

    def say(self, message: str) -> None:
        if self.settings.progress is not None:
            self.settings.progress(message)

    # setting up

    def setup(self) -> None:
        rng = random.Random(self.settings.seed)
        api = Api(self.cluster, self.history, rng)
        http = httpx.Client(base_url=self.cluster.servers[0].url, timeout=30.0)
        try:
            for n in range(self.settings.merchants):
                key = signing.new_private_key()
                r = http.post(
                    "/v1/merchants",
                    json={
                        "login": f"chaos-{secrets.token_hex(4)}@example.cn",
                        "password": PASSWORD,
                        "name": f"Chaos Shop {n}",
                        "city": "Shenzhen",
                        "category_code": "5814",
                        "webhook_url": self.receiver.url,
                        "public_key": base64.b64encode(signing.public_key_bytes(key)).decode(),
                    },
                )
                r.raise_for_status()
                body = r.json()
                self.shops.append(Shop(body["merchant"]["id"], body["key_id"], key))
            self.payday.begin()  # the merchants' bank accounts, while the wallets are opened

            def open_wallet(_n: int) -> Wallet:
                with httpx.Client(base_url=self.cluster.servers[0].url, timeout=30.0) as h:
                    login = f"+86139{secrets.randbelow(10**8):08d}"
                    r = h.post("/v1/consumers", json={"login": login, "password": PASSWORD})
                    r.raise_for_status()
                    token = r.json()["token"]
                    auth = {"authorization": f"Bearer {token}"}
                    h.put(
                        "/v1/me/pin", json={"pin": PIN, "password": PASSWORD}, headers=auth
                    ).raise_for_status()
                    h.post(
                        "/v1/me/top-ups",
                        json={"amount": self.settings.balance, "currency": CURRENCY},
                        headers=auth | {"idempotency-key": f"fund-{login}"},
                    ).raise_for_status()
                    return Wallet(r.json()["consumer"]["id"], token)

            with ThreadPoolExecutor(max_workers=4) as pool:
                self.wallets = list(pool.map(open_wallet, range(self.settings.consumers)))
            deadline = time.monotonic() + 60
            for wallet in self.wallets:
                while True:
                    me = api.get(wallet, "/v1/me")
                    if me is not None and me["balance"] == self.settings.balance:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("the top-ups did not settle")
                    time.sleep(0.05)
        finally:
            http.close()
            api.close()
        self.total = self.settings.balance * len(self.wallets)
        engine = make_engine(self.cluster.url, pool_size=1)
        try:
            with engine.connect() as conn:
                consumers = dict(conn.execute(text("SELECT id, account_id FROM consumers")).all())
                merchants = dict(conn.execute(text("SELECT id, account_id FROM merchants")).all())
        finally:
            engine.dispose()
        self.wallets = [replace(w, account_id=int(consumers[w.id])) for w in self.wallets]
        self.shops = [replace(s, account_id=int(merchants[s.id])) for s in self.shops]
        self.parties = {p.id: p for p in [*self.wallets, *self.shops]}
        self.payday.ready()

    @property
    def receiver(self) -> Receiver:
        assert self.cluster.receiver is not None
        return self.cluster.receiver

    # the clients

    @staticmethod
    def amount(rng: random.Random) -> int:
        if rng.random() < 0.02:
            return TOO_MUCH
        low, high = rng.choices(((1, 99), (100, 999), (1000, 5000)), (3, 5, 2))[0]
        return rng.randint(low, high)

    def run_op(self, api: Api, op: Op) -> Op:
        self.history.add(op)
        api.call(op, self.parties[op.actor])
        if op.status == "unknown":
            self.history.park(op)
        return op

    def client(self, n: int) -> None:
        rng = random.Random(f"{self.settings.seed}-{n}")
        api = Api(self.cluster, self.history, rng)
        i = 0
        try:
            while not self.stop.is_set():
                parked = self.history.take_stale(time.time())
                if parked is not None:
                    self.take_over(api, parked)
                    continue
                kind = rng.choices(KINDS, WEIGHTS)[0]
                tag = f"{kind[:3]}-{n}-{i}-{secrets.token_hex(2)}"
                i += 1
                getattr(self, f"do_{kind}")(api, rng, tag)
        except Exception as exc:  # a bug in the workload itself: make it loud
            self.history.violation(f"client {n} crashed: {exc!r}")
            raise
        finally:
            api.close()

    def take_over(self, api: Api, op: Op) -> None:
        """Retry an operation whose first request died, once its key can be taken over."""
        api.call(op, self.parties[op.actor], budget=OP_BUDGET_S)
        if op.status == "unknown":
            self.history.park(op)
        else:
            op.resolved = "takeover"

    def race(self, api: Api, ops: list[Op]) -> None:
        """Send several operations at the same moment, each from its own thread."""
        self.history.count("races")
        threads = [
            threading.Thread(target=self.run_op, args=(api.fork(), op), daemon=True) for op in ops
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def do_order(self, api: Api, rng: random.Random, tag: str) -> None:
        payer, shop, amount = rng.choice(self.wallets), rng.choice(self.shops), self.amount(rng)
        order = api.plain(
            shop,
            "/v1/orders",
            {
                "merchant_order_no": tag,
                "amount": amount,
                "currency": CURRENCY,
                "description": "",
                "expires_in_s": 900,
                "notify_url": "",
            },
        )
        if order is None:
            self.history.count("orders not created")
            return
        body = json.dumps({"pin": PIN}).encode()
        path = f"/v1/orders/{order['id']}/pay"
        op = Op(tag, "order", payer.id, amount, "POST", path, body, tag, subject=order["id"])
        if rng.random() < 0.08:  # two people scan the same code: one pays, one is refused
            other = rng.choice([w for w in self.wallets if w != payer])
            rival = Op(f"{tag}.2", "order", other.id, amount, "POST", path, body, f"{tag}.2")
            rival.subject = order["id"]
            self.race(api, [op, rival])
            winners = [o for o in (op, rival) if o.status == "ok"]
            if len(winners) == 2:
                self.history.violation(
                    f"order {order['id']} acknowledged to two payers: {op.story()}"
                    f" || {rival.story()}"
                )
        else:
            self.run_op(api, op)
            winners = [op] if op.status == "ok" else []
        for won in winners:
            with self.history.lock:
                self.history.refundable.append((won.response["id"], shop, amount))

    def do_static(self, api: Api, rng: random.Random, tag: str) -> None:
        payer, shop, amount = rng.choice(self.wallets), rng.choice(self.shops), self.amount(rng)
        body = json.dumps({"amount": amount, "currency": CURRENCY, "note": tag, "pin": PIN})
        path = f"/v1/merchants/{shop.id}/pay"
        op = Op(tag, "static", payer.id, amount, "POST", path, body.encode(), tag, shop.id)
        if self.run_op(api, op).status == "ok":
            with self.history.lock:
                self.history.refundable.append((op.response["id"], shop, amount))

    def refund_op(self, tag: str, shop: Shop, payment_id: str, amount: int) -> Op:
        body = json.dumps({"amount": amount, "merchant_refund_no": tag, "reason": ""}).encode()
        path = f"/v1/payments/{payment_id}/refunds"
        return Op(tag, "refund", shop.id, amount, "POST", path, body, tag, payment_id)

    def do_refund(self, api: Api, rng: random.Random, tag: str) -> None:
        with self.history.lock:
            target = rng.choice(self.history.refundable) if self.history.refundable else None
        if target is None:
            self.do_static(api, rng, tag)
            return
        payment_id, shop, paid = target
        if rng.random() < 0.15 and paid >= 4:
            # Refunds of one payment racing on both servers: together they ask for too much.
            parts = rng.randint(2, 3)
            share = paid * 2 // (parts + 1) if parts == 3 else paid * 3 // 5
            self.race(
                api,
                [self.refund_op(f"{tag}.{i}", shop, payment_id, share) for i in range(parts)],
            )
            return
        amount = paid + 1 if rng.random() < 0.05 else rng.randint(1, max(1, paid // 3))
        self.run_op(api, self.refund_op(tag, shop, payment_id, amount))

    def capture_op(self, tag: str, shop: Shop, hid: str, taken: int) -> Op:
        body = json.dumps({"amount": taken}).encode()
        path = f"/v1/holds/{hid}/capture"
        return Op(f"{tag}.p", "capture", shop.id, taken, "POST", path, body, f"{tag}.p", hid)

    def void_op(self, tag: str, shop: Shop, hid: str, amount: int) -> Op:
        path = f"/v1/holds/{hid}/void"
        return Op(f"{tag}.v", "void", shop.id, amount, "POST", path, b"", None, hid)

    def do_hold(self, api: Api, rng: random.Random, tag: str) -> None:
        with self.history.lock:
            late = self.history.open_holds
            held = late.pop(rng.randrange(len(late))) if late and rng.random() < 0.3 else None
        if held is not None:  # a hold consented earlier: captured or voided now, maybe expired
            shop, hid, amount = held
            if rng.random() < 0.6:
                self.run_op(api, self.capture_op(tag, shop, hid, rng.randint(1, amount)))
            else:
                self.run_op(api, self.void_op(tag, shop, hid, amount))
            return
        payer, shop, amount = rng.choice(self.wallets), rng.choice(self.shops), self.amount(rng)
        hold = api.plain(
            shop,
            "/v1/holds",
            {
                "merchant_ref": tag,
                "amount": amount,
                "currency": CURRENCY,
                "expires_in_s": 60 if rng.random() < 0.3 else 3600,  # some expire by themselves
                "description": "",
            },
        )
        if hold is None:
            self.history.count("holds not created")
            return
        hid = hold["id"]
        consent = Op(
            f"{tag}.c",
            "consent",
            payer.id,
            amount,
            "POST",
            f"/v1/holds/{hid}/consent",
            json.dumps({"pin": PIN}).encode(),
            f"{tag}.c",
            hid,
        )
        if self.run_op(api, consent).status != "ok":
            return
        choice = rng.random()
        if choice < 0.1:  # the merchant's till captures while its back office voids
            ops = [self.capture_op(tag, shop, hid, rng.randint(1, amount))]
            ops.append(self.void_op(tag, shop, hid, amount))
            self.race(api, ops)
            if all(o.status == "ok" for o in ops):
                self.history.violation(
                    f"hold {hid} acknowledged both captured and voided: {ops[0].story()}"
                    f" || {ops[1].story()}"
                )
        elif choice < 0.5:
            taken = amount + 1 if rng.random() < 0.05 else rng.randint(1, amount)
            self.run_op(api, self.capture_op(tag, shop, hid, taken))
        elif choice < 0.7:
            self.run_op(api, self.void_op(tag, shop, hid, amount))
        elif choice < 0.95:
            with self.history.lock:
                self.history.open_holds.append((shop, hid, amount))
        # else: left open, to expire or stay held

    def do_p2p(self, api: Api, rng: random.Random, tag: str) -> None:
        sender, payee = rng.sample(self.wallets, 2)
        amount = self.amount(rng)
        body = json.dumps(
            {"to": payee.id, "amount": amount, "currency": CURRENCY, "note": tag, "pin": PIN}
        ).encode()
        self.run_op(
            api, Op(tag, "p2p", sender.id, amount, "POST", "/v1/transfers", body, tag, payee.id)
        )

    # the reader

    def reader(self) -> None:
        engine = make_engine(self.cluster.url, pool_size=2)
        api = Api(self.cluster, self.history, random.Random(f"{self.settings.seed}-reader"))
        rng = random.Random(self.settings.seed + 7)
        n = 0
        try:
            while not self.stop.wait(SNAPSHOT_EVERY_S):
                try:
                    self.snapshot(engine)
                    n += 1
                    if n % LEDGER_CHECK_EVERY == 0:
                        report = check_ledger(engine)
                        self.history.count("ledger checks")
                        for problem in report.problems:
                            self.history.violation(f"ledger check during the run: {problem}")
                except Exception:  # the database went away (a fault): the next snapshot will do
                    self.history.count("snapshots skipped")
                    continue
                wallet = rng.choice(self.wallets)
                me = api.get(wallet, "/v1/me")
                if me is not None and (me["balance"] < 0 or me["available"] < 0):
                    self.history.violation(
                        f"wallet {wallet.id} seen below zero through the API: {me}"
                    )
        finally:
            api.close()
            engine.dispose()

    def snapshot(self, engine: Engine) -> None:
        """One statement, so one consistent snapshot: money per currency, wallets, holds, and
        what payouts took out to merchants' banks."""
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT currency, kind, COALESCE(SUM(credits_posted - debits_posted), 0),"
                    " COALESCE(SUM(debits_pending), 0), COALESCE(SUM(credits_pending), 0),"
                    " COALESCE(SUM(CASE WHEN credits_posted - debits_posted - debits_pending < 0"
                    " THEN 1 ELSE 0 END), 0)"
                    " FROM accounts GROUP BY currency, kind"
                    " UNION ALL SELECT a.currency, 'paid out', SUM(t.amount), 0, 0, 0"
                    " FROM transfers t JOIN accounts a ON a.id = t.credit_account_id"
                    " WHERE a.kind = 'bank_clearing' AND t.code = 15 AND (t.flags & 10) = 0"
                    " GROUP BY a.currency"
                )
            ).all()
        self.history.count("snapshots")
        inside: Counter[str] = Counter()
        bank: Counter[str] = Counter()
        pending: Counter[str] = Counter()
        paid_out: Counter[str] = Counter()
        for currency, kind, balance, debits_pending, credits_pending, below in rows:
            if kind == "paid out":
                paid_out[currency] += int(balance)
                continue
            if kind == "bank_clearing":
                bank[currency] += int(balance)
            else:
                inside[currency] += int(balance)
            pending[currency] += int(debits_pending) - int(credits_pending)
            if kind == "consumer_wallet" and below:
                self.history.violation(f"snapshot: {below} {currency} wallet(s) below zero")
        for currency in set(inside) | set(bank):
            if inside[currency] + paid_out[currency] != self.expected(currency):
                self.history.violation(
                    f"snapshot: {inside[currency]} {currency} in the system and"
                    f" {paid_out[currency]} paid out, {self.expected(currency)} brought in"
                )
            if bank[currency] != paid_out[currency] - self.expected(currency):
                self.history.violation(
                    f"snapshot: bank clearing {currency} at {bank[currency]},"
                    f" {paid_out[currency]} paid out"
                )
            if pending[currency]:
                self.history.violation(
                    f"snapshot: {currency} pending debits and credits differ by {pending[currency]}"
                )

    def expected(self, currency: str) -> int:
        return self.total if currency == CURRENCY else 0

    # the nemesis

    def nemesis(self, started: float) -> None:
        s = self.settings
        rng = random.Random(s.seed + 1)
        quiet_at = started + s.seconds - QUIET_S
        plan: list[tuple[float, str]] = []
        for what, every in (
            ("kill", s.kill_every),
            ("drop", s.drop_every),
            ("outage", s.outage_every),
        ):
            if not every or (what != "kill" and s.db != "postgres"):
                continue
            at = started + rng.uniform(0.3, 1.0) * every
            while at < quiet_at:
                plan.append((at, what))
                at += rng.uniform(0.5, 1.5) * every
        if s.db == "postgres":
            plan += [
                (started + s.seconds * (k + 1) / (s.pg_restarts + 1), "restart")
                for k in range(s.pg_restarts)
            ]
        plan.sort()
        for at, what in plan:
            # Faults queue behind slow server restarts; a planned PostgreSQL restart still happens
            # when the load has ended first, so the servers' recovery from it is always checked.
            if self.stop.wait(max(0.0, at - time.monotonic())) and what != "restart":
                continue
            try:
                self.fault(what, rng)
            except Exception as exc:
                self.history.violation(f"the nemesis could not {what}: {exc!r}")
        self.cluster.ensure_up()

    def fault(self, what: str, rng: random.Random) -> None:
        faults = self.faults
        if what == "kill":
            index = rng.randrange(len(self.cluster.servers))
            self.say(f"  SIGKILL server {index}")
            self.cluster.kill(index)
            faults["server SIGKILLs"] += 1
            time.sleep(rng.uniform(0.0, 1.0))
            self.cluster.restart(index)
        elif what == "drop":
            dropped = self.cluster.drop_connections()
            self.say(f"  dropped {dropped} PostgreSQL connections")
            faults["PostgreSQL connection drops"] += 1
            self.history.count("PostgreSQL connections ended", dropped)
        elif what == "outage":
            seconds = rng.uniform(1.0, 3.0)
            self.say(f"  the database refuses connections for {seconds:.1f} s")
            self.cluster.outage(seconds)
            faults["PostgreSQL outages"] += 1
        elif what == "restart":
            self.say("  restarting PostgreSQL")
            if self.cluster.restart_postgres():
                faults["PostgreSQL restarts"] += 1
            else:
                self.say("  (cannot restart PostgreSQL here: not root or no pg_ctlcluster)")
                faults["PostgreSQL restarts skipped"] += 1

    # running it all

    def run(self) -> Summary:
        s = self.settings
        begun = time.monotonic()
        self.cluster.open()
        try:
            self.setup()
            self.phases["setup"] = time.monotonic() - begun
            self.say(
                f"{len(self.wallets)} wallets with {s.balance} each, {len(self.shops)} merchants,"
                f" {len(self.cluster.servers)} server(s); {s.seconds:.0f} s of load"
            )
            started = time.monotonic()
            threads = [
                threading.Thread(target=self.client, args=(n,), name=f"client-{n}", daemon=True)
                for n in range(s.threads)
            ]
            reader = threading.Thread(target=self.reader, name="reader", daemon=True)
            nemesis = threading.Thread(
                target=self.nemesis, args=(started,), name="nemesis", daemon=True
            )
            payday = threading.Thread(
                target=self.payday.load,
                args=(started, started + s.seconds - QUIET_S),
                name="payday",
                daemon=True,
            )
            for t in [*threads, reader, nemesis, payday]:
                t.start()
            while time.monotonic() < started + s.seconds:
                time.sleep(min(5.0, max(0.0, started + s.seconds - time.monotonic())))
                self.say(
                    f"  {time.monotonic() - started:5.0f} s: {len(self.history.ops)} operations,"
                    f" {self.history.counters['requests']} requests,"
                    f" {len(self.history.violations)} violations"
                )
            self.stop.set()
            nemesis.join(timeout=120)
            for t in threads:
                t.join(timeout=120)
            reader.join(timeout=60)
            payday.join(timeout=60)
            self.phases["load"] = time.monotonic() - started
            mark = time.monotonic()
            self.cluster.ensure_up()
            self.probe()
            self.finish_parked()
            self.phases["takeover"] = time.monotonic() - mark
            mark = time.monotonic()
            self.payday.finish()
            self.phases["payouts"] = time.monotonic() - mark
            mark = time.monotonic()
            self.settle_webhooks()
            self.phases["webhooks"] = time.monotonic() - mark
            mark = time.monotonic()
            self.cluster.ensure_up()
            self.check_listings()
            for server in self.cluster.servers:
                server.stop()
            self.check_books()
            self.phases["checks"] = time.monotonic() - mark
        finally:
            self.cluster.close()
        return self.summary(time.monotonic() - begun)

    def probe(self) -> None:
        """After the faults every server still moves money, promptly."""
        for index in range(len(self.cluster.servers)):
            api = Api(self.cluster, self.history, random.Random(index))
            api.only = index
            payer, shop = self.wallets[index % len(self.wallets)], self.shops[0]
            tag = f"probe-{index}"
            body = json.dumps({"amount": 1, "currency": CURRENCY, "note": tag, "pin": PIN})
            path = f"/v1/merchants/{shop.id}/pay"
            op = Op(tag, "static", payer.id, 1, "POST", path, body.encode(), tag, shop.id)
            self.history.add(op)
            try:
                api.call(op, payer, budget=25.0, faults=False)
            finally:
                api.close()
            if op.status not in ("ok", "refused"):  # a refusal is an answer from the ledger too
                self.history.violation(
                    f"server {index} no longer moves money after the faults: a payment there"
                    f" ended {op.status} {op.problem} after {op.attempts} attempts"
                    f" ({op.unknown} without an answer)"
                )
                if op.status == "unknown":
                    self.history.park(op)

    def finish_parked(self) -> None:
        """Operations still unknown: with ``takeover``, retry once their key can be taken over."""
        if not self.settings.takeover or not self.history.limbo:
            return
        api = Api(self.cluster, self.history, random.Random(self.settings.seed + 3))
        try:
            latest = max(op.last_unknown_at for op in self.history.limbo)
            self.say(f"  {len(self.history.limbo)} unknown operations: waiting to take them over")
            time.sleep(max(0.0, latest + STALE_S - time.time()))
            while (op := self.history.take_stale(time.time())) is not None:
                self.take_over(api, op)
                if op.status == "unknown":  # still busy: leave it to the database check
                    with self.history.lock:
                        self.history.limbo.remove(op)
                        self.history.limbo.append(op)
                    break
        finally:
            api.close()

    def summary(self, elapsed: float) -> Summary:
        ops = self.history.ops
        resolved: Counter[str] = Counter(
            f"by {op.resolved}" for op in ops if op.resolved and (op.unknown or op.busy)
        )
        return Summary(
            db=self.settings.db,
            seed=self.settings.seed,
            servers=self.settings.servers,
            seconds=self.settings.seconds,
            elapsed=elapsed,
            ops=Counter(op.kind for op in ops),
            statuses=Counter(op.status for op in ops),
            resolved=resolved,
            problems=Counter(op.problem for op in ops if op.status == "refused"),
            counters=self.history.counters,
            faults=self.faults
            + Counter({"client timeouts": self.history.counters["client gave up (short timeout)"]}),
            webhooks=self.webhook_figures,
            phases=self.phases,
            violations=self.history.violations,
            payouts=self.payday.lines,
            settlement=self.payday.figures,
        )

    # after the run: webhooks

    def received(self) -> tuple[set[str], set[tuple[str, str]], int]:
        """Webhook ids received, (type, object id) pairs received, and how many deliveries."""
        with self.receiver.lock:
            deliveries = list(self.receiver.deliveries)
        ids: set[str] = set()
        about: set[tuple[str, str]] = set()
        for d in deliveries:
            if d["status"] != 200:
                continue
            ids.add(d["headers"].get("webhook-id", ""))
            body = json.loads(d["body"])
            data = body.get("data", {})
            about.add((body["type"], str(data.get("id", ""))))
            if "hold_id" in data:
                about.add((body["type"], str(data["hold_id"])))
        return ids, about, sum(d["status"] == 200 for d in deliveries)

    def settle_webhooks(self) -> None:
        """Wait until every event with a URL reached the receiver (duplicates allowed)."""
        engine = make_engine(self.cluster.url, pool_size=1)
        deadline = time.monotonic() + self.settings.settle_seconds
        missing: set[str] = set()
        events: dict[str, str] = {}
        try:
            while True:
                try:
                    with engine.connect() as conn:
                        events = dict(
                            conn.execute(text("SELECT id, type FROM outbox WHERE url <> ''")).all()
                        )
                except Exception:
                    time.sleep(0.5)
                    continue
                ids, _about, _n = self.received()
                missing = set(events) - ids
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
        finally:
            engine.dispose()
        ids, _about, deliveries = self.received()
        self.webhook_figures = {
            "events": len(events),
            "received": deliveries,
            "missing": len(missing),
        }
        for event_id in sorted(missing)[:100]:
            self.history.violation(f"webhook {event_id} ({events[event_id]}) never delivered")

    # after the run: what the API shows

    def check_listings(self) -> None:
        """Each wallet's payment history through the API holds every acknowledged payment once."""
        api = Api(self.cluster, self.history, random.Random(self.settings.seed + 5))
        mine: dict[str, set[str]] = defaultdict(set)
        for op in self.history.ops:
            if op.status == "ok" and op.kind in ("order", "static"):
                mine[op.actor].add(op.response["id"])
        try:
            for wallet in self.wallets:
                seen: list[str] = []
                cursor = ""
                while True:
                    page = api.get(
                        wallet,
                        "/v1/me/payments?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                    )
                    if page is None:
                        self.history.violation(f"could not list the payments of {wallet.id}")
                        break
                    seen += [p["id"] for p in page["data"]]
                    cursor = page["next_cursor"] or ""
                    if not cursor:
                        break
                if len(seen) != len(set(seen)):
                    self.history.violation(f"payments listed twice for {wallet.id}")
                for payment_id in sorted(mine[wallet.id] - set(seen)):
                    self.history.violation(
                        f"acknowledged {payment_id} missing from /v1/me/payments"
                    )
                balance = api.get(wallet, "/v1/me")
                self.api_balances[wallet.id] = balance["balance"] if balance else None
        finally:
            api.close()

    # after the run: the books

    def check_books(self) -> None:
        engine = make_engine(self.cluster.url, pool_size=1)
        try:
            report = check_ledger(engine)
            for problem in report.problems:
                self.history.violation(f"ledger check: {problem}")
            for problem in check_authorisations(engine):
                self.history.violation(f"authorisation check: {problem}")
            with engine.connect() as conn:
                tables = {
                    name: conn.execute(text(sql)).all()
                    for name, sql in {
                        "accounts": "SELECT id, currency, kind, debits_posted, credits_posted,"
                        " debits_pending, credits_pending FROM accounts",
                        "payments": "SELECT id, merchant_id, consumer_id, order_id, kind, amount,"
                        " fee, refunded, note, transfer_id, subsidy FROM payments",
                        "refunds": "SELECT id, payment_id, merchant_id, merchant_refund_no,"
                        " amount, fee_returned, subsidy_returned FROM refunds",
                        "p2p": "SELECT id, sender_id, recipient_id, amount, note, transfer_id,"
                        " state FROM p2p_transfers",
                        "consents": "SELECT preauth_id, consumer_id, transfer_id"
                        " FROM hold_consents",
                        "orders": "SELECT id, merchant_order_no, state, payment_id FROM orders",
                        "topups": "SELECT consumer_id, amount FROM bank_transfers"
                        " WHERE direction = 'topup' AND state = 'succeeded'",
                        "moves": "SELECT id FROM transfers WHERE id LIKE 'void:%'",
                        "outbox": "SELECT type, payload FROM outbox WHERE url <> ''",
                        "paid": "SELECT COALESCE(SUM(t.amount), 0) FROM transfers t"
                        " JOIN accounts a ON a.id = t.credit_account_id"
                        " WHERE a.kind = 'bank_clearing' AND t.code = 15 AND (t.flags & 10) = 0",
                    }.items()
                }
            self.check_operations(tables)
            self.check_money(tables, engine)
            self.check_webhooks(tables)
        finally:
            engine.dispose()

    def check_operations(self, t: dict[str, list[Any]]) -> None:
        """Acknowledged: exactly once. Refused or never sent: never. Unknown: at most once."""
        v = self.history.violation
        payments_by: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for p in t["payments"]:
            if p.kind == "order":
                payments_by["order", p.order_id].append(p)
            elif p.kind == "static":
                payments_by["static", p.note].append(p)
            elif p.kind == "capture":
                payments_by["capture", p.transfer_id].append(p)
            else:
                v(f"payment {p.id} of an unexpected kind {p.kind}")
        refunds_by: dict[str, list[Any]] = defaultdict(list)
        for r in t["refunds"]:
            refunds_by[r.merchant_refund_no].append(r)
        p2p_by: dict[str, list[Any]] = defaultdict(list)
        for x in t["p2p"]:
            p2p_by[x.note].append(x)
        consents_by: dict[str, list[Any]] = defaultdict(list)
        for c in t["consents"]:
            consents_by[c.preauth_id].append(c)
        voids = {row.id for row in t["moves"]}

        claimed: set[tuple[str, str]] = set()
        for op in self.history.ops:
            if op.kind == "order":  # two payers may race for one order: each sees its own
                where = ("order", op.subject)
                rows = [p for p in payments_by.get(where, []) if p.consumer_id == op.actor]
            elif op.kind == "static":
                where = ("static", op.id)
                rows = payments_by.get(where, [])
                derived = derived_id("pay", f"{op.actor}\x1f{op.key}")
                if any(r.transfer_id != derived for r in rows):
                    v(f"static payment {op.id} moved money under another transfer id")
            elif op.kind == "capture":
                where = ("capture", derived_id("cap", op.subject))
                rows = payments_by.get(where, [])
            elif op.kind == "refund":
                where = ("refund", op.id)
                rows = refunds_by.get(op.id, [])
            elif op.kind == "p2p":
                where = ("p2p", op.id)
                rows = p2p_by.get(op.id, [])
            elif op.kind == "consent":
                where = ("consent", op.subject)
                rows = consents_by.get(op.subject, [])
            else:  # void
                where = ("void", op.subject)
                rows = [op.subject] if derived_id("void", op.subject) in voids else []
            claimed.add(where)
            n = len(rows)
            if n > 1:
                v(f"{op.kind} {op.id} moved money {n} times")
            if op.status == "ok" and n == 0:
                v(f"acknowledged {op.kind} {op.id} is not in the books: {op.story()}")
            if op.status in ("refused", "unsent") and n:
                v(f"{op.kind} {op.id} was refused but moved money: {op.story()}")
            if op.status == "unknown":
                op.resolved = "database"
                self.history.count(
                    "unknown ops that moved money" if n else "unknown ops that did not"
                )
            if op.status == "ok" and n == 1:
                self.same(op, rows[0])
        for (kind, subject), rows in payments_by.items():
            if kind == "order" and len(rows) > 1:
                v(f"order {subject} paid {len(rows)} times")
        captured = {p.transfer_id for p in t["payments"] if p.kind == "capture"}
        for hold in {op.subject for op in self.history.ops if op.kind == "consent"}:
            if derived_id("cap", hold) in captured and derived_id("void", hold) in voids:
                v(f"hold {hold} both captured and voided")
        # Nothing moved that no client asked for.
        for kind, group in (
            ("payment", payments_by),
            ("refund", {("refund", k): g for k, g in refunds_by.items()}),
            ("transfer", {("p2p", k): g for k, g in p2p_by.items()}),
            ("consent", {("consent", k): g for k, g in consents_by.items()}),
        ):
            for where in group:
                if where not in claimed:
                    v(f"{kind} {where} in the books was asked for by no operation")

    def same(self, op: Op, row: Any) -> None:
        """The acknowledged response describes what is in the books."""
        v = self.history.violation
        if op.kind in ("order", "static", "refund", "p2p") and row.id != op.response.get("id"):
            v(f"{op.kind} {op.id} acknowledged as {op.response.get('id')}, booked as {row.id}")
        if op.kind in ("order", "static", "refund", "capture", "p2p") and row.amount != op.amount:
            v(f"{op.kind} {op.id} of {op.amount} booked as {row.amount}")
        if op.kind in ("order", "static", "capture") and row.consumer_id not in self.parties:
            v(f"{op.kind} {op.id} booked for an unknown consumer {row.consumer_id}")
        if op.kind in ("order", "static") and row.consumer_id != op.actor:
            v(f"{op.kind} {op.id} by {op.actor} booked against {row.consumer_id}")
        if op.kind == "p2p" and (row.sender_id, row.recipient_id) != (op.actor, op.subject):
            v(f"transfer {op.id} booked between the wrong wallets")
        if op.kind == "consent" and row.consumer_id != op.actor:
            v(f"hold consent {op.id} booked for {row.consumer_id}")

    def check_money(self, t: dict[str, list[Any]], engine: Engine) -> None:
        """Money per currency unchanged but for what was paid out to merchants' banks; every
        wallet equals what its records say, every merchant's money is accounted for."""
        v = self.history.violation
        topped = Counter({r.consumer_id: int(r.amount) for r in t["topups"]})
        if sum(topped.values()) != self.total:
            v(f"top-ups add up to {sum(topped.values())}, not {self.total}")
        balance = {a.id: int(a.credits_posted) - int(a.debits_posted) for a in t["accounts"]}
        inside = sum(balance[a.id] for a in t["accounts"] if a.kind != "bank_clearing")
        paid_out = int(t["paid"][0][0])
        if inside + paid_out != self.total:
            v(
                f"{inside} {CURRENCY} in the system at the end and {paid_out} paid out,"
                f" {self.total} brought in"
            )
        for a in t["accounts"]:
            if a.kind == "consumer_wallet" and balance[a.id] - int(a.debits_pending) < 0:
                v(f"wallet account {a.id} below zero: {balance[a.id]} less {a.debits_pending} held")
        payments = {p.id: p for p in t["payments"]}
        expected: Counter[int] = Counter()
        fees = 0
        for w in self.wallets:
            expected[w.account_id] += topped[w.id]
        account_of = {p.id: p.account_id for p in [*self.wallets, *self.shops]}
        for p in t["payments"]:
            expected[account_of[p.consumer_id]] -= int(p.amount) - int(p.subsidy)
            expected[account_of[p.merchant_id]] += int(p.amount) - int(p.fee)
            fees += int(p.fee)
        refunded: Counter[str] = Counter()
        for r in t["refunds"]:
            p = payments[r.payment_id]
            refunded[p.id] += int(r.amount)
            expected[account_of[p.consumer_id]] += int(r.amount) - int(r.subsidy_returned)
            expected[account_of[p.merchant_id]] -= int(r.amount) - int(r.fee_returned)
            fees -= int(r.fee_returned)
        for x in t["p2p"]:
            if x.state != "done":
                v(f"transfer {x.id} is {x.state}")
            expected[account_of[x.sender_id]] -= int(x.amount)
            expected[account_of[x.recipient_id]] += int(x.amount)
        for p in t["payments"]:
            if int(p.refunded) != refunded[p.id] or refunded[p.id] > int(p.amount):
                v(f"payment {p.id}: refunded {p.refunded}, refunds add up to {refunded[p.id]}")
        for w in self.wallets:
            shown = self.api_balances.get(w.id)
            if shown is not None and shown != balance[w.account_id]:
                v(f"/v1/me shows {shown} for {w.id}, the ledger {balance[w.account_id]}")
        for party in self.wallets:
            if balance[party.account_id] != expected[party.account_id]:
                v(
                    f"account of {party.id}: ledger says {balance[party.account_id]},"
                    f" its payments, refunds and transfers say {expected[party.account_id]}"
                )
        came_in = {shop.id: expected[shop.account_id] for shop in self.shops}
        fees += self.payday.check(engine, came_in, balance)
        platform = sum(balance[a.id] for a in t["accounts"] if a.kind == "platform_fees")
        if platform != fees:
            v(f"platform fees: ledger says {platform}, the payments and instant payouts {fees}")
        orders = {o.id: o for o in t["orders"]}
        for p in t["payments"]:
            if p.order_id is not None:
                o = orders[p.order_id]
                if (o.state, o.payment_id) != ("paid", p.id):
                    v(f"order {o.id} is {o.state} with payment {o.payment_id}, paid by {p.id}")
        for o in t["orders"]:
            if o.state == "paid" and o.payment_id not in payments:
                v(f"order {o.id} is paid by a payment that does not exist")

    def check_webhooks(self, t: dict[str, list[Any]]) -> None:
        """Every payment, refund, hold taken and capture was told to the merchant."""
        _ids, about, _n = self.received()
        expected: set[tuple[str, str]] = set()
        for p in t["payments"]:
            kind = "hold.captured" if p.kind == "capture" else "payment.succeeded"
            expected.add((kind, p.id))
        expected |= {("refund.succeeded", r.id) for r in t["refunds"]}
        expected |= {("hold.held", c.preauth_id) for c in t["consents"]}
        for op in self.history.ops:
            if op.status != "ok":
                continue
            if op.kind in ("order", "static"):
                expected.add(("payment.succeeded", op.response["id"]))
            elif op.kind == "refund":
                expected.add(("refund.succeeded", op.response["id"]))
            elif op.kind == "consent":
                expected.add(("hold.held", op.subject))
            elif op.kind == "capture":
                expected.add(("hold.captured", op.subject))
        written = set()
        for row in t["outbox"]:
            body = json.loads(row.payload)
            written.add((row.type, str(body["data"].get("id", ""))))
            if "hold_id" in body["data"]:
                written.add((row.type, str(body["data"]["hold_id"])))
        for what in sorted(expected - written)[:100]:
            self.history.violation(f"no webhook event written for {what[0]} {what[1]}")
        for what in sorted((expected & written) - about)[:100]:
            self.history.violation(f"webhook {what[0]} for {what[1]} never received")


def run(settings: Settings) -> Summary:
    """Run the workload once; raises :class:`Unavailable` if PostgreSQL cannot be reached."""
    if settings.workdir is None:
        import tempfile

        workdir = Path(tempfile.mkdtemp(prefix="saoma-chaos-"))
    else:
        workdir = settings.workdir
        workdir.mkdir(parents=True, exist_ok=True)
    return Bank(settings, workdir).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--seconds", type=float, default=60.0, help="of load (default 60)")
    parser.add_argument("--servers", type=int, help="default: 2 on PostgreSQL, 1 on SQLite")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--consumers", type=int, default=8)
    parser.add_argument("--merchants", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=10.0, help="mean seconds, 0: never")
    parser.add_argument("--drop-every", type=float, default=15.0, help="mean seconds, 0: never")
    parser.add_argument("--outage-every", type=float, default=20.0, help="mean seconds, 0: never")
    parser.add_argument(
        "--settle-every", type=float, default=15.0, help="mean seconds between saoma settle runs"
    )
    parser.add_argument(
        "--settle-kill-ratio", type=float, default=0.3, help="settle runs SIGKILLed mid-way"
    )
    parser.add_argument(
        "--instant-every", type=float, default=4.0, help="mean seconds between instant payouts"
    )
    parser.add_argument(
        "--pg-restarts", type=int, help="PostgreSQL restarts (default: 1 if the run is long)"
    )
    parser.add_argument(
        "--no-takeover",
        action="store_true",
        help="do not wait a minute at the end to retry requests whose key was abandoned",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database and server logs")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    pg_restarts = args.pg_restarts
    if pg_restarts is None:
        pg_restarts = 1 if args.db == "postgres" and args.seconds >= 60 else 0
    settings = Settings(
        db=args.db,
        seconds=args.seconds,
        servers=args.servers or (2 if args.db == "postgres" else 1),
        consumers=args.consumers,
        merchants=args.merchants,
        threads=args.threads,
        kill_every=args.kill_every,
        drop_every=args.drop_every if args.db == "postgres" else 0,
        outage_every=args.outage_every if args.db == "postgres" else 0,
        pg_restarts=pg_restarts,
        settle_every=args.settle_every,
        settle_kill_ratio=args.settle_kill_ratio,
        instant_every=args.instant_every,
        takeover=not args.no_takeover,
        seed=seed,
        workdir=args.workdir,
        keep=args.keep,
        progress=None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True)),
    )
    print(f"seed {seed}", file=sys.stderr)
    try:
        summary = run(settings)
    except Unavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    print(summary.render())
    return 1 if summary.violations else 0


if __name__ == "__main__":
    sys.exit(main())
