"""Freezes in-process, on both databases: one active freeze however many operators press at once,
payments racing a freeze either commit before it or are refused, a frozen merchant is not
settled, and check-authorisations catches a wallet debit made behind the service's back."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from saoma.core.errors import AlreadyFrozen, PinBusy, WalletFrozen
from saoma.core.ids import now_us
from saoma.db import read
from saoma.freezes import tables as f
from saoma.freezes.service import Doer
from saoma.ledger.check import check_ledger
from saoma.merchants.service import Merchant
from support import PASSWORD, PIN, funded_payer

SUPPORT = Doer("op_support", "support", "ticket T-1")
RISK = Doer("op_risk", "risk", "ticket T-2")
DAY_US = 86_400_000_000


def new_shop(platform: Platform) -> Merchant:
    return platform.merchants.sign_up(
        login=f"shop-{secrets.token_hex(4)}@example.cn",
        password=PASSWORD,
        name="Noodles",
        city="SZ",
    )


def audit_count(platform: Platform, action: str, subject_id: str) -> int:
    with read(platform.engine) as conn:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM audit_log WHERE action = :a AND subject_id = :s"),
                {"a": action, "s": subject_id},
            ).scalar_one()
        )


def test_fifty_operators_freezing_one_wallet_make_one_freeze(platform: Platform) -> None:
    payer = funded_payer(platform, 1_000)
    start = threading.Barrier(50)

    def freeze(i: int) -> str:
        start.wait()
        try:
            platform.freezes.freeze(SUPPORT, "consumer", payer.id, f"Stolen phone {i}")
        except AlreadyFrozen:
            return "conflict"
        return "frozen"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(freeze, range(50)))
    assert (outcomes.count("frozen"), outcomes.count("conflict")) == (1, 49)
    with read(platform.engine) as conn:
        active = conn.execute(
            select(func.count())
            .select_from(f.freezes)
            .where(f.freezes.c.subject_id == payer.id, f.freezes.c.lifted_at_us == 0)
        ).scalar_one()
    assert active == 1
    assert audit_count(platform, "consumer.freeze", payer.id) == 1


def test_payments_racing_a_freeze_commit_before_it_or_are_refused(platform: Platform) -> None:
    payer = funded_payer(platform, 100_000)
    shop = new_shop(platform)
    start = threading.Barrier(51)

    def pay(_: int) -> str | None:
        start.wait()
        try:
            return str(platform.payments.pay_static(payer, shop.id, amount=100, pin=PIN)["id"])
        except WalletFrozen:
            return None
        except PinBusy:
            # Fifty payments by one payer at once share five PIN tries; one that waited too long
            # is refused before it moved anything, which the rows and balance below check too.
            return None

    def freeze() -> None:
        start.wait()
        platform.freezes.freeze(SUPPORT, "consumer", payer.id, "Stolen phone")

    with ThreadPoolExecutor(51) as pool:
        froze = pool.submit(freeze)
        paid = list(pool.map(pay, range(50)))
        froze.result()
    succeeded = [p for p in paid if p is not None]
    with read(platform.engine) as conn:
        since_seq, frozen_at = conn.execute(
            select(f.freezes.c.since_seq, f.freezes.c.frozen_at_us).where(
                f.freezes.c.subject_id == payer.id
            )
        ).one()
        rows = conn.execute(
            text(
                "SELECT t.seq, t.created_at_us FROM payments p"
                " JOIN transfers t ON t.id = p.transfer_id WHERE p.consumer_id = :c"
            ),
            {"c": payer.id},
        ).all()
    assert len(rows) == len(succeeded)
    assert all(seq <= since_seq and at < frozen_at for seq, at in rows)
    assert platform.wallets.balance(payer)["balance"] == 100_000 - 100 * len(succeeded)
    with pytest.raises(WalletFrozen):  # and after it, nothing more
        platform.payments.pay_static(payer, shop.id, amount=100, pin=PIN)
    assert check_ledger(platform.engine).ok
    assert check_authorisations(platform.engine) == []


def test_a_frozen_merchant_is_not_settled_until_the_lift(platform: Platform) -> None:
    payer = funded_payer(platform, 10_000)
    shop = new_shop(platform)
    platform.payments.pay_static(payer, shop.id, amount=3_000, pin=PIN)
    platform.freezes.freeze(SUPPORT, "merchant", shop.id, "Checks on the business")
    later = now_us() + 3 * DAY_US
    platform.settlement.run(later)
    assert _settlements(platform, shop.id) == []
    platform.freezes.unfreeze(RISK, "merchant", shop.id, "cleared")
    platform.settlement.run(later + 1)
    assert len(_settlements(platform, shop.id)) == 1
    with read(platform.engine) as conn:  # the merchant's webhooks tell it both
        events = conn.execute(
            text("SELECT type FROM outbox WHERE merchant_id = :m ORDER BY created_at_us"),
            {"m": shop.id},
        ).scalars()
        assert [e for e in events if e.startswith("merchant.")] == [
            "merchant.frozen",
            "merchant.unfrozen",
        ]


def _settlements(platform: Platform, merchant_id: str) -> list[object]:
    with read(platform.engine) as conn:
        return list(
            conn.execute(
                text("SELECT id FROM settlements WHERE merchant_id = :m"), {"m": merchant_id}
            ).all()
        )
