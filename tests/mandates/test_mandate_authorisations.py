"""check-authorisations and mandates: a debit that fit its mandate and notice passes; one whose
records say it did not (changed behind the service's back) is reported, naming the rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from support import Wiring

from .conftest import HOUR_US, Payer, Shop, agreed, later

Shops = Callable[..., Shop]
Payers = Callable[[int], Payer]


@pytest.fixture
def wiring() -> Wiring:
    """The books are checked at the end, not the authorisations: these tests break them."""
    return Wiring(check_authorisations=False)


def debited(platform: Platform, shop: Shops, payer: Payers) -> tuple[str, str]:
    """A mandate debited once, lawfully: the mandate's id and the notice's."""
    gym, li = shop(), payer(5_000)
    md = agreed(platform, gym, li, frequency="daily", amount_max=900)["id"]
    notice = gym.client.announce_debit(md, 800)
    later(platform, 25)
    gym.client.debit_mandate(md, notice["id"], 800)
    assert check_authorisations(platform.engine) == []
    return md, notice["id"]


def edit(platform: Platform, sql: str, **params: object) -> None:
    with platform.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        ("UPDATE mandates SET amount_max = 700 WHERE id = :md", "above the 700"),
        (
            "UPDATE mandate_notices SET created_at_us = created_at_us + :day WHERE id = :n",
            "less than 24 hours after notice",
        ),
        ("UPDATE mandate_notices SET amount = 801 WHERE id = :n", "does not match notice"),
        ("UPDATE mandates SET agreement = 'pin:pc_none' WHERE id = :md", "did not agree"),
        (
            "UPDATE mandates SET state = 'revoked', debits_at_revocation = 0 WHERE id = :md",
            "0 when it was revoked",
        ),
        ("UPDATE mandates SET ends_at_us = starts_at_us + 1 WHERE id = :md", "outside the period"),
    ],
)
def test_a_debit_that_did_not_fit_its_mandate_is_reported(
    platform: Platform, shop: Shops, payer: Payers, tamper: str, words: str
) -> None:
    md, notice_id = debited(platform, shop, payer)
    edit(platform, tamper, md=md, n=notice_id, day=2 * HOUR_US)
    problems = check_authorisations(platform.engine)
    assert any(words in p for p in problems), problems
