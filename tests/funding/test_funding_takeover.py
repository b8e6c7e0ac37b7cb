"""A top-up or withdrawal run twice for one Idempotency-Key is one bank instruction.

That happens when a first attempt is slow for over a minute and a retry takes its key over: both
reach the bank. The instruction's id comes from the key, so the second is the same instruction.
"""

from __future__ import annotations

import secrets

import pytest

from saoma.bootstrap import Platform
from saoma.funding.bank import SandboxBank
from saoma.payments import idempotency
from support import PASSWORD, PIN, Wiring, wait_until


@pytest.fixture
def wiring() -> Wiring:
    return Wiring(settings={"sandbox_bank_delay_s": 0.01})


def settled(platform: Platform, consumer_id: str, balance: int) -> None:
    """Once the bank has sent every answer it will send (the same one twice, for an instruction
    sent twice), the wallet holds ``balance``."""
    bank = platform.bank
    assert isinstance(bank, SandboxBank)
    wait_until(bank.quiet, timeout_s=5, what="the bank's answers")
    assert platform.wallets.balance(platform.wallets.get(consumer_id))["balance"] == balance


def _claimed(platform: Platform, scope: str, key: str) -> idempotency.Claim:
    """The key as both runs hold it: claimed by the first, taken over by the second."""
    claim = idempotency.begin(platform.engine, scope, key, "fingerprint")
    assert isinstance(claim, idempotency.Claim)
    return claim


def test_a_top_up_and_a_withdrawal_run_twice_move_money_once(platform: Platform) -> None:
    consumer = platform.wallets.sign_up(f"+86139{secrets.randbelow(10**8):08d}", PASSWORD)
    platform.wallets.set_pin(consumer.id, PIN, password=PASSWORD, old_pin=None)
    claim = _claimed(platform, consumer.id, "top-up-key")
    first = platform.funding.top_up(consumer, 10_000, claim=claim)
    again = platform.funding.top_up(consumer, 10_000, claim=claim)
    assert again["id"] == first["id"]
    settled(platform, consumer.id, 10_000)

    claim = _claimed(platform, consumer.id, "withdraw-key")
    out = platform.funding.withdraw(consumer, 2_500, pin=PIN, claim=claim)
    out_again = platform.funding.withdraw(consumer, 2_500, pin=PIN, claim=claim)
    assert out_again["id"] == out["id"]
    settled(platform, consumer.id, 7_500)
