"""The demo world: seeded once, seeded again changes nothing, the books balance."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from saoma.authorisations import check_authorisations
from saoma.bootstrap import Platform
from saoma.config import get_settings
from saoma.db import make_engine
from saoma.demo import CONSUMERS, DEMO_PASSWORD, MERCHANTS, demo_operators, seed
from saoma.demo_apps import launch
from saoma.ledger.check import check_ledger
from saoma.miniprograms.service import MiniPrograms
from saoma.operators import totp
from saoma.operators.roles import ROLES
from support import free_port, wait_until


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
        # Li Wei: ¥500 in, noodles 25.00, groceries 38.60, a ¥10 tip, a bike fare of 1.50, and
        # the eggs he disputes, 12.80.
        assert first["+8613800000001"] == 50_000 - 2_500 - 3_860 - 1_000 - 150 - 1_280
        demo_world_has_operators_and_a_dispute(platform)
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


def demo_world_has_operators_and_a_dispute(platform: Platform) -> None:
    """One operator per role, able to sign in with the demo password and the code of the
    authenticator that scanned its URI; one contested dispute for the console to decide."""
    listed = platform.operators.listing()
    assert sorted((o["login"], o["role"]) for o in listed) == sorted(
        (f"{role}@demo.saoma", role) for role in ROLES
    )
    shown = demo_operators(platform)
    assert [o.role for o in shown] == list(ROLES)
    for found in shown:
        query = parse_qs(urlparse(found.uri).query)
        assert found.uri.startswith("otpauth://totp/") and query["issuer"]
        session = platform.operators.sign_in(
            found.login, DEMO_PASSWORD, totp.code(query["secret"][0])
        )
        assert session.operator.role == found.role
    li_wei = platform.wallets.by_login(CONSUMERS[0][0])
    assert li_wei is not None
    (dispute,) = platform.disputes.reads.listed(consumer_id=li_wei.id, ops=True)["disputes"]
    assert dispute["state"] == "contested"
    assert dispute["merchant_name"] == "Nanshan Fresh Mart"


def test_the_demo_serves_ordering_at_the_table(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``saoma demo`` does for the restaurant: its merchant seeded, a signing key of its
    own in the data folder, its origin registered and approved (found again on the next start),
    the app served with a kitchen screen only its key opens."""
    monkeypatch.setenv("SAOMA_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    platform = Platform.open(db_url, migrate_first=False)
    try:
        seed(platform)
        port = free_port()
        origin, kitchen = launch.start_table(platform, "127.0.0.1", port, "http://127.0.0.1:1")
        assert origin == f"http://localhost:{port}"
        assert kitchen.startswith(f"{origin}/kitchen#key=")
        minis = MiniPrograms(platform.engine, platform.wallets, platform.identifiers)
        (listed,) = [m for m in minis.approved() if m["origin"] == origin]
        assert (listed["name"], listed["name_zh"]) == ("Nanshan Robot Kitchen", "南山机器人餐厅")
        key = json.loads((tmp_path / "data" / "demo-table-key.json").read_text())
        assert launch.register(platform, launch.TABLE, origin)["id"] == listed["id"]
        again = launch._key(
            platform, listed["merchant_id"], tmp_path / "data" / "demo-table-key.json"
        )
        assert again == key

        def up() -> bool:
            try:
                return httpx.get(origin + "/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout_s=30, what="the table app to start")
        kitchen_key = kitchen.split("#key=")[1]
        shown = httpx.post(f"{origin}/api/kitchen", json={"key": kitchen_key}, timeout=5)
        assert shown.json() == {"orders": []}
        refused = httpx.post(f"{origin}/api/kitchen", json={"key": "x" * 24}, timeout=5)
        assert refused.status_code == 403
    finally:
        platform.close()
        get_settings.cache_clear()
