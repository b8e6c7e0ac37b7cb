"""Races on both databases, from two platforms over one database (as two server processes
would be): fifty debits on one notice make one; fifty notices at once on one mandate leave
five waiting; a debit racing a revocation either commits before it or is refused, never after
it."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.ledger import TransferCode
from saoma.mandates.debits import Debits
from saoma.mandates.service import NOTICES_PENDING_MAX
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PASSWORD, PIN, approved, funded_payer, lose_the_next_answer, open_platform

from .conftest import HOUR_US, today

N = 50
PAIRS = 20


@pytest.fixture
def other(db_url: str, platform: Platform) -> Iterator[Platform]:
    """A second platform over the same database: another server process's services."""
    del platform  # migrated and checked by the first
    second = open_platform(db_url)
    try:
        yield second
    finally:
        second.close()


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once; each result, or the error it raised."""
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        gate.wait()
        try:
            return call()
        except SaomaError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def gym(platform: Platform) -> Merchant:
    merchant = platform.merchants.sign_up(
        login=f"gym-{secrets.token_hex(4)}@example.cn", password=PASSWORD, name="Lotus", city="SZ"
    )
    return approved(platform, merchant)


def agreed_mandate(platform: Platform, shop: Merchant, payer: Consumer, amount: int) -> str:
    """A daily mandate the payer agreed to, with a notice of ``amount`` sent now; its id and
    the notice's."""
    asked = platform.mandates.request(
        shop,
        payer=payer.id,
        merchant_mandate_no=f"R-{secrets.token_hex(4)}",
        purpose="Bike rental",
        amount_max=1_000,
        currency="CNY",
        frequency="daily",
        start_on=today(platform),
        end_on=today(platform, 30),
    )
    platform.mandates.agree(payer, asked["id"], pin=PIN)
    return str(asked["id"])


def a_day_later(*platforms: Platform) -> None:
    moved = platforms[0].mandates.clock() + 25 * HOUR_US
    for p in platforms:
        p.mandates.clock = lambda: moved


def payments_of(platform: Platform, consumer_id: str) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM transfers t JOIN consumers c"
                    " ON c.account_id = t.debit_account_id WHERE c.id = :c AND t.code = :code"
                ),
                {"c": consumer_id, "code": int(TransferCode.PAYMENT)},
            ).scalar_one()
        )


def test_fifty_debits_on_one_notice_make_one(platform: Platform, other: Platform) -> None:
    shop, payer = gym(platform), funded_payer(platform, 10_000)
    md = agreed_mandate(platform, shop, payer, 700)
    notice = platform.mandates.announce(shop, md, amount=700, currency="CNY")
    a_day_later(platform, other)
    debits = [Debits(platform.mandates), Debits(other.mandates)]
    results = together(
        [
            lambda i=i: debits[i % 2].debit(
                shop, md, notice_id=notice["id"], amount=700, currency="CNY"
            )
            for i in range(N)
        ]
    )
    made = [r for r in results if isinstance(r, dict)]
    slugs = {r.slug for r in results if isinstance(r, SaomaError)}
    assert len(made) == 1 and slugs == {"mandate-notice-used"}, slugs
    assert platform.wallets.balance(payer)["balance"] == 9_300
    assert payments_of(platform, payer.id) == 1
    row = platform.mandates.row(md)
    assert row.debits == 1


def test_fifty_notices_at_once_leave_five_waiting(platform: Platform, other: Platform) -> None:
    shop, payer = gym(platform), funded_payer(platform, 10_000)
    md = agreed_mandate(platform, shop, payer, 700)
    sides = [platform, other]
    results = together(
        [
            lambda i=i: sides[i % 2].mandates.announce(shop, md, amount=100 + i, currency="CNY")
            for i in range(N)
        ]
    )
    sent = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, SaomaError)]
    assert len(sent) == NOTICES_PENDING_MAX == 5
    assert {(r.slug, str(r)) for r in refused} == {
        ("invalid-request", "5 notices are waiting already")
    }
    with platform.engine.connect() as conn:
        waiting = conn.execute(
            text("SELECT amount FROM mandate_notices WHERE mandate_id = :m"), {"m": md}
        ).scalars()
        assert sorted(waiting) == sorted(n["amount"] for n in sent)


def test_a_debit_racing_a_revocation_commits_before_it_or_is_refused(
    platform: Platform, other: Platform
) -> None:
    shop, payer = gym(platform), funded_payer(platform, 100_000)
    pairs = []
    for _ in range(PAIRS):
        md = agreed_mandate(platform, shop, payer, 500)
        pairs.append((md, platform.mandates.announce(shop, md, amount=500, currency="CNY")["id"]))
    a_day_later(platform, other)
    outcomes = []
    for i, (md, notice_id) in enumerate(pairs):
        debiting, revoking = (platform, other) if i % 2 else (other, platform)
        debit, revoked = together(
            [
                lambda md=md, n=notice_id, p=debiting: Debits(p.mandates).debit(
                    shop, md, notice_id=n, amount=500, currency="CNY"
                ),
                lambda md=md, p=revoking: p.mandates.change(payer, md, "revoke"),
            ]
        )
        assert isinstance(revoked, dict) and revoked["state"] == "revoked"
        row = platform.mandates.row(md)
        if isinstance(debit, dict):
            # It committed first: the revocation's own UPDATE counted it.
            assert row.debits_at_revocation == 1 == row.debits
            outcomes.append("debited first")
        else:
            assert debit.slug == "mandate-revoked" and row.debits_at_revocation == 0 == row.debits
            outcomes.append("refused")
    made = outcomes.count("debited first")
    assert payments_of(platform, payer.id) == made
    assert platform.wallets.balance(payer)["balance"] == 100_000 - 500 * made
    print({o: outcomes.count(o) for o in set(outcomes)})


def test_a_debit_whose_commit_went_unanswered_is_not_refused(platform: Platform) -> None:
    """The debit committed but the answer to its COMMIT was lost: the ledger's retry finds the
    transfer there. The merchant hears "try again" (503), not that the notice was used; no
    refused debit is recorded, and the debit stands once."""
    shop, payer = gym(platform), funded_payer(platform, 10_000)
    md = agreed_mandate(platform, shop, payer, 700)
    notice = platform.mandates.announce(shop, md, amount=700, currency="CNY")
    a_day_later(platform)
    lost = lose_the_next_answer(platform)
    with pytest.raises(SaomaError) as unknown:
        Debits(platform.mandates).debit(
            shop, md, notice_id=notice["id"], amount=700, currency="CNY"
        )
    assert lost == [1]
    assert unknown.value.slug == "database-unavailable"
    with platform.engine.connect() as conn:
        states = conn.execute(
            text("SELECT state FROM mandate_debits WHERE mandate_id = :m"), {"m": md}
        ).scalars()
        assert list(states) == ["made"]
    assert platform.wallets.balance(payer)["balance"] == 9_300
    assert payments_of(platform, payer.id) == 1
