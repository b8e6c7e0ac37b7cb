"""The bank answers after Saoma gave up (10 minutes without a word): the wallet is put right.

A top-up the bank collected late is credited; a withdrawal it paid late, whose hold was released
at the give-up, is debited; if the wallet can no longer cover it, nothing goes negative and the
instruction says so for an operator. The same late answer twice moves money once.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from typer.testing import CliRunner

from saoma.bootstrap import Platform
from saoma.cli import app
from saoma.funding import service as funding
from saoma.funding.bank import TIMEOUT_SUFFIX, BankOutcome
from saoma.wallets.service import Consumer
from support import PASSWORD, PIN, Wiring

runner = CliRunner()


@pytest.fixture
def wiring(monkeypatch: pytest.MonkeyPatch) -> Wiring:
    # Funding reads its give-up time from a module constant (no constructor parameter yet).
    monkeypatch.setattr(funding, "BANK_TIMEOUT_US", 0)  # "10 minutes" pass at once
    # A withdrawal paid after the give-up is debited by a plain transfer resting on the
    # withdrawal's own request: the check of every debit's authorisation accepts it.
    return Wiring()


def wallet(platform: Platform, balance: int) -> Consumer:
    consumer = platform.wallets.sign_up(f"+86139{secrets.randbelow(10**8):08d}", PASSWORD)
    platform.wallets.set_pin(consumer.id, PIN, password=PASSWORD, old_pin=None)
    if balance:
        top = platform.funding.top_up(consumer, balance)
        platform.funding.settled(BankOutcome(top["id"], True, "SBXFUND"))
    return consumer


def money(platform: Platform, consumer: Consumer) -> tuple[int, int]:
    b = platform.wallets.balance(consumer)
    return b["balance"], b["held"]


def attention(db_url: str) -> tuple[int, list[dict[str, Any]]]:
    """``saoma bank attention --json``: its exit status and the instructions it lists."""
    result = runner.invoke(app, ["bank", "attention", "--json", "--database-url", db_url])
    return result.exit_code, json.loads(result.stdout)


def silent(amount: int) -> int:
    """An amount the sandbox bank never answers."""
    return amount - amount % 100 + TIMEOUT_SUFFIX


def test_a_top_up_collected_after_the_give_up_is_credited_once(platform: Platform) -> None:
    consumer = wallet(platform, 0)
    top = platform.funding.top_up(consumer, silent(5_000))
    assert platform.funding.time_out_stale() == 1
    assert platform.funding.get(consumer, top["id"])["state"] == "failed"
    assert money(platform, consumer) == (0, 0)
    late = BankOutcome(top["id"], True, "SBXLATE")
    platform.funding.settled(late)
    platform.funding.settled(late)  # the bank says it again
    assert platform.funding.get(consumer, top["id"])["state"] == "succeeded"
    assert money(platform, consumer) == (silent(5_000), 0)


def test_a_withdrawal_paid_after_the_give_up_is_debited_once(platform: Platform) -> None:
    consumer = wallet(platform, 10_000)
    out = platform.funding.withdraw(consumer, silent(3_000), pin=PIN)
    assert money(platform, consumer) == (10_000, silent(3_000))
    platform.funding.time_out_stale()
    assert money(platform, consumer) == (10_000, 0)  # the hold released at the give-up
    late = BankOutcome(out["id"], True, "SBXLATE")
    platform.funding.settled(late)
    platform.funding.settled(late)
    assert platform.funding.get(consumer, out["id"])["state"] == "succeeded"
    assert money(platform, consumer) == (10_000 - silent(3_000), 0)


def test_a_late_payout_the_wallet_cannot_cover_is_left_for_an_operator(
    platform: Platform, db_url: str
) -> None:
    consumer = wallet(platform, 10_000)
    out = platform.funding.withdraw(consumer, silent(6_000), pin=PIN)
    platform.funding.time_out_stale()
    spent = platform.funding.withdraw(consumer, 9_000, pin=PIN)  # spent meanwhile
    platform.funding.settled(BankOutcome(spent["id"], True, "SBXSPENT"))
    platform.funding.settled(BankOutcome(out["id"], True, "SBXLATE"))
    view = platform.funding.get(consumer, out["id"])
    assert view["state"] == "failed" and view["failure"] == funding.PAID_LATE_SHORT
    assert money(platform, consumer) == (1_000, 0)  # nothing negative, nothing invented
    # The operator's list shows it, with whom to settle, and says so in the exit status.
    code, rows = attention(db_url)
    assert code == 1
    assert [(r["id"], r["login"], r["direction"], r["amount"], r["why"]) for r in rows] == [
        (out["id"], consumer.login, "withdraw", silent(6_000), funding.PAID_LATE_SHORT)
    ]
    assert rows[0]["bank_reference"] == "SBXLATE"


def test_the_operator_list_shows_what_the_give_up_has_not_reached(
    platform: Platform, db_url: str
) -> None:
    assert attention(db_url) == (0, [])
    result = runner.invoke(app, ["bank", "attention", "--database-url", db_url])
    assert result.exit_code == 0 and "no bank instruction needs a person" in result.stdout
    consumer = wallet(platform, 10_000)
    out = platform.funding.withdraw(consumer, silent(2_000), pin=PIN)
    code, rows = attention(db_url)  # past the give-up, and nothing gave up: maintenance is off
    assert code == 1 and [(r["id"], r["state"], r["why"]) for r in rows] == [
        (out["id"], "pending", funding.STUCK)
    ]
    result = runner.invoke(app, ["bank", "attention", "--database-url", db_url])
    assert result.exit_code == 1 and out["id"] in result.stdout
    platform.funding.time_out_stale()  # a give-up settles itself: the hold is released
    assert attention(db_url) == (0, [])
    assert money(platform, consumer) == (10_000, 0)


def test_a_late_decline_changes_nothing(platform: Platform) -> None:
    consumer = wallet(platform, 0)
    top = platform.funding.top_up(consumer, silent(2_000))
    platform.funding.time_out_stale()
    platform.funding.settled(BankOutcome(top["id"], False, "SBXNO", "card declined"))
    view = platform.funding.get(consumer, top["id"])
    assert view["state"] == "failed" and view["failure"] == funding.GAVE_UP
    assert money(platform, consumer) == (0, 0)
