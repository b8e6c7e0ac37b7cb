"""A discounted payment in a batch the ledger retries request by request: the campaign's use is
counted once, in the database and in this process's cache of budgets and counts alike, and the
payment's event is reported once — exactly the row in the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from p2p.conftest import (
    PIN,
    RETRIES,
    outbox_ids,
    report_events,
    retried,
    shop,
    wallet,
)
from saoma.bootstrap import Platform
from saoma.core.ids import now_us
from saoma.db import read
from saoma.ledger import Transfer, TransferCode, TransferFlags
from saoma.merchants.service import Merchant
from saoma.movements import Moved, Unit
from saoma.payments.service import derived_id
from saoma.promotions import tables as m
from support import Wiring


@pytest.fixture
def wiring() -> Wiring:
    # The first test pays with a bare ledger transfer, as checkout would build it, to record the
    # use in a unit of its own: no PIN check stands behind that debit, so the books are checked
    # without the authorisations (the second test pays through checkout, PIN and all).
    return Wiring(check_authorisations=False)


def discounted_campaign(p: Platform) -> tuple[Merchant, dict[str, Any]]:
    noodles = shop(p)
    takings = wallet(p, 50_000)
    p.payments.pay_static(takings, noodles.id, amount=20_000, pin=PIN)
    campaign = p.promotions.create(
        noodles, {"name": "¥1 off", "kind": "amount_off", "amount_off": 100, "budget": 1_000}
    )
    return noodles, campaign


def cached(p: Platform, campaign_id: str) -> tuple[int, int]:
    """This process's budget left and uses, as the next preview sees them."""
    catalogue = p.promotions.catalogue
    return catalogue.budgets_left[campaign_id], catalogue.used_counts[campaign_id]


def stored(p: Platform, noodles: Merchant, campaign_id: str) -> tuple[int, int]:
    report = p.promotions.get(noodles, campaign_id)
    with read(p.engine) as conn:
        used = conn.execute(
            select(m.campaigns.c.used_count).where(m.campaigns.c.id == campaign_id)
        ).scalar_one()
    assert used == report["used_count"]
    return report["budget_left"], used


@pytest.mark.parametrize("way", RETRIES)
def test_a_use_recorded_in_a_retried_batch_is_counted_once(platform: Platform, way: str) -> None:
    """The movement a checkout makes: the payer's part linked with the campaign's subsidy, and
    the use recorded in the same unit."""
    p = platform
    noodles, campaign = discounted_campaign(p)
    payer = wallet(p, 5_000)
    quoted = p.promotions.quote(payer, noodles.id, 1_000, "static:1000")
    assert quoted is not None and quoted["discount"] == 100
    assert cached(p, campaign["id"]) == (1_000, 0)
    offer = p.promotions.take(payer, quoted["offer_id"], noodles.id, 1_000, "static:1000")
    transfer_id = derived_id("pay", "retried")
    pay = Transfer(
        transfer_id,
        payer.account_id,
        noodles.account_id,
        900,
        TransferCode.PAYMENT,
        flags=TransferFlags.LINKED,
    )
    subsidy = p.promotions.subsidy_transfer(offer, transfer_id, noodles.account_id, transfer_id)

    def record(unit: Unit) -> None:
        p.promotions.record_use(unit, offer, payer, now_us())

    moved = retried(p, way, lambda: p.payments.movements.move([pay, subsidy], record))
    assert isinstance(moved, Moved)
    assert stored(p, noodles, campaign["id"]) == (900, 1)
    assert cached(p, campaign["id"]) == (900, 1)


@pytest.mark.parametrize("way", RETRIES)
def test_a_discounted_payment_in_a_retried_batch_is_counted_and_reported_once(
    platform: Platform, way: str
) -> None:
    p = platform
    noodles, campaign = discounted_campaign(p)
    payer = wallet(p, 5_000)
    quoted = p.promotions.quote(payer, noodles.id, 1_000, "static:1000")
    assert quoted is not None
    reported = report_events(p)
    paid = retried(
        p,
        way,
        lambda: p.payments.pay_static(
            payer, noodles.id, amount=1_000, pin=PIN, offer_id=quoted["offer_id"]
        ),
    )
    assert paid["discount"] == 100
    assert stored(p, noodles, campaign["id"]) == (900, 1)
    assert cached(p, campaign["id"]) == (900, 1)
    assert sorted(reported) == outbox_ids(p, paid["id"]) and len(reported) == 1
