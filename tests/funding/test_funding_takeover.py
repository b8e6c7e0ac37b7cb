"""A top-up or withdrawal run twice for one Idempotency-Key is one bank instruction.

That happens when a first attempt is slow for over a minute and a retry takes its key over: both
reach the bank. The instruction's id comes from the key, so the second is the same instruction.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from saoma.payments import idempotency
from saoma.platform import Platform
from support import PASSWORD, PIN


@pytest.fixture
def platform(db_url: str) -> Iterator[Platform]:
    opened = Platform.open(db_url, migrate_first=False)
    opened.bank.delay_s = 0.01
    try:
        yield opened
    finally:
        opened.close()


def settled(platform: Platform, consumer_id: str, balance: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if platform.wallets.balance(platform.wallets.get(consumer_id))["balance"] == balance:
            time.sleep(0.1)  # and nothing more arrives
            assert platform.wallets.balance(platform.wallets.get(consumer_id))["balance"] == balance
            return
        time.sleep(0.02)
    raise AssertionError("the bank's outcome did not arrive")


def test_a_top_up_and_a_withdrawal_run_twice_move_money_once(platform: Platform) -> None:
    consumer = platform.wallets.sign_up(f"+86139{secrets.randbelow(10**8):08d}", PASSWORD)
    platform.wallets.set_pin(consumer.id, PIN, password=PASSWORD, old_pin=None)
    claim = idempotency.Claim(consumer.id, "top-up-key")
    first = platform.funding.top_up(consumer, 10_000, claim=claim)
    again = platform.funding.top_up(consumer, 10_000, claim=claim)
    assert again["id"] == first["id"]
    settled(platform, consumer.id, 10_000)

    claim = idempotency.Claim(consumer.id, "withdraw-key")
    out = platform.funding.withdraw(consumer, 2_500, pin=PIN, claim=claim)
    out_again = platform.funding.withdraw(consumer, 2_500, pin=PIN, claim=claim)
    assert out_again["id"] == out["id"]
    settled(platform, consumer.id, 7_500)
