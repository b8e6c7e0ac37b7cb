"""A payout the bank never answers: sent again by the same id, given up on (the money back with
the merchant, a person told), and booked once when the bank pays it after all."""

from __future__ import annotations

import pytest

from saoma.funding.bank import BankOutcome
from saoma.ledger.check import check_ledger
from saoma.settlement import payouts
from settlement.conftest import Town
from support import wait_until

SILENT_ACCOUNT = "6222021001118844"  # verified; the bank never answers a payout to it


def test_an_unanswered_payout_is_given_up_then_booked_once_when_paid_late(
    town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = town.shop(account=SILENT_ACCOUNT)
    town.pay(shop, town.payer(), 6_000)
    town.run()
    (settlement,) = town.settlements(shop)
    assert settlement["state"] == "paying" and town.own(shop) == 0
    desk = town.platform.settlement
    assert desk.payouts.resend_pending(older_than_us=0) == 1  # the same instruction again
    monkeypatch.setattr(payouts, "BANK_TIMEOUT_US", 0)
    assert desk.payouts.time_out_stale() == 1
    (given_up,) = town.settlements(shop)
    assert (given_up["state"], given_up["failure"]) == ("failed", payouts.GAVE_UP)
    assert town.own(shop) == 6_000 - 36  # the money is back with the merchant
    waiting = payouts.needing_attention(town.platform.engine)
    assert [(w["login"], w["amount"]) for w in waiting] == [(shop.login, 6_000 - 36)]
    assert desk.payouts.retry_failed(shop.id) == 0  # the bank may still pay it: not again
    late = BankOutcome(settlement_instruction(town, settlement["id"]), True, "SBXLATE01")
    desk.answered(late)
    desk.answered(late)  # a bank says it again: booked once
    (paid,) = town.settlements(shop)
    assert (paid["state"], paid["bank_reference"]) == ("paid", "SBXLATE01")
    assert town.own(shop) == 0
    assert payouts.needing_attention(town.platform.engine) == []
    assert check_ledger(town.platform.engine).ok


def test_a_payout_answered_twice_moves_the_money_once(town: Town) -> None:
    shop = town.shop()
    town.pay(shop, town.payer(), 3_000)
    town.run()
    (settlement,) = town.settled(shop)
    desk = town.platform.settlement
    again = BankOutcome(settlement_instruction(town, settlement["id"]), False, "", "late no")
    desk.answered(again)  # a stale rejection after the payment: nothing changes
    (still,) = town.settlements(shop)
    assert still["state"] == "paid" and town.own(shop) == 0
    wait_until(lambda: check_ledger(town.platform.engine).ok, what="the books")


def settlement_instruction(town: Town, settlement_id: str) -> str:
    with town.platform.engine.connect() as conn:
        return str(
            conn.execute(
                payouts.t.payouts.select().where(payouts.t.payouts.c.settlement_id == settlement_id)
            )
            .first()
            .id  # type: ignore[union-attr]
        )
