"""A ledger batch holding checkouts fails and is retried request by request: what a checkout
does outside its transaction (waking the webhook dispatcher and the live pages with its event
ids) happens once, for the run that committed.

The group commit runs every request's hook in one transaction. When one request's hook refuses
(an order closed meanwhile, a budget spent), that transaction rolls back and every request is
tried again alone, so the other requests' hooks run twice. An event id from the rolled-back run
is in no outbox: reporting it would wake the dispatcher for nothing, and a listener keyed on ids
would wait for an event that never comes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from saoma.bootstrap import Platform
from saoma.db import read
from saoma.ledger import Result, Transfer, TransferCode
from saoma.ledger.tx import Refusal, Tx
from saoma.merchants.service import Merchant
from saoma.payments.service import Payments
from saoma.wallets.service import Consumer
from saoma.webhooks import tables as m
from support import PIN, wait_until

WAIT_S = 30.0


class Refused(Refusal):
    """The hook of the batch's last request refuses: the whole batch goes again, one by one."""


def hold_the_next_batch(platform: Platform) -> tuple[threading.Event, threading.Event]:
    """The next batch the ledger applies waits, before its transaction, until ``go`` is set;
    ``entered`` tells that it is waiting. Requests submitted meanwhile queue up as one batch."""
    store = platform.ledger.store
    original = store.apply_batch
    entered, go = threading.Event(), threading.Event()

    def apply_batch(*args: Any, **kwargs: Any) -> Any:
        store.apply_batch = original  # type: ignore[method-assign]
        entered.set()
        assert go.wait(WAIT_S)
        return original(*args, **kwargs)

    store.apply_batch = apply_batch  # type: ignore[method-assign]
    return entered, go


def queued(platform: Platform) -> int:
    return len(platform.ledger.committer._queue)


def outbox_ids(platform: Platform, event_type: str) -> dict[str, str]:
    """Each event of the type: its id and its subject."""
    with read(platform.engine) as conn:
        rows = conn.execute(
            select(m.outbox.c.id, m.outbox.c.subject).where(m.outbox.c.type == event_type)
        ).all()
    return {row.id: row.subject for row in rows}


def test_a_retried_batch_reports_each_checkout_event_once(
    platform: Platform, payer: Callable[[int], Consumer], shop: Callable[..., Merchant]
) -> None:
    reported: list[list[str]] = []
    # The payments service as the platform builds it, with a wake-up that keeps what it is told.
    payments = Payments(
        platform.engine,
        platform.ledger,
        platform.wallets,
        platform.merchants,
        on_events=lambda ids: reported.append(list(ids)),
    )
    noodles, tea = shop(), shop("Tea House")
    alice, bob = payer(5_000), payer(5_000)
    order = payments.create_order(noodles, merchant_order_no="T-1", amount=1_200, currency="CNY")[0]

    entered, go = hold_the_next_batch(platform)
    first = platform.ledger.submit(
        [
            Transfer(
                "blocker", platform.payments.bank_account, alice.account_id, 1, TransferCode.TOP_UP
            )
        ],
        hook=lambda _tx, _results: None,  # a hook keeps it off PostgreSQL's pipeline
    )
    assert entered.wait(WAIT_S)

    def refuse(_tx: Tx, _results: list[Result]) -> None:
        raise Refused("refused by the last request of the batch")

    with ThreadPoolExecutor(2) as pool:
        paid: list[Future[dict[str, Any]]] = [
            pool.submit(payments.pay_order, alice, order["id"], pin=PIN),
            pool.submit(payments.pay_static, bob, tea.id, amount=800, pin=PIN),
        ]
        wait_until(lambda: queued(platform) == 2, timeout_s=WAIT_S, what="both checkouts to queue")
        refused = platform.ledger.submit(
            [
                Transfer(
                    "refused",
                    platform.payments.bank_account,
                    bob.account_id,
                    1,
                    TransferCode.TOP_UP,
                )
            ],
            hook=refuse,
        )
        go.set()
        views = [f.result(WAIT_S) for f in paid]
    assert first.result() == [Result.OK]
    assert isinstance(refused.exception(), Refused)

    succeeded = outbox_ids(platform, "payment.succeeded")
    assert sorted(succeeded.values()) == sorted([order["id"], views[1]["id"]])
    everything = [event_id for ids in reported for event_id in ids]
    assert sorted(everything) == sorted(succeeded), "reported ids are exactly the committed ones"
    assert len(reported) == 2, "each checkout reports its events once"
    assert platform.wallets.balance(alice)["balance"] == 5_000 + 1 - 1_200
    assert platform.wallets.balance(bob)["balance"] == 5_000 - 800
