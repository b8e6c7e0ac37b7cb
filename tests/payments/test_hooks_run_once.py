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

import pytest
from sqlalchemy import select

from saoma.bootstrap import Platform
from saoma.core.errors import MerchantFrozen, OrderNotPayable, WalletFrozen
from saoma.db import read
from saoma.freezes.service import Doer
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


def test_payments_refused_at_the_end_of_their_batch_leave_the_others_paid(
    platform: Platform, payer: Callable[[int], Consumer], shop: Callable[..., Merchant]
) -> None:
    """Whether an order is still payable and its merchant not frozen is looked at once every
    hook of the batch has run (one wait for all the answers). An order closed and a merchant
    frozen while their payments queued in one batch with a third: the two payers hear their own
    reasons and keep their money, the third pays once."""
    noodles, tea, dumplings = shop(), shop("Tea House"), shop("Dumpling King")
    alice, bob, carol = payer(5_000), payer(5_000), payer(5_000)
    orders = [
        platform.payments.create_order(who, merchant_order_no=no, amount=amount, currency="CNY")[0]
        for who, no, amount in ((noodles, "C-1", 1_200), (tea, "G-1", 800), (dumplings, "F-1", 500))
    ]
    entered, go = hold_the_next_batch(platform)
    first = platform.ledger.submit(
        [
            Transfer(
                "blocker", platform.payments.bank_account, alice.account_id, 1, TransferCode.TOP_UP
            )
        ],
        hook=lambda _tx, _results: None,
    )
    assert entered.wait(WAIT_S)
    with ThreadPoolExecutor(3) as pool:
        paying = [
            pool.submit(platform.payments.pay_order, who, order["id"], pin=PIN)
            for who, order in zip((alice, bob, carol), orders, strict=True)
        ]
        wait_until(lambda: queued(platform) == 3, timeout_s=WAIT_S, what="the payments to queue")
        platform.payments.close_order(noodles, orders[0]["id"])
        platform.freezes.freeze(Doer("op_support", "support", "T-9"), "merchant", dumplings.id, "")
        go.set()
        assert first.result() == [Result.OK]
        with pytest.raises(OrderNotPayable):
            paying[0].result(WAIT_S)
        assert paying[1].result(WAIT_S)["amount"] == 800
        with pytest.raises(MerchantFrozen):
            paying[2].result(WAIT_S)

    succeeded = outbox_ids(platform, "payment.succeeded")
    assert list(succeeded.values()) == [orders[1]["id"]]
    assert platform.wallets.balance(alice)["balance"] == 5_000 + 1
    assert platform.wallets.balance(bob)["balance"] == 5_000 - 800
    assert platform.wallets.balance(carol)["balance"] == 5_000
    states = {
        o["id"]: platform.payments.get_order(m_, o["id"])["state"]
        for m_, o in zip((noodles, tea, dumplings), orders, strict=True)
    }
    assert states == {
        orders[0]["id"]: "closed",
        orders[1]["id"]: "paid",
        orders[2]["id"]: "created",
    }


def test_a_freeze_is_the_refusal_heard_first(
    platform: Platform, payer: Callable[[int], Consumer], shop: Callable[..., Merchant]
) -> None:
    """A movement that a freeze refuses and whose own hook refuses too hears the freeze, on
    both databases (on PostgreSQL the freeze's answer is otherwise looked at after the hooks)."""
    tea, alice = shop("Tea House"), payer(5_000)
    platform.freezes.freeze(Doer("op_support", "support", "T-10"), "consumer", alice.id, "Lost")

    def record(_unit: Any) -> None:
        raise Refused("the hook's own refusal")

    paid = Transfer("frozen-first", alice.account_id, tea.account_id, 100, TransferCode.PAYMENT)
    with pytest.raises(WalletFrozen):
        platform.payments.movements.move([paid], record)
    assert platform.wallets.balance(alice)["balance"] == 5_000
