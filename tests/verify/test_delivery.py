"""Money waiting for a phone reaches its verified owner once, on both databases."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from saoma.core.ids import now_us
from saoma.funding.bank import BankOutcome
from saoma.wallets.service import Consumer

PASSWORD = "correct horse battery"
PIN = "246810"
PHONE = "+8613911112222"


def sender(platform: Platform, balance: int) -> Consumer:
    alice = platform.wallets.sign_up("alice@example.cn", PASSWORD)
    platform.wallets.set_pin(alice.id, PIN, password=PASSWORD, old_pin=None)
    top_up = platform.funding.top_up(alice, balance)
    platform.funding.settled(BankOutcome(top_up["id"], True, "SBXTEST"))
    return alice


def code(platform: Platform, to: str) -> str:
    (message,) = platform.messenger.recent(to=to, limit=1)
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found
    return found.group(1)


def balance(platform: Platform, consumer: Consumer) -> int:
    return platform.wallets.balance(consumer)["balance"]


def test_waiting_money_is_delivered_once_however_often_delivery_runs(platform: Platform) -> None:
    alice = sender(platform, 5_000)
    owner = platform.wallets.sign_up(PHONE, PASSWORD)
    sent = [platform.people.send(alice, to=PHONE, amount=a, pin=PIN) for a in (1_000, 234)]
    assert [s["state"] for s in sent] == ["waiting", "waiting"]
    platform.identifiers.on_verified = None  # the process dies right after the verification
    platform.identifiers.send_code(owner.id, PHONE)
    platform.identifiers.verify(owner.id, PHONE, code(platform, PHONE))
    assert balance(platform, owner) == 0

    with ThreadPoolExecutor(8) as pool:  # maintenance and retries, all at once
        runs = [pool.submit(platform.people.deliver_verified) for _ in range(4)] + [
            pool.submit(platform.people.claim_waiting, owner, PHONE) for _ in range(4)
        ]
        for run in runs:
            run.result()
    platform.people.return_unclaimed()
    assert (balance(platform, owner), balance(platform, alice)) == (1_234, 5_000 - 1_234)
    states = [t["state"] for t in platform.people.transfers_of(alice)["data"]]
    assert states == ["claimed", "claimed"]
    assert check_authorisations(platform.engine) == []


def test_a_phone_verified_after_the_day_is_up_gets_nothing_back(platform: Platform) -> None:
    alice = sender(platform, 2_000)
    owner = platform.wallets.sign_up(PHONE, PASSWORD)
    waiting = platform.people.send(alice, to=PHONE, amount=600, pin=PIN)
    with platform.engine.begin() as conn:
        conn.execute(
            text("UPDATE p2p_transfers SET expires_at_us = :past WHERE id = :id"),
            {"past": now_us() - 1, "id": waiting["id"]},
        )
    platform.identifiers.send_code(owner.id, PHONE)
    platform.identifiers.verify(owner.id, PHONE, code(platform, PHONE))
    platform.people.deliver_verified()
    platform.people.return_unclaimed()
    assert (balance(platform, owner), balance(platform, alice)) == (0, 2_000)


def test_a_wallet_that_never_verified_claims_nothing(platform: Platform) -> None:
    alice = sender(platform, 2_000)
    squatter = platform.wallets.sign_up(PHONE, PASSWORD)
    platform.people.send(alice, to=PHONE, amount=500, pin=PIN)
    assert platform.people.claim_waiting(squatter, PHONE) == 0
    assert platform.people.claim_waiting(squatter) == 0
    platform.people.deliver_verified()
    assert balance(platform, squatter) == 0
