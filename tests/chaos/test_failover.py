"""Money survives losing the primary database: automatic failover with nothing lost.

A pg_auto_failover group of its own (``tests/failover_group.py``: a monitor, a primary and a
synchronous secondary), two ``saoma serve`` processes over the group's multi-host URL, and the
bank workload (``bank.py``) paying, refunding, holding and transferring while the primary is
SIGKILLed (its postgres and its keeper: a machine lost) and the secondary takes over. Afterwards
every acknowledged operation is in the books exactly once (recovery point zero), the books
balance, no wallet is below zero and every webhook arrived. The lost node then rejoins as the
new secondary.

The short form (one failover, a few seconds of load) runs in the normal test run; the long form
(several failovers, servers SIGKILLed too) with SAOMA_FAILOVER_LONG=1. Skipped where
pg_auto_failover is not installed, unless SAOMA_REQUIRE_FAILOVER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bank
import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from failover_group import FailoverGroup, GroupUnavailable, Node, available
from saoma.db import make_engine, migrate
from saoma.replicas import Replicas
from support import PIN, Server, free_port, new_consumer, new_merchant, wait_until

# Runs after the other tests, on its own (Makefile): its time budgets (a settle-down, a
# failover within seconds, a crash's recovery) assume a machine no other test worker shares.
pytestmark = pytest.mark.alone

REQUIRE = os.environ.get("SAOMA_REQUIRE_FAILOVER") == "1"
LONG = os.environ.get("SAOMA_FAILOVER_LONG") == "1"
START_S = 120  # a server's start, on a machine shared with other work


def _unavailable(why: str) -> None:
    if REQUIRE:
        pytest.fail(f"pg_auto_failover is required: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def group() -> Iterator[FailoverGroup]:
    why = available()
    if why is not None:
        _unavailable(why)
    # Not pytest's tmp_path: the postgres user must reach the directory.
    g = FailoverGroup(Path(tempfile.mkdtemp(prefix="saoma-failover-")))
    try:
        g.up()
    except GroupUnavailable as exc:
        g.cleanup()
        _unavailable(str(exc))
    try:
        yield g
    finally:
        g.cleanup()


def create_database(g: FailoverGroup, prefix: str) -> tuple[str, str]:
    """A new database on the group's primary: its name and Saoma's URL for it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(g.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return name, g.url(name)


class PatientServer(Server):
    """A server given longer to start: on a busy machine starting takes more than 30 s."""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "saoma.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, timeout_s=START_S, what="the server to start")
        except AssertionError:
            raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}") from None


def patient_server(url: str, tmp: Path, **settings: str) -> PatientServer:
    """As ``support.start_server``, given longer to start."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        SAOMA_DATABASE_URL=url,
        SAOMA_SANDBOX_BANK_DELAY_S="0.01",
        SAOMA_POOL_SIZE="4",
        SAOMA_OPS_KEY_FILE=str(tmp / "ops.key"),
        SAOMA_AUDIT_HEAD_FILE=str(tmp / "audit-head.log"),
        SAOMA_KYC_KEY_FILE=str(tmp / "kyc.key"),
    )
    env.update(settings)
    server = PatientServer(f"http://127.0.0.1:{port}", url, tmp / "server.log", env, port)
    server.start()
    return server


class FailoverCluster(bank.Cluster):
    """The bank's servers over a database of the failover group."""

    group: FailoverGroup

    def open(self) -> None:
        self.url = self._create_database()
        self.receiver, self.httpd = bank.start_receiver()
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
            server = PatientServer(f"http://127.0.0.1:{port}", self.url, log, env, port)
            self.servers.append(server)
            server.start()

    def _create_database(self) -> str:
        self.db_name, url = create_database(self.group, "saoma_failover")
        migrate(url)  # before the servers start: each commit waits for the secondary too
        self.admin = create_engine(
            self.group.url("postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True
        )
        return url


class FailoverBank(bank.Bank):
    """The bank workload whose nemesis loses the primary ``failovers`` times."""

    def __init__(
        self, settings: bank.Settings, workdir: Path, g: FailoverGroup, failovers: int
    ) -> None:
        super().__init__(settings, workdir)
        cluster = FailoverCluster(settings, workdir, self.history)
        cluster.group = g
        self.cluster = self.payday.cluster = cluster
        self.group = g
        self.failovers = failovers
        self.promotions: list[tuple[str, str, float]] = []  # lost, promoted, seconds

    def nemesis(self, started: float) -> None:
        s = self.settings
        # Server SIGKILLs (the long form) go on as the bank's own nemesis plans them.
        killer = threading.Thread(target=super().nemesis, args=(started,), daemon=True)
        killer.start()
        room = s.seconds - bank.QUIET_S - 2.0
        for k in range(self.failovers):
            at = started + 2.0 + room * k / self.failovers
            if self.stop.wait(max(0.0, at - time.monotonic())):
                break
            try:
                self.fail_over()
            except Exception as exc:
                self.history.violation(f"the failover did not happen: {exc!r}")
                break
        killer.join(timeout=120)
        self.cluster.ensure_up()

    def fail_over(self) -> None:
        lost = self.group.kill_primary()
        killed = time.monotonic()
        self.say(f"  SIGKILL the primary {lost.name}")
        promoted = self.group.wait_promoted(lost)
        took = time.monotonic() - killed
        self.say(f"  {promoted.name} promoted after {took:.1f} s")
        self.promotions.append((lost.name, promoted.name, took))
        self.faults["failovers"] += 1
        self.group.rejoin(lost)  # back as the secondary, for the next failover
        self.say(f"  {lost.name} rejoined as the secondary")


def settings(workdir: Path) -> tuple[bank.Settings, int]:
    seed = int(os.environ.get("SAOMA_CHAOS_SEED") or secrets.randbelow(2**31))
    if LONG:
        return (
            bank.Settings(
                seconds=120,
                kill_every=15.0,
                drop_every=0,
                settle_every=15.0,
                seed=seed,
                workdir=workdir,
            ),
            4,
        )
    short = bank.Settings(
        seconds=24,
        kill_every=0,
        drop_every=0,
        settle_every=8.0,
        instant_every=2.5,
        seed=seed,
        workdir=workdir,
    )
    return short, 1


@pytest.mark.slow
@pytest.mark.postgres
def _standby(group: FailoverGroup) -> Node:
    wait_until(group.ready, timeout_s=120, what="a primary and a synchronous secondary")
    primary = group.primary()
    return next(n for n in group.nodes if n is not primary)


def _replay(group: FailoverGroup, node: Node, db: str, paused: bool) -> None:
    """Pause or resume the standby's replay: it goes on receiving but applies nothing."""
    verb = "pause" if paused else "resume"
    with psycopg.connect(group.node_url(node, db).replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"SELECT pg_wal_replay_{verb}()")


@pytest.mark.slow
@pytest.mark.postgres
def test_reports_read_from_the_groups_standby_and_say_how_old(
    group: FailoverGroup, tmp_path: Path
) -> None:
    name, url = create_database(group, "saoma_replica")
    migrate(url)
    standby = _standby(group)
    replica_url = group.url(name, attrs="standby")  # whichever node is the standby now
    server = patient_server(url, tmp_path, SAOMA_DATABASE_REPLICA_URL=replica_url)
    replicas = Replicas(make_engine(url), make_engine(replica_url, pool_size=1), lag_max_s=1.0)
    try:
        shop = new_merchant(server)
        payer = new_consumer(server, balance=10_000)
        payer.client.pay_static(shop.id, 300, PIN)

        def caught_up(count: int) -> bool:
            summary = shop.client.summary(days=1)
            return summary["read_from"] == "replica" and summary["today"]["count"] == count

        wait_until(lambda: caught_up(1), timeout_s=30, what="the standby to show the payment")
        _replay(group, standby, name, paused=True)
        try:
            payer.client.pay_static(shop.id, 400, PIN)  # acknowledged: flushed on the standby
            time.sleep(2.5)
            behind = shop.client.summary(days=1)
            # Read from the standby, which has not applied the second payment: it says so.
            assert behind["read_from"] == "replica", behind
            assert behind["today"]["count"] == 1 and behind["data_age_s"] >= 2.0, behind
            # Further behind than its limit, the standby is passed over for the primary.
            with replicas.reading() as (conn, freshness):
                count = conn.execute(text("SELECT count(*) FROM payments")).scalar()
            assert (freshness.source, count) == ("primary", 2)
        finally:
            _replay(group, standby, name, paused=False)
        wait_until(lambda: caught_up(2), timeout_s=30, what="the standby to catch up")
        assert shop.client.summary(days=1)["data_age_s"] == 0.0
    finally:
        server.stop()
        replicas.primary.dispose()
        if replicas.standby is not None:
            replicas.standby.dispose()


def test_money_survives_losing_the_primary(group: FailoverGroup, tmp_path: Path) -> None:
    s, failovers = settings(tmp_path)
    s.progress = print
    run = FailoverBank(s, tmp_path, group, failovers)
    summary = run.run()
    print(summary.render())
    print(f"promotions: {run.promotions}")
    assert summary.violations == [], summary.render()
    # The primary was lost and another node took over, each time.
    assert summary.faults["failovers"] == failovers, summary.render()
    assert all(lost != promoted for lost, promoted, _ in run.promotions), run.promotions
    # Money moved, and requests caught by the failover were answered 503 and retried: never
    # a 500, never left hanging.
    assert summary.acknowledged >= 20, summary.render()
    assert summary.counters["answered 500"] == 0, summary.render()
    assert summary.counters["requests that hung 10 s"] == 0, summary.render()
    assert summary.counters["retries"] >= 1, summary.render()
    assert summary.settlement["movements settled"] >= 1, summary.render()


def _pay(server: Server, token: str, shop_id: str, amount: int = 1) -> httpx.Response | None:
    try:
        return httpx.post(
            f"{server.url}/v1/merchants/{shop_id}/pay",
            json={"amount": amount, "currency": "CNY", "note": "failover", "pin": PIN},
            headers={"authorization": f"Bearer {token}", "idempotency-key": secrets.token_hex(8)},
            timeout=10,
        )
    except httpx.TimeoutException:
        return None


class Cashier:
    """The till's live page: listens to the merchant's events, connecting again (as a browser's
    EventSource does) whenever the stream ends."""

    def __init__(self, server: Server, token: str) -> None:
        self.server, self.token = server, token
        self.heard: list[dict[str, object]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while not self.stop.is_set():
            try:
                with httpx.stream(
                    "GET",
                    self.server.url + "/v1/merchant/events",
                    headers={"authorization": f"Bearer {self.token}"},
                    timeout=httpx.Timeout(10, read=None),
                ) as stream:
                    self.connections += 1
                    for line in stream.iter_lines():
                        if line.startswith(": connected"):
                            self.connected.set()
                        if line.startswith("data: "):
                            self.heard.append(json.loads(line[6:]))
                        if self.stop.is_set():
                            return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    def heard_amount(self, amount: int) -> bool:
        return any(e["data"].get("amount") == amount for e in self.heard)  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.postgres
def test_requests_answer_503_and_healthz_stays_up_during_a_failover(
    group: FailoverGroup, tmp_path: Path
) -> None:
    _, url = create_database(group, "saoma_failover_503")
    server = patient_server(url, tmp_path)
    try:
        shop = new_merchant(server)
        payer = new_consumer(server, balance=100_000)
        token = payer.client.token
        assert _pay(server, token, shop.id) is not None
        cashier = Cashier(server, shop.token)
        assert cashier.connected.wait(30), "the till's live page did not connect"
        statuses: Counter[str] = Counter()
        health: Counter[int] = Counter()
        refused: list[httpx.Response] = []
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                try:
                    health[httpx.get(server.url + "/healthz", timeout=5).status_code] += 1
                except httpx.HTTPError:
                    health[0] += 1
                time.sleep(0.1)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        lost = group.kill_primary()
        deadline = time.monotonic() + 90
        recovered = False
        while time.monotonic() < deadline:
            answer = _pay(server, token, shop.id)
            if answer is None:
                statuses["hung"] += 1
            elif answer.is_success:
                # Payments go through again once the secondary is the primary.
                statuses["paid"] += 1
                recovered = statuses["503"] > 0
                if recovered:
                    break
            else:
                statuses[str(answer.status_code)] += 1
                refused.append(answer)
            time.sleep(0.05)
        stop.set()
        prober.join(timeout=10)
        # The till's live page goes on too: a payment after the failover is heard there.
        after = _pay(server, token, shop.id, amount=7)
        assert after is not None and after.is_success, after
        wait_until(lambda: cashier.heard_amount(7), timeout_s=30, what="the till to hear it")
        cashier.stop.set()
        group.rejoin(lost)
    finally:
        server.stop()
    print(f"payments: {dict(statuses)}; /healthz: {dict(health)}")
    assert recovered, statuses
    assert set(statuses) == {"paid", "503"}, statuses  # never a 500, never a hang
    for answer in refused:
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["type"].endswith("/database-unavailable"), answer.text
    assert set(health) == {200}, health
    print(f"the till's live page connected {cashier.connections} time(s)")
