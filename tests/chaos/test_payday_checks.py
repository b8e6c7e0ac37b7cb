"""The bank workload's settlement checks find what they are for: a movement in no settlement, a
settlement paid twice, money that does not add up (on rows made up here, in a blink)."""

from __future__ import annotations

import copy
from types import SimpleNamespace as Row
from typing import Any

import pytest
from payday import Payday

SHOP = Row(id="m_1", account_id=7)
GRANTED = 50_000


class Recorder:
    def __init__(self) -> None:
        self.violations: list[str] = []

    def violation(self, message: str) -> None:
        self.violations.append(message)


def books() -> dict[str, Any]:
    """A day of one merchant: a payment of 1,000 less its fee of 6, settled and paid."""
    return {
        "moves": [
            Row(id="pay:1", debit_account_id=3, credit_account_id=7, amount=1_000, code=2,
                created_at_us=10, ref="pay_1"),
            Row(id="fee:1", debit_account_id=7, credit_account_id=4, amount=6, code=6,
                created_at_us=10, ref="pay_1"),
            Row(id="odl:1", debit_account_id=5, credit_account_id=7, amount=GRANTED, code=16,
                created_at_us=5, ref="m_1"),
            Row(id="stl:1", debit_account_id=7, credit_account_id=8, amount=994, code=14,
                created_at_us=20, ref="stl_1"),
            Row(id="pop:1", debit_account_id=8, credit_account_id=9, amount=994, code=15,
                created_at_us=21, ref="po_1_1"),
        ],
        "lines": [
            Row(source="pay:1", settlement_id="stl_1", merchant_id="m_1", kind="payment",
                amount=1_000),
            Row(source="fee:1", settlement_id="stl_1", merchant_id="m_1", kind="fee", amount=-6),
        ],
        "settlements": [
            Row(id="stl_1", merchant_id="m_1", kind="scheduled", state="paid", payout=994,
                carried_out=0, consumed_by=None, attempt=1, failure=""),
        ],
        "payouts": [
            Row(id="po_1_1", settlement_id="stl_1", merchant_id="m_1", attempt=1, amount=994,
                state="succeeded", failure=""),
        ],
        "reserves": [],
        "terms": [Row(merchant_id="m_1", overdraft_granted=GRANTED)],
    }  # fmt: skip


def problems(t: dict[str, Any], own: int = 0) -> list[str]:
    history = Recorder()
    bank = Row(settings=Row(seed=1), history=history, cluster=None, shops=[SHOP])
    payday = Payday(bank, lambda _rng: None)
    payday.final_cutoff = 1_000
    payday.own = {SHOP.id: own}
    payday.check_lines(t)
    payday.check_payouts(t)
    payday.check_conserved(t, {SHOP.id: 994}, {SHOP.account_id: GRANTED + own})
    return history.violations


def test_books_that_add_up_pass() -> None:
    assert problems(books()) == []


def mutated(change: str) -> dict[str, Any]:
    t = copy.deepcopy(books())
    if change == "a movement in no settlement":
        t["lines"].pop()
    elif change == "a settlement paid twice":
        t["payouts"].append(Row(**{**vars(t["payouts"][0]), "id": "po_1_2", "attempt": 2}))
        t["moves"].append(Row(**{**vars(t["moves"][-1]), "id": "pop:2", "ref": "po_1_2"}))
    elif change == "a line that is no movement":
        t["lines"].append(Row(**{**vars(t["lines"][0]), "source": "pay:ghost"}))
    elif change == "a settlement left paying":
        t["settlements"][0].state = "paying"
    return t


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ("a movement in no settlement", "movement fee:1 (code 6) is in no settlement"),
        ("a settlement paid twice", "settlement stl_1 paid 2 times"),
        ("a line that is no movement", "line pay:ghost of stl_1 is no movement"),
        ("a settlement left paying", "settlement stl_1 is still paying"),
    ],
)
def test_each_fault_is_found(change: str, found: str) -> None:
    assert any(found in p for p in problems(mutated(change))), problems(mutated(change))


def test_money_that_went_nowhere_is_found() -> None:
    found = problems(books(), own=-5)  # the API and the ledger agree, the money does not
    assert found == [
        "m_1: 994 came in, but paid 994 + balance -5 + reserves 0 + instant fees 0 = 989"
    ]
