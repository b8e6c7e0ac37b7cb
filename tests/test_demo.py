"""The demo world: seeded once, seeded again changes nothing, the books balance."""

from __future__ import annotations

from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from saoma.db import make_engine
from saoma.demo import CONSUMERS, DEMO_PASSWORD, MERCHANTS, seed
from saoma.ledger.check import check_ledger


def test_seed_is_idempotent_and_consistent(db_url: str) -> None:
    platform = Platform.open(db_url, migrate_first=False)
    try:
        seed(platform)
        first = {
            login: platform.wallets.balance(platform.wallets.by_login(login))["balance"]
            for login, _, _ in CONSUMERS
        }  # type: ignore[arg-type]
        seed(platform)
        again = {
            login: platform.wallets.balance(platform.wallets.by_login(login))["balance"]
            for login, _, _ in CONSUMERS
        }  # type: ignore[arg-type]
        assert first == again
        # Li Wei: ¥500 in, noodles 25.00, groceries 38.60, a ¥10 tip, a bike fare of 1.50.
        assert first["+8613800000001"] == 50_000 - 2_500 - 3_860 - 1_000 - 150
        for login, _, _ in CONSUMERS:  # seeded people proved their phone or e-mail
            owner = platform.wallets.verified_owner(login)
            assert owner is not None and owner.login == login
        for spec in MERCHANTS:
            merchant = platform.merchants.sign_in(spec.login, DEMO_PASSWORD)
            assert merchant.name == spec.name and merchant.has_manager_pin  # cashier refunds
            bank = platform.settlement.accounts.of(merchant)["current"]
            assert bank is not None and bank["state"] == "verified"  # ready to be paid
            paid_out = platform.settlement.statements.list(merchant)["data"]
            assert [s["kind"] for s in paid_out] == (
                ["instant"] if spec.login == "noodles@futian.demo" else []
            )
    finally:
        platform.close()
    engine = make_engine(db_url)
    assert check_ledger(engine).ok and check_authorisations(engine) == []
    engine.dispose()
