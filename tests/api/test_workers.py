"""`saoma serve --workers 2`: two processes on one port, each with its background jobs, over
one database; payments, webhooks and expiring holds come out exactly as with one process."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from support import (
    PIN,
    Payer,
    Receiver,
    Server,
    _database,
    assert_books_hold,
    engine_of,
    new_consumer,
    new_merchant,
    wait_for,
    wait_until,
)
from support_pgbouncer import patient, start_workers

PAYMENTS = 50
PAYERS = 10  # each pays 5 of the 50 at once, on connections of its own
HOLDS = 10
EXPIRY = 11  # the ledger's code for a hold it released when its time passed
IDS: Any = bindparam("ids", expanding=True)  # a list of ids, as many parameters


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`saoma serve --workers 2` over a fresh database; its books are checked when it stops."""
    tmp = tmp_path_factory.mktemp(f"workers-{request.param}")
    for database_url in _database(request.param, tmp):
        srv = start_workers(database_url, tmp, 2)
        try:
            yield srv
        finally:
            srv.stop()
        assert_books_hold(database_url)


def workers_of(parent: int) -> list[int]:
    """The worker processes uvicorn spawned under ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def connections_per_worker(workers: list[int], port: int) -> dict[int, int]:
    """How many established connections to ``port`` each worker holds (from /proc)."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # ESTABLISHED
                established.add(fields[9])
    counts = {}
    for pid in workers:
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in established:
                held += 1
        counts[pid] = held
    return counts


def test_fifty_payments_on_two_workers_each_webhook_once(
    two_workers: Server, receiver: Receiver
) -> None:
    server = two_workers
    assert server.process is not None
    workers = workers_of(server.process.pid)
    assert len(workers) == 2, workers
    shop = patient(new_merchant, server, webhook_url=receiver.url)
    with ThreadPoolExecutor(2) as pool:  # the payers set up a few at a time
        payers = list(
            pool.map(lambda _: patient(new_consumer, server, balance=10_000), range(PAYERS))
        )
    lock = threading.Lock()
    orders = [shop.client.create_order(f"W-{i}", 1_000 + i) for i in range(PAYMENTS)]
    paid: list[dict[str, object]] = []

    def pay(payer: Payer, order: dict[str, object]) -> None:
        result = payer.client.pay_order(str(order["id"]), PIN)
        with lock:
            paid.append(result)

    run_at_once([lambda i=i, o=o: pay(payers[i % PAYERS], o) for i, o in enumerate(orders)])
    assert len(paid) == PAYMENTS
    assert [p.client.me()["balance"] for p in payers] == [
        10_000 - sum(1_000 + i for i in range(n, PAYMENTS, PAYERS)) for n in range(PAYERS)
    ]
    # Both processes took connections of the payers (each payer keeps its own open).
    held = connections_per_worker(workers, server.port)
    assert all(n > 0 for n in held.values()), held

    wait_for(
        lambda: len(receiver.bodies("payment.succeeded")) >= PAYMENTS,
        timeout=30,
        what="every payment's webhook",
    )
    engine = engine_of(server.database_url)

    def all_delivered() -> bool:
        with engine.connect() as conn:
            return not conn.execute(
                text(
                    "SELECT count(*) FROM outbox WHERE merchant_id = :m AND url != ''"
                    " AND delivered_at_us IS NULL"
                ),
                {"m": shop.id},
            ).scalar_one()

    wait_until(all_delivered, timeout_s=30, what="the outbox to be delivered")
    with engine.connect() as conn:
        events = conn.execute(
            text("SELECT id FROM outbox WHERE merchant_id = :m AND url != ''"), {"m": shop.id}
        ).scalars()
        tried = conn.execute(
            text(
                "SELECT event_id, status_code, error, attempted_at_us FROM webhook_attempts"
                " WHERE merchant_id = :m"
            ),
            {"m": shop.id},
        ).all()
        event_ids = set(events)
    # Each event was answered once, by one worker. An attempt that got no answer at all (the
    # connection failed: status 0) is the one retry allowed before it; on failure, the attempts
    # of the events tried more than once say why.
    attempts = Counter(row.event_id for row in tried)
    answered = Counter(row.event_id for row in tried if row.status_code != 0)
    again = [tuple(row) for row in tried if attempts[row.event_id] > 1]
    assert set(answered) == event_ids and set(answered.values()) == {1}, again
    assert all(row.status_code == 200 for row in tried if row.status_code != 0), again
    assert all(n <= 2 for n in attempts.values()), again
    sent = Counter(d["headers"]["webhook-id"] for d in receiver.deliveries)
    twice = [
        (d["headers"]["webhook-id"], d["at"])
        for d in receiver.deliveries
        if sent[d["headers"]["webhook-id"]] > 1
    ]
    assert set(sent) == event_ids and set(sent.values()) == {1}, twice
    assert {b["data"]["id"] for b in receiver.bodies("payment.succeeded")} == {
        p["id"] for p in paid
    }


def test_holds_expire_once_with_two_workers(two_workers: Server) -> None:
    server = two_workers
    hotel = patient(new_merchant, server, name="Dongmen Hotel")
    guests = []
    holds = []
    for i in range(HOLDS):
        guest = patient(new_consumer, server, balance=10_000)
        hold = hotel.client.create_hold(f"room-{i}", 4_000, expires_in_s=3600)
        guest.client.consent_hold(hold["id"], PIN)
        assert guest.client.me()["available"] == 6_000
        guests.append(guest)
        holds.append(hold["id"])
    engine = engine_of(server.database_url)
    past = int(time.time() * 1_000_000) - 1
    with engine.begin() as conn:  # their time passes now
        transfer_ids = list(
            conn.execute(
                text("SELECT transfer_id FROM preauths WHERE id IN :ids").bindparams(IDS, ids=holds)
            ).scalars()
        )
        conn.execute(
            text("UPDATE preauths SET expires_at_us = :past WHERE id IN :ids").bindparams(
                IDS, past=past, ids=holds
            )
        )
        conn.execute(
            text("UPDATE holds SET expires_at_us = :past WHERE transfer_id IN :ids").bindparams(
                IDS, past=past, ids=transfer_ids
            )
        )

    def expired() -> bool:
        with engine.connect() as conn:
            states = conn.execute(
                text("SELECT state FROM preauths WHERE id IN :ids").bindparams(IDS, ids=holds)
            ).scalars()
            return set(states) == {"expired"}

    wait_until(expired, timeout_s=30, what="both workers' maintenance to expire the holds")
    with engine.connect() as conn:
        releases = Counter(
            conn.execute(
                text(
                    "SELECT pending_id FROM transfers WHERE pending_id IN :ids AND code = :code"
                ).bindparams(IDS, ids=transfer_ids, code=EXPIRY)
            ).scalars()
        )
    assert releases == dict.fromkeys(transfer_ids, 1)
    assert [g.client.me()["available"] for g in guests] == [10_000] * HOLDS


def test_sigterm_stops_the_parent_and_both_workers(two_workers: Server) -> None:
    server = two_workers
    assert server.process is not None
    workers = workers_of(server.process.pid)
    assert len(workers) == 2
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    wait_until(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers),
        timeout_s=10,
        what="the workers to exit",
    )
    log = server.log.read_text(errors="replace")
    assert "Exception in ASGI application" not in log, log[-3000:]


def run_at_once(calls: list[object]) -> None:
    """Run every call in a thread of its own, released together; re-raise the first failure."""
    barrier = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def run(call: object) -> None:
        barrier.wait()
        try:
            call()  # type: ignore[operator]
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if failures:
        raise failures[0]
