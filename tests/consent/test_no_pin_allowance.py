"""The daily no-PIN allowance is one counter on the wallet, taken inside the debit's own
transaction: racing debits never take more than it allows, and money to people always needs the
PIN, so nothing else can spend it."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from consent.conftest import PIN, shop, wallet
from saoma.api.problems import status_of
from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.paycode import codes
from saoma.wallets.service import Consumer

RACERS = 50


def _codes(p: Platform, payer: Consumer, n: int) -> list[str]:
    device = p.paycodes.enrol(payer.id, "phone")
    secret = base64.b64decode(device["secret"])
    handles = list(device["handles"])
    while len(handles) < n:
        handles += p.paycodes.replenish(payer.id, device["device_id"])
    return [codes.generate(secret, h, time.time()) for h in handles[:n]]


def _limit(p: Platform, payer: Consumer, per_payment: int, per_day: int) -> Consumer:
    return p.wallets.set_no_pin_limit(payer.id, per_payment, per_day, PIN)


def test_fifty_racing_debits_without_the_pin_take_exactly_the_allowance(
    platform: Platform,
) -> None:
    p = platform
    payer = _limit(p, wallet(p, 100_000), 1_000, 7_000)  # seven payments of 1,000 a day
    friend = wallet(p, 0)
    till = shop(p)
    charges = _codes(p, payer, 40)
    start = threading.Barrier(RACERS)

    def charge(i: int) -> str:
        start.wait()
        made = p.payments.create_charge(
            till,
            code=charges[i],
            amount=1_000,
            currency="CNY",
            merchant_order_no=f"T-{i}",
            terminal_id="till-1",
        )
        return str(made["state"])

    def without_pin(i: int) -> str:
        start.wait()
        try:
            if i % 2:
                p.people.send(payer, to=friend.id, amount=1_000, pin=None)
            else:
                p.people.create_packet(payer, amount=1_000, shares=2, pin=None)
        except SaomaError as refused:
            return refused.slug
        return "sent"

    def race(i: int) -> str:
        return charge(i) if i < 40 else without_pin(i)

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(race, range(RACERS)))
    charged, sent = outcomes[:40], outcomes[40:]
    assert charged.count("succeeded") == 7, charged
    assert charged.count("waiting_for_payer") == 33
    assert sent == ["pin-required"] * 10
    assert p.wallets.balance(payer)["balance"] == 100_000 - 7_000
    assert check_authorisations(p.engine) == []


def test_money_to_people_never_spends_the_allowance_nor_goes_without_the_pin(
    platform: Platform,
) -> None:
    """The issue's case: 1,000 a payment and 1,500 a day let 5,000 leave in transfers, a red
    packet and a charge. Now only the charge goes without the PIN; the next one waits for it."""
    p = platform
    payer = _limit(p, wallet(p, 10_000), 1_000, 1_500)
    friend = wallet(p, 0)
    till = shop(p)
    for _ in range(3):
        try:
            p.people.send(payer, to=friend.id, amount=1_000, pin=None)
        except SaomaError as refused:
            assert refused.slug == "pin-required" and status_of(refused) == 401
    try:
        p.people.create_packet(payer, amount=1_000, shares=1, pin=None)
    except SaomaError as refused:
        assert refused.slug == "pin-required"
    first, second = _codes(p, payer, 2)
    paid = p.payments.create_charge(
        till, code=first, amount=1_000, currency="CNY", merchant_order_no="A", terminal_id="t"
    )
    waiting = p.payments.create_charge(
        till, code=second, amount=1_000, currency="CNY", merchant_order_no="B", terminal_id="t"
    )
    assert (paid["state"], waiting["state"]) == ("succeeded", "waiting_for_payer")
    assert p.wallets.balance(payer)["balance"] == 9_000
    sent = p.people.send(payer, to=friend.id, amount=1_000, pin=PIN)  # with the PIN it goes
    confirmed = p.payments.answer_charge(payer, waiting["id"], accept=True, pin=PIN)
    assert (sent["state"], confirmed["state"]) == ("done", "succeeded")
    assert p.wallets.balance(payer)["balance"] == 7_000
    assert check_authorisations(p.engine) == []
