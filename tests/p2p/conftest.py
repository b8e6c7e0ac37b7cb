"""A platform in this process over each database, for the services of people and promotions:
wallets and shops to use them, a batch whose commit is lost once, and the events reported."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import select

from saoma.bootstrap import Platform
from saoma.core.errors import Conflict, SaomaError
from saoma.db import read
from saoma.funding.bank import BankOutcome
from saoma.merchants.service import Merchant
from saoma.movements import Movements, Unit
from saoma.wallets.service import Consumer
from saoma.webhooks import tables as pm
from support import a_fen_moved, approved, lose_the_next_commit, one_batch

PIN = "246810"
PASSWORD = "correct horse battery"
_phones = itertools.count()
_shops = itertools.count()
T = TypeVar("T")
WAIT_S = 10.0


def wallet(p: Platform, balance: int = 0, *, pin: str | None = PIN) -> Consumer:
    c = p.wallets.sign_up(f"+86136{next(_phones):08d}", PASSWORD, "Li Wei")
    if pin:
        p.wallets.set_pin(c.id, pin, password=PASSWORD, old_pin=None)
    if balance:
        top = p.funding.top_up(c, balance)
        p.funding.settled(BankOutcome(top["id"], True, "T"))
    return p.wallets.get(c.id)


def shop(p: Platform, name: str = "Old Chen Noodles") -> Merchant:
    return approved(
        p,
        p.merchants.sign_up(
            login=f"shop-{next(_shops)}@example.cn", password=PASSWORD, name=name, city="Shenzhen"
        ),
    )


def balance(p: Platform, consumer: Consumer) -> int:
    return int(p.wallets.balance(consumer)["balance"])


def report_events(p: Platform) -> list[str]:
    """The ids of the events the services report as committed, from now on."""
    reported: list[str] = []
    p.payments.movements = Movements(p.ledger, on_events=reported.extend)
    return reported


def outbox_ids(p: Platform, subject: str | None = None) -> list[str]:
    o = pm.outbox.c
    query = select(o.id).order_by(o.id)
    if subject is not None:
        query = query.where(o.subject == subject)
    with read(p.engine) as conn:
        return list(conn.execute(query).scalars())


def beside_a_refusal(p: Platform, work: Callable[[], T]) -> T:
    """Run ``work`` so that its money movement shares a batch with a request whose hook refuses:
    the work's hook runs, the ledger rolls the batch back and retries each request alone. The
    ledger is held on a first batch until both are queued behind it, so they are taken together."""

    def refused(unit: Unit) -> None:
        raise Conflict("refused beside the work, to make the batch fail")

    def refusing() -> None:
        try:
            p.payments.movements.move([a_fen_moved(p, "refused")], refused)
        except SaomaError:
            return
        raise AssertionError("the refusing request went through")

    with ThreadPoolExecutor(2) as pool:
        with one_batch(p) as held:
            # The work first, then the refusal: the work's hook runs before the batch fails.
            result = pool.submit(work)
            held.wait_for(1)
            refusal = pool.submit(refusing)
            held.wait_for(1)
        refusal.result()
        return result.result()


RETRIES = ["commit-lost", "refusal-beside"]


def retried(p: Platform, way: str, work: Callable[[], T]) -> T:
    """``work`` with its movement in a batch the ledger retries request by request, ``way``
    being one of :data:`RETRIES`."""
    if way == "refusal-beside":
        return beside_a_refusal(p, work)
    lost = lose_the_next_commit(p)
    result = work()
    assert lost == [1]  # the first run's hook ran, its commit was lost, the retry committed
    return result
