"""Onboarding: the details checked and sealed, the limit taken with the money, one decision."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from saoma.api.ops_deps import Actor
from saoma.bootstrap import Platform
from saoma.core.errors import InvalidRequest, KycNotPending, MerchantNotVerified
from saoma.db import read
from saoma.kyc.crypto import KeyUnavailable, Sealer
from saoma.merchants.service import Merchant
from saoma.operators.service import Operator
from support import PASSWORD, PIN, funded_payer
from support_ops import signed_in_operator

ID_NUMBER = "11010519491231002X"
DETAILS = {
    "legal_name": "深圳市老陈餐饮有限公司",
    "licence_number": "91440300MA5EXAMPL6",
    "category": "5814",
    "owner_id_number": ID_NUMBER,
}


def new_shop(p: Platform) -> Merchant:
    return p.merchants.sign_up(
        login=f"shop-{secrets.token_hex(4)}@example.cn",
        password=PASSWORD,
        name="Old Chen Noodles",
        city="Shenzhen",
    )


def risk(p: Platform, role: str = "risk") -> Actor:
    user = signed_in_operator(p.engine, role)
    return Actor(Operator(user.id, f"{user.id}@ops", "Test", role), "127.0.0.1", "ticket 42")


def kyc_row(p: Platform, merchant_id: str) -> Any:
    with read(p.engine) as conn:
        return conn.execute(
            text("SELECT * FROM merchant_kyc WHERE merchant_id = :id"), {"id": merchant_id}
        ).one()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("legal_name", "X"),
        ("licence_number", "91440300MA5EXAMPO6"),  # O is not in the code's alphabet
        ("licence_number", "ab!"),
        ("category", "58"),
        ("owner_id_number", "110105194912310021"),  # wrong check digit
        ("owner_id_number", "AB1"),
    ],
)
def test_a_wrong_detail_is_named(platform: Platform, field: str, value: str) -> None:
    shop = new_shop(platform)
    with pytest.raises(InvalidRequest) as refused:
        platform.kyc.submit(shop, DETAILS | {field: value})
    assert refused.value.field == field
    assert platform.kyc.status(shop)["state"] == "unverified"


def test_the_owner_id_is_sealed_outside_the_database_and_shown_masked(
    platform: Platform, tmp_path: Path
) -> None:
    shop = new_shop(platform)
    shown = platform.kyc.submit(shop, DETAILS)
    assert shown["state"] == "pending"
    assert shown["owner_id"] == "*" * 14 + "002X"
    row = kyc_row(platform, shop.id)
    assert ID_NUMBER not in row.owner_id_cipher and "0519491231" not in row.owner_id_cipher
    with read(platform.engine) as conn:  # no column anywhere in the row holds the number
        assert ID_NUMBER not in " ".join(
            str(v)
            for v in conn.execute(
                text("SELECT * FROM merchant_kyc WHERE merchant_id = :id"), {"id": shop.id}
            ).one()
        )
    sealer = platform.kyc.sealer
    assert sealer.path.exists() and oct(sealer.path.stat().st_mode & 0o777) == "0o600"
    assert sealer.open(shop.id, row.owner_id_cipher) == ID_NUMBER
    other = Sealer(tmp_path / "other.key")
    other.seal("m_x", "x")  # creates another key with the same key id
    with pytest.raises(KeyUnavailable):
        other.open(shop.id, row.owner_id_cipher)
    with pytest.raises(KeyUnavailable):  # the merchant id is bound in: no copy to another row
        sealer.open("m_someone_else", row.owner_id_cipher)


def test_a_pending_merchant_takes_up_to_its_limit(platform: Platform) -> None:
    shop = new_shop(platform)
    platform.kyc.submit(shop, DETAILS)
    payer = funded_payer(platform, 500_000)
    platform.payments.pay_static(payer, shop.id, amount=150_000, pin=PIN)
    with pytest.raises(MerchantNotVerified):
        platform.payments.pay_static(payer, shop.id, amount=60_000, pin=PIN)
    platform.payments.pay_static(payer, shop.id, amount=50_000, pin=PIN)
    limit = platform.kyc.status(shop)["limit"]
    assert limit == {"per_day": 200_000, "taken_today": 200_000, "currency": "CNY"}
    assert platform.wallets.balance(payer)["balance"] == 300_000  # the refused one took nothing
    platform.kyc.approve(risk(platform), shop.id)
    platform.payments.pay_static(payer, shop.id, amount=100_000, pin=PIN)
    assert platform.kyc.status(shop)["limit"] is None


def test_an_unverified_merchant_is_limited_too(platform: Platform) -> None:
    shop = new_shop(platform)
    payer = funded_payer(platform, 500_000)
    platform.payments.pay_static(payer, shop.id, amount=200_000, pin=PIN)
    with pytest.raises(MerchantNotVerified):
        platform.payments.pay_static(payer, shop.id, amount=1, pin=PIN)


def test_fifty_payments_race_for_the_limit(platform: Platform) -> None:
    shop = new_shop(platform)
    platform.kyc.submit(shop, DETAILS)
    payers = [funded_payer(platform, 10_000) for _ in range(50)]

    def pay(payer: Any) -> bool:
        try:
            platform.payments.pay_static(payer, shop.id, amount=10_000, pin=PIN)
        except MerchantNotVerified:
            return False
        return True

    with ThreadPoolExecutor(50) as pool:
        paid = list(pool.map(pay, payers))
    assert paid.count(True) == 20
    assert platform.kyc.status(shop)["limit"]["taken_today"] == 200_000
    with read(platform.engine) as conn:
        count = conn.execute(
            text("SELECT COUNT(*) FROM payments WHERE merchant_id = :id"), {"id": shop.id}
        ).scalar_one()
    assert count == 20


def test_rejection_refuses_payments_and_tells_why(platform: Platform) -> None:
    shop = new_shop(platform)
    platform.kyc.submit(shop, DETAILS)
    platform.kyc.reject(risk(platform), shop.id, "The licence does not match the legal name.")
    shown = platform.kyc.status(shop)
    assert shown["state"] == "rejected"
    assert shown["reason"] == "The licence does not match the legal name."
    payer = funded_payer(platform, 1_000)
    with pytest.raises(MerchantNotVerified):
        platform.payments.pay_static(payer, shop.id, amount=100, pin=PIN)
    again = platform.kyc.submit(shop, DETAILS | {"legal_name": "深圳市老陈面馆"})
    assert again["state"] == "pending" and again["reason"] is None


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_fifty_decisions_make_one(platform: Platform, verb: str) -> None:
    shop = new_shop(platform)
    platform.kyc.submit(shop, DETAILS)
    actors = [risk(platform) for _ in range(5)]

    def decide(n: int) -> bool:
        actor = actors[n % 5]
        try:
            if verb == "approve":
                platform.kyc.approve(actor, shop.id)
            else:
                platform.kyc.reject(actor, shop.id, f"reason number {n}")
        except KycNotPending:
            return False
        return True

    with ThreadPoolExecutor(50) as pool:
        made = list(pool.map(decide, range(50)))
    assert made.count(True) == 1
    with read(platform.engine) as conn:
        audited = conn.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE action = :a AND subject_id = :id"),
            {"a": f"kyc.{verb}", "id": shop.id},
        ).scalar_one()
        events = conn.execute(
            text("SELECT COUNT(*) FROM outbox WHERE type = :t AND merchant_id = :id"),
            {
                "t": f"merchant.kyc.{verb}d" if verb == "approve" else "merchant.kyc.rejected",
                "id": shop.id,
            },
        ).scalar_one()
    assert (audited, events) == (1, 1)


def test_rotating_the_key_re_encrypts_every_id_number_under_the_new_one(
    platform: Platform, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from saoma.cli import app
    from saoma.config import get_settings
    from saoma.core.keyfile import load_or_make

    sealer = platform.kyc.sealer = Sealer(tmp_path / "kyc.key")  # this test's own key file
    shops = [new_shop(platform) for _ in range(3)]
    for shop in shops:
        platform.kyc.submit(shop, DETAILS)
    old_key = sealer.current()
    monkeypatch.setenv("SAOMA_KYC_KEY_FILE", str(sealer.path))

    def rotate(*flags: str) -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, ["rotate-kyc-key", *flags, "--database-url", db_url])
        finally:
            get_settings.cache_clear()

    rotated = rotate()
    assert rotated.exit_code == 0, rotated.output
    assert "3 ID numbers re-encrypted" in " ".join(rotated.output.split())
    new_key = load_or_make(sealer.path)[0][0]
    assert new_key != old_key and sealer.current() == new_key  # a running process sees it too
    with read(platform.engine) as conn:
        rows = conn.execute(text("SELECT merchant_id, owner_id_cipher FROM merchant_kyc")).all()
    ciphers = {r.merchant_id: r.owner_id_cipher for r in rows}
    assert {shop.id for shop in shops} <= ciphers.keys()
    # The older key may now leave the file: every number still opens without it.
    keep = [line for line in sealer.path.read_text().splitlines() if line.startswith(new_key + ":")]
    sealer.path.write_text("\n".join(keep) + "\n")
    for shop in shops:
        assert ciphers[shop.id].startswith(new_key + ":")
        assert Sealer(sealer.path).open(shop.id, ciphers[shop.id]) == ID_NUMBER
    again = rotate("--no-new-key")
    assert again.exit_code == 0, again.output
    assert "0 ID numbers re-encrypted" in " ".join(again.output.split())
