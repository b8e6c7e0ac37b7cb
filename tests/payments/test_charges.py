"""Payment-code charges in process: the till scans the payer's one-time code."""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from saoma.api.problems import status_of
from saoma.bootstrap import Platform
from saoma.core.errors import DatabaseUnavailable, SaomaError
from saoma.core.ids import now_us
from saoma.core.money import rate_of
from saoma.freezes.service import Doer
from saoma.merchants.service import Merchant
from saoma.paycode import codes
from saoma.payments.charges import Charges
from saoma.wallets.service import Consumer
from support import PIN

SUPPORT = Doer("op_support", "support", "ticket T-1")
Payer = Callable[[int], Consumer]
Shop = Callable[..., Merchant]


def phone(platform: Platform, consumer: Consumer, *, no_pin: int = 0) -> Iterator[str]:
    """The payer's phone: one fresh code after another, under a no-PIN limit of ``no_pin``."""
    if no_pin:
        platform.wallets.set_no_pin_limit(consumer.id, no_pin, no_pin * 2, PIN)
    device = platform.paycodes.enrol(consumer.id)
    secret = base64.b64decode(device["secret"])
    for handle in device["handles"]:
        yield codes.generate(secret, handle, time.time())


def till_charge(
    platform: Platform, market: Merchant, code: str, amount: int, number: str, till: str = "t1"
) -> dict[str, Any]:
    """The till's charge of ``code`` under order number ``number``."""
    return platform.payments.create_charge(
        market, code=code, amount=amount, currency="CNY", merchant_order_no=number, terminal_id=till
    )


def unheard(
    platform: Platform, market: Merchant, code: str, amount: int, number: str, monkeypatch: Any
) -> None:
    """The till's charge, lost with the database mid-batch: 503, nothing written, code used."""
    movements = platform.payments.ctx.movements
    with monkeypatch.context() as lost:
        lost.setattr(movements, "move", _database_lost)
        with pytest.raises(DatabaseUnavailable):
            till_charge(platform, market, code, amount, number)


def _database_lost(*args: Any, **kwargs: Any) -> Any:
    raise DatabaseUnavailable("the database went away mid-batch")


def test_under_the_no_pin_limit_a_charge_settles_at_once(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    market, alice = shop("Wet Market"), payer(10_000)
    code = next(phone(platform, alice, no_pin=5_000))
    charge = platform.payments.create_charge(
        market, code=code, amount=1_800, currency="CNY", merchant_order_no="T-1", terminal_id="t1"
    )
    assert charge["state"] == "succeeded"
    assert balances.wallet(alice) == 8_200
    assert balances.merchant(market) == 1_800 - 11
    payment = platform.payments.payment_for_consumer(alice, charge["payment_id"])
    assert (payment["kind"], payment["authorisation"]) == ("paycode", "no_pin_limit")
    again = platform.payments.create_charge(  # the till sends it again: the same charge
        market, code=code, amount=1_800, currency="CNY", merchant_order_no="T-1", terminal_id="t1"
    )
    assert again == charge
    assert balances.wallet(alice) == 8_200


def test_above_the_limit_the_payer_confirms_with_the_pin(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    market, alice = shop("Wet Market"), payer(10_000)
    codes_ = phone(platform, alice, no_pin=1_000)
    charge = platform.payments.create_charge(
        market,
        code=next(codes_),
        amount=3_000,
        currency="CNY",
        merchant_order_no="T-2",
        terminal_id="t1",
    )
    assert charge["state"] == "waiting_for_payer"
    assert [c["id"] for c in platform.payments.waiting_charges(alice)] == [charge["id"]]
    assert balances.wallet(alice) == 10_000
    paid = platform.payments.answer_charge(alice, charge["id"], accept=True, pin=PIN)
    assert paid["state"] == "succeeded"
    assert platform.payments.get_charge(market, charge["id"])["payment_id"] == paid["payment_id"]
    assert balances.wallet(alice) == 7_000
    assert platform.payments.waiting_charges(alice) == []


def test_a_charge_refused_by_the_payer_or_the_wallet_moves_nothing(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    market, alice = shop("Wet Market"), payer(2_000)
    codes_ = phone(platform, alice)

    def charge(amount: int, number: str) -> dict[str, Any]:
        return platform.payments.create_charge(
            market,
            code=next(codes_),
            amount=amount,
            currency="CNY",
            merchant_order_no=number,
            terminal_id="t1",
        )

    declined = charge(500, "T-3")
    answer = platform.payments.answer_charge(alice, declined["id"], accept=False, pin=None)
    assert answer["state"] == "refused"
    too_much = charge(2_500, "T-4")
    with pytest.raises(SaomaError) as short:
        platform.payments.answer_charge(alice, too_much["id"], accept=True, pin=PIN)
    assert (short.value.slug, status_of(short.value)) == ("insufficient-funds", 402)
    assert platform.payments.get_charge(market, too_much["id"])["state"] == "refused"
    with pytest.raises(SaomaError) as reused:  # the same till number for another amount
        charge(900, "T-3")
    assert reused.value.slug == "order-number-reused"
    assert (balances.wallet(alice), balances.merchant(market)) == (2_000, 0)
    assert platform.payments.list_payments(consumer=alice)["data"] == []


def test_a_no_pin_charge_the_wallet_cannot_pay_is_kept_as_refused(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    """A charge under the no-PIN limit is written with its payment; one the wallet cannot pay
    is written refused, so the till's retry of that number hears the same refusal."""
    market, alice = shop("Wet Market"), payer(2_000)
    code = next(phone(platform, alice, no_pin=5_000))

    with pytest.raises(SaomaError) as short:
        till_charge(platform, market, code, 2_500, "T-9")
    assert (short.value.slug, status_of(short.value)) == ("insufficient-funds", 402)
    again = till_charge(platform, market, code, 2_500, "T-9")  # the till sends it again
    assert (again["state"], again["payment_id"]) == ("refused", None)
    assert platform.payments.get_charge(market, again["id"])["state"] == "refused"
    assert (balances.wallet(alice), balances.merchant(market)) == (2_000, 0)
    assert platform.payments.list_payments(consumer=alice)["data"] == []


def test_a_no_pin_charge_refused_in_its_batch_is_kept_as_refused(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    """A freeze refuses the charge inside the ledger's batch: the charge is written refused, so
    the till's retry of the number hears that, and no money moves."""
    market, alice = shop("Wet Market"), payer(5_000)
    code = next(phone(platform, alice, no_pin=5_000))
    platform.freezes.freeze(SUPPORT, "consumer", alice.id, "Stolen phone")
    with pytest.raises(SaomaError) as frozen:
        till_charge(platform, market, code, 1_000, "T-10")
    assert "frozen" in frozen.value.slug
    again = till_charge(platform, market, code, 1_000, "T-10")
    assert (again["state"], again["payment_id"]) == ("refused", None)
    assert (balances.wallet(alice), balances.merchant(market)) == (5_000, 0)


def test_a_number_taken_while_the_wallet_refused_the_charge_is_answered_as_reused(
    platform: Platform, payer: Payer, shop: Shop, balances: Any, monkeypatch: Any
) -> None:
    """The till's order number went to another charge after this one looked for it, and the
    ledger refused this one (the wallet is short): the till hears that the number was used, not
    that the wallet is short."""
    market, rich, poor = shop("Wet Market"), payer(10_000), payer(100)
    first = till_charge(platform, market, next(phone(platform, rich, no_pin=5_000)), 900, "T-11")
    assert first["state"] == "succeeded"
    looked = Charges._by_no
    missed = [True]  # the look made before the first charge committed: it found nothing

    def by_no(self: Charges, merchant_id: str, number: str) -> Any:
        if missed[0]:
            missed[0] = False
            return None
        return looked(self, merchant_id, number)

    monkeypatch.setattr(Charges, "_by_no", by_no)
    with pytest.raises(SaomaError) as reused:
        till_charge(platform, market, next(phone(platform, poor, no_pin=5_000)), 900, "T-11")
    assert (reused.value.slug, status_of(reused.value)) == ("order-number-reused", 409)
    assert balances.wallet(poor) == 100
    assert balances.merchant(market) == 900 - rate_of(900, market.fee_ppm)


def test_a_charge_whose_outcome_went_unheard_is_made_by_the_tills_retry(
    platform: Platform, payer: Payer, shop: Shop, balances: Any, monkeypatch: Any
) -> None:
    """The database went away while a no-PIN charge was in the ledger's batch: the till heard
    503 and nothing was written, but the code was used. The till's retry of the same order
    number with the same code makes the charge, once; the code used for another order number,
    or by another merchant, is still refused as used."""
    market, bakery, alice = shop("Wet Market"), shop("Bakery"), payer(10_000)
    code = next(phone(platform, alice, no_pin=5_000))
    unheard(platform, market, code, 1_000, "T-20", monkeypatch)
    assert platform.payments.list_payments(consumer=alice)["data"] == []
    for merchant, number in ((market, "T-21"), (bakery, "T-20")):
        with pytest.raises(SaomaError) as used:
            till_charge(platform, merchant, code, 1_000, number)
        assert (used.value.slug, status_of(used.value)) == ("code-used", 409)

    charge = till_charge(platform, market, code, 1_000, "T-20")
    assert charge["state"] == "succeeded"
    assert till_charge(platform, market, code, 1_000, "T-20") == charge
    assert balances.wallet(alice) == 9_000
    assert balances.merchant(market) == 1_000 - rate_of(1_000, market.fee_ppm)
    assert len(platform.payments.list_payments(consumer=alice)["data"]) == 1


def test_fifty_retries_at_once_of_a_charge_whose_outcome_went_unheard_charge_once(
    platform: Platform, payer: Payer, shop: Shop, balances: Any, monkeypatch: Any
) -> None:
    """After a charge's unheard outcome, ten tills send it again fifty times at once (the same
    order number and code): one charge, one payment, and every till hears that charge."""
    market, alice = shop("Wet Market"), payer(10_000)
    code = next(phone(platform, alice, no_pin=5_000))
    unheard(platform, market, code, 1_800, "T-AGAIN", monkeypatch)

    def again(n: int) -> Any:
        try:
            return till_charge(platform, market, code, 1_800, "T-AGAIN", till=f"t{n % 10}")
        except SaomaError as exc:
            return status_of(exc), exc.slug

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(again, range(50)))
    assert all(isinstance(a, dict) for a in answers), Counter(map(str, answers))
    assert {(a["id"], a["state"]) for a in answers} == {(answers[0]["id"], "succeeded")}
    assert balances.wallet(alice) == 10_000 - 1_800
    assert balances.merchant(market) == 1_800 - rate_of(1_800, market.fee_ppm)
    assert len(platform.payments.list_payments(consumer=alice)["data"]) == 1
    with platform.engine.connect() as conn:
        spent = conn.execute(
            text("SELECT no_pin_spent FROM consumers WHERE id = :i"), {"i": alice.id}
        ).scalar_one()
    assert spent == 1_800  # today's no-PIN allowance taken once


def test_a_no_pin_debit_is_timed_once_it_holds_the_wallets_row(
    platform: Platform, payer: Payer, shop: Shop
) -> None:
    """A change of the no-PIN limits and a debit under them take turns on the wallet's row. The
    debit is timed once it holds the row, so ``saoma check-authorisations`` judges it by the
    limits it was made under, not by those it waited behind."""
    market, alice = shop("Wet Market"), payer(10_000)
    code = next(phone(platform, alice, no_pin=5_000))
    touch = text("UPDATE consumers SET no_pin_limit = no_pin_limit WHERE id = :id")
    with platform.engine.connect() as other, ThreadPoolExecutor(1) as till:
        holding = other.begin()  # another change to the wallet's row, not yet committed
        other.execute(touch, {"id": alice.id})
        charging = till.submit(
            platform.payments.create_charge,
            market,
            code=code,
            amount=1_800,
            currency="CNY",
            merchant_order_no="T-9",
            terminal_id="t1",
        )
        time.sleep(0.5)  # the charge comes to the wallet's row, and waits for it
        assert not charging.done()
        released_at = now_us()
        holding.commit()
        charge = charging.result(timeout=30)
    assert charge["state"] == "succeeded"
    with platform.engine.connect() as conn:
        made_at = conn.execute(
            text("SELECT created_at_us FROM payments WHERE id = :id"), {"id": charge["payment_id"]}
        ).scalar_one()
    assert made_at >= released_at


def test_one_till_order_number_sent_with_many_codes_at_once_charges_once(
    platform: Platform, payer: Payer, shop: Shop, balances: Any
) -> None:
    """A till's order number is the charge's key: fifty payers' codes sent under one number at
    once, from ten tills, make one charge. Every other till hears that the number was used (a
    code waits for a try while the merchant's are all being checked), and its payer keeps the
    money."""
    market = shop("Wet Market")
    payers = [payer(10_000) for _ in range(50)]
    scanned = [next(phone(platform, p, no_pin=5_000)) for p in payers]

    def charge(numbered: tuple[int, str]) -> Any:
        n, code = numbered
        try:
            return till_charge(platform, market, code, 1_800, "T-RACE", till=f"t{n % 10}")
        except SaomaError as exc:
            return status_of(exc), exc.slug

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(charge, enumerate(scanned)))
    charged = [a for a in answers if isinstance(a, dict)]
    assert len(charged) == 1 and charged[0]["state"] == "succeeded"
    refused = Counter(a for a in answers if not isinstance(a, dict))
    assert refused == {(409, "order-number-reused"): 49}
    assert sorted(balances.wallet(p) for p in payers) == [8_200] + [10_000] * 49
    assert balances.merchant(market) == 1_800 - 11
