"""A platform in this process over each database, for the services of people and promotions:
wallets and shops to use them, a batch whose commit is lost once, and the events reported."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import select

from saoma.bootstrap import Platform
from saoma.core.errors import Conflict, SaomaError
from saoma.db import read
from saoma.funding.bank import BankOutcome
from saoma.ledger import Transfer, TransferCode
from saoma.merchants.service import Merchant
from saoma.movements import Movements, Unit
from saoma.wallets.service import Consumer
from saoma.webhooks import tables as pm
from support import approved, lose_the_next_commit

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
    store, submit = p.ledger.store, p.ledger.submit
    original = store.apply_batch
    started, go, queued = threading.Event(), threading.Event(), threading.Semaphore(0)

    def held_apply_batch(*args: Any) -> Any:
        store.apply_batch = original  # type: ignore[method-assign]
        started.set()
        assert go.wait(WAIT_S)
        return original(*args)

    def counted_submit(*args: Any, **kwargs: Any) -> Any:
        reply = submit(*args, **kwargs)
        queued.release()
        return reply

    def refused(unit: Unit) -> None:
        raise Conflict("refused beside the work, to make the batch fail")

    def refusing() -> None:
        move = Transfer(
            f"refused-{secrets.token_hex(6)}",
            p.payments.bank_account,
            p.payments.fees_account,
            1,
            TransferCode.TOP_UP,
        )
        try:
            p.payments.movements.move([move], refused)
        except SaomaError:
            return
        raise AssertionError("the refusing request went through")

    store.apply_batch = held_apply_batch  # type: ignore[method-assign]
    p.ledger.submit = counted_submit  # type: ignore[method-assign]
    try:
        # With a hook, so it is applied by the batch, not sent ahead on a pipeline.
        first = p.ledger.submit([_nothing_much(p)], hook=lambda tx, results: None)
        assert started.wait(WAIT_S)
        with ThreadPoolExecutor(2) as pool:
            # The work first, then the refusal: the work's hook runs before the batch fails.
            result = pool.submit(work)
            for _ in range(2):  # the first batch's request and the work's
                assert queued.acquire(timeout=WAIT_S)
            refusal = pool.submit(refusing)
            assert queued.acquire(timeout=WAIT_S)
            go.set()
            first.result()
            refusal.result()
            return result.result()
    finally:
        go.set()
        store.apply_batch = original  # type: ignore[method-assign]
        del p.ledger.submit


def _nothing_much(p: Platform) -> Transfer:
    return Transfer(
        f"first-{secrets.token_hex(6)}",
        p.payments.bank_account,
        p.payments.fees_account,
        1,
        TransferCode.TOP_UP,
    )


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
