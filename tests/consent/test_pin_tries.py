"""The PIN's five tries hold under a burst of guesses: each try is claimed in the database before
the PIN is checked, so 50 guesses at once check at most five, and then the wallet is locked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text, update

from consent.conftest import PIN, shop, wallet
from saoma.api.problems import status_of
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.wallets import tables as m
from saoma.wallets.pinkeys import PinKeys, Verdict
from saoma.wallets.pins import (
    PIN_PENDING_STALE_US,
    PIN_TRIES_MAX,
    claim_pin_try,
    pin_try_passed,
)
from saoma.wallets.service import Consumer, Wallets

GUESSES = 50


@pytest.fixture
def pin_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Each PIN comparison's outcome, in the order they ended."""
    outcomes: list[bool] = []
    lock = threading.Lock()
    check = PinKeys.check

    def counting(self: PinKeys, stored: str | None, owner: str, pin: str) -> Verdict:
        verdict = check(self, stored, owner, pin)
        with lock:
            outcomes.append(verdict.matches)
        return verdict

    monkeypatch.setattr(PinKeys, "check", counting)
    yield outcomes


PAID = ["code", "order"]  # a stall's static code, or an order of its own for each payment


def _race(
    p: Platform, pins: list[str], checks: list[bool], paid: str = "code"
) -> tuple[Consumer, list[str]]:
    """Pay a stall once per PIN, all at once (``paid``: by its static code, or each an order
    of its own, whose read claims the PIN's try on PostgreSQL): the payer, and each outcome's
    slug ("paid" when it went through)."""
    payer = wallet(p, 10_000)
    stall = shop(p)
    orders = [
        p.payments.create_order(stall, merchant_order_no=f"T-{i}", amount=100, currency="CNY")[0]
        for i in range(len(pins) if paid == "order" else 0)
    ]
    checks.clear()  # count from the race on
    start = threading.Barrier(len(pins))

    def pay(i: int) -> str:
        start.wait()
        try:
            if paid == "order":
                p.payments.pay_order(payer, orders[i]["id"], pin=pins[i])
            else:
                p.payments.pay_static(payer, stall.id, amount=100, pin=pins[i])
        except SaomaError as refused:
            return refused.slug
        return "paid"

    with ThreadPoolExecutor(len(pins)) as pool:
        return payer, list(pool.map(pay, range(len(pins))))


def _wrong(n: int) -> list[str]:
    return [f"{i:06d}" for i in range(1, n + 1)]


@pytest.mark.parametrize("paid", PAID)
def test_fifty_wrong_pins_at_once_check_at_most_five(
    platform: Platform, pin_checks: list[bool], paid: str
) -> None:
    payer, outcomes = _race(platform, _wrong(GUESSES), pin_checks, paid)
    assert len(pin_checks) == PIN_TRIES_MAX, pin_checks
    assert outcomes.count("pin-wrong") == PIN_TRIES_MAX - 1
    assert outcomes.count("pin-locked") == GUESSES - (PIN_TRIES_MAX - 1)
    assert platform.payments.list_payments()["data"] == []  # nothing was paid
    with pytest.raises(SaomaError) as still:  # locked: the right PIN is refused too
        platform.wallets.verify_pin(payer.id, PIN)
    assert (still.value.slug, status_of(still.value)) == ("pin-locked", 423)


@pytest.mark.parametrize("paid", PAID)
def test_the_right_pin_among_49_wrong_ones_gets_no_more_tries(
    platform: Platform, pin_checks: list[bool], paid: str
) -> None:
    payer, outcomes = _race(platform, [*_wrong(GUESSES - 1), PIN], pin_checks, paid)
    # The right PIN pays only if it is among the five tries; until it has, at most four wrong
    # ones are checked. Once it has passed, the count starts again as for anyone who types it
    # (then at most five more), so without it, five is all a burst of guesses ever gets.
    if True in pin_checks:
        assert pin_checks.index(True) <= PIN_TRIES_MAX - 1, pin_checks
        assert pin_checks.count(False) <= 2 * PIN_TRIES_MAX - 1
        assert outcomes.count("paid") == 1
    else:
        assert len(pin_checks) == PIN_TRIES_MAX, pin_checks
        assert outcomes.count("paid") == 0
    assert set(outcomes) <= {"paid", "pin-wrong", "pin-locked"}
    paid = platform.payments.list_payments(consumer=payer)["data"]
    assert len(paid) == outcomes.count("paid")
    assert platform.wallets.balance(payer)["balance"] == 10_000 - 100 * len(paid)


@pytest.mark.parametrize("paid", PAID)
def test_twenty_right_pins_at_once_all_pass_and_lock_nothing(
    platform: Platform, pin_checks: list[bool], paid: str
) -> None:
    payer, outcomes = _race(platform, [PIN] * 20, pin_checks, paid)
    assert outcomes == ["paid"] * 20
    assert pin_checks == [True] * 20
    platform.wallets.verify_pin(payer.id, PIN)  # not locked, and nothing left counted
    with pytest.raises(SaomaError) as wrong:
        platform.wallets.verify_pin(payer.id, "000000")
    assert wrong.value.extra["tries_left"] == PIN_TRIES_MAX - 1


def test_an_order_that_cannot_be_paid_spends_no_try(platform: Platform) -> None:
    """The order is judged before the PIN: a wrong PIN sent for an order already paid, closed,
    expired or in another currency is not counted (on PostgreSQL the order's read claims the
    try, only for an order it can pay)."""
    payer, stall = wallet(platform, 10_000), shop(platform)
    made = {
        state: platform.payments.create_order(
            stall, merchant_order_no=f"S-{state}", amount=100, currency="CNY"
        )[0]["id"]
        for state in ("paid", "closed", "expired", "foreign")
    }
    platform.payments.pay_order(payer, made["paid"], pin=PIN)
    with platform.engine.begin() as conn:
        conn.execute(
            text("UPDATE orders SET state = 'closed' WHERE id = :o"), {"o": made["closed"]}
        )
        conn.execute(
            text("UPDATE orders SET expires_at_us = 1 WHERE id = :o"), {"o": made["expired"]}
        )
        conn.execute(
            text("UPDATE orders SET currency = 'HKD' WHERE id = :o"), {"o": made["foreign"]}
        )
    other = wallet(platform, 10_000)
    for state, order_id in made.items():
        for who in (payer, other):
            if who is payer and state == "paid":  # the payer's own payment, shown again
                continue
            with pytest.raises(SaomaError) as refused:
                platform.payments.pay_order(who, order_id, pin="000000")
            assert refused.value.slug == {
                "paid": "order-already-paid",
                "foreign": "currency-mismatch",
            }.get(state, f"order-{state}")
    for who in (payer, other):  # every try is still there, none counted nor held
        for tries_left in range(PIN_TRIES_MAX - 1, 0, -1):
            with pytest.raises(SaomaError) as wrong:
                platform.wallets.verify_pin(who.id, "000000")
            assert wrong.value.extra["tries_left"] == tries_left
        platform.wallets.verify_pin(who.id, PIN)


def test_the_right_pin_starts_the_count_again_and_a_lock_ends(platform: Platform) -> None:
    payer = wallet(platform, 0)
    for tries_left in (4, 3, 2, 1):
        with pytest.raises(SaomaError) as wrong:
            platform.wallets.verify_pin(payer.id, "000000")
        assert wrong.value.slug == "pin-wrong" and wrong.value.extra["tries_left"] == tries_left
    check = platform.wallets.verify_pin(payer.id, PIN)  # the fifth try, and the right one
    assert check.startswith("pc_")
    for _ in range(PIN_TRIES_MAX - 1):  # four more wrong ones: not locked, the count restarted
        with pytest.raises(SaomaError) as wrong:
            platform.wallets.verify_pin(payer.id, "000000")
        assert wrong.value.slug == "pin-wrong"
    with pytest.raises(SaomaError) as locked:
        platform.wallets.verify_pin(payer.id, "000000")
    assert locked.value.slug == "pin-locked"
    with pytest.raises(SaomaError) as right_but_locked:
        platform.wallets.verify_pin(payer.id, PIN)
    assert right_but_locked.value.slug == "pin-locked"
    with platform.engine.begin() as conn:  # fifteen minutes later
        conn.execute(
            update(m.consumers)
            .where(m.consumers.c.id == payer.id)
            .values(pin_locked_until_us=m.consumers.c.pin_locked_until_us - 16 * 60 * 1_000_000)
        )
    with pytest.raises(SaomaError) as again:
        platform.wallets.verify_pin(payer.id, "000000")
    assert again.value.slug == "pin-wrong" and again.value.extra["tries_left"] == 4
    assert platform.wallets.verify_pin(payer.id, PIN)


def _pin_state(p: Platform, payer: Consumer) -> tuple[int, int]:
    """The wallet's wrong PINs counted and tries being checked right now."""
    c = m.consumers.c
    with p.engine.connect() as conn:
        row = conn.execute(select(c.pin_failures, c.pin_pending).where(c.id == payer.id)).one()
    return row.pin_failures, row.pin_pending


def test_a_payment_records_its_pin_check_and_gives_the_try_back(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    payer, stall = wallet(platform, 1_000), shop(platform)

    def apart(*_: object) -> None:  # a give-back on its own would be a failure here
        raise AssertionError("the try was not given back with the payment")

    monkeypatch.setattr(Wallets, "pin_passed", apart)
    with pytest.raises(SaomaError) as wrong:
        platform.wallets.verify_pin(payer.id, "000000")
    assert wrong.value.extra["tries_left"] == PIN_TRIES_MAX - 1
    paid = platform.payments.pay_static(payer, stall.id, amount=100, pin=PIN)
    with platform.engine.connect() as conn:
        rests_on = conn.execute(
            text("SELECT authorisation FROM payments WHERE id = :id"), {"id": paid["id"]}
        ).scalar_one()
        recorded = conn.execute(
            select(m.pin_checks.c.consumer_id).where(
                m.pin_checks.c.id == rests_on.removeprefix("pin:")
            )
        ).scalar()
    assert recorded == payer.id  # the check the payment rests on, kept with it
    assert _pin_state(platform, payer) == (0, 0)  # the right PIN started the count again


@pytest.mark.parametrize("refusal", ["insufficient-funds", "merchant-not-verified"])
def test_a_right_pin_on_a_payment_refused_still_gives_its_try_back(
    platform: Platform, refusal: str
) -> None:
    """Refused by the ledger (the money is not there), or by the payment's own record in the
    ledger's transaction (a merchant not yet approved, past what it may take before)."""
    payer = wallet(platform, 300_000)
    if refusal == "insufficient-funds":
        stall, amount = shop(platform), 900_000
    else:
        stall = platform.merchants.sign_up(
            login="new-stall@example.cn", password="correct horse battery", name="New", city="SZ"
        )
        amount = 250_000  # over the ¥2,000 a merchant takes before its approval
    with pytest.raises(SaomaError) as refused:
        platform.payments.pay_static(payer, stall.id, amount=amount, pin=PIN)
    assert refused.value.slug == refusal
    assert _pin_state(platform, payer) == (0, 0)
    for tries_left in (4, 3, 2, 1):  # all five tries are still there: the fifth wrong one locks
        with pytest.raises(SaomaError) as wrong:
            platform.wallets.verify_pin(payer.id, "000000")
        assert wrong.value.extra["tries_left"] == tries_left
    with pytest.raises(SaomaError) as locked:
        platform.wallets.verify_pin(payer.id, "000000")
    assert locked.value.slug == "pin-locked"
    assert platform.wallets.balance(payer)["balance"] == 300_000


def test_a_give_back_later_than_the_try_was_counted_takes_nothing_back(platform: Platform) -> None:
    """A right PIN whose give-back comes after its try was forgotten (a payment stalled past
    ``PIN_PENDING_STALE_US``) leaves the try a later guess claimed, and its wrong PINs, alone."""
    payer = wallet(platform, 0)
    with pytest.raises(SaomaError):
        platform.wallets.verify_pin(payer.id, "000000")  # one wrong PIN counted
    mine = claim_pin_try(platform.engine, m.consumers, payer.id)
    later = mine.claimed_at_us + PIN_PENDING_STALE_US + 1
    with platform.engine.begin() as conn:  # a guess claimed later: mine was forgotten
        conn.execute(
            update(m.consumers)
            .where(m.consumers.c.id == payer.id)
            .values(pin_pending=1, pin_pending_since_us=later)
        )
    with platform.engine.begin() as conn:
        pin_try_passed(conn, m.consumers, payer.id, mine)
    assert _pin_state(platform, payer) == (1, 1)  # the guess's try and the wrong PIN stand
    fresh = claim_pin_try(platform.engine, m.consumers, payer.id)
    with platform.engine.begin() as conn:  # a give-back in time gives its try back
        pin_try_passed(conn, m.consumers, payer.id, fresh)
    assert _pin_state(platform, payer) == (1, 1)
