"""A mandate in the wallet, all in the page: the payer agrees to a gym's monthly mandate with the
PIN, sees the debit made under it and the next one to expect, pauses it with one tap and then
revokes it with one tap; the gym's next debit is refused.

The server runs on the real clock, so "a day after the notice" is made by dating the notice a
day earlier in the database (as a day's wait would leave it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from saoma.client import SaomaError
from support import PASSWORD, PIN, Server, Shop, engine_of, new_consumer, new_merchant
from support_web import new_page, phone, shot

DAY_US = 24 * 3600 * 1_000_000


def a_day_ago(server: Server, notice_id: str) -> None:
    """The notice as it stands a day and an hour after it was sent."""
    with engine_of(server.database_url).begin() as conn:
        conn.execute(
            text(
                "UPDATE mandate_notices SET created_at_us = created_at_us - :d,"
                " due_at_us = due_at_us - :d, expires_at_us = expires_at_us - :d WHERE id = :id"
            ),
            {"d": DAY_US + 3600 * 1_000_000, "id": notice_id},
        )


def announced(server: Server, shop: Shop, mandate_id: str, amount: int) -> str:
    notice_id = str(shop.client.announce_debit(mandate_id, amount)["id"])
    a_day_ago(server, notice_id)
    return notice_id


def open_mandates(wallet: Page) -> Any:
    """From the home screen (or back to it first), the Mandates tile: the list drawn afresh."""
    if wallet.locator("#v-mandates").is_visible():
        wallet.locator("#v-mandates").get_by_role("button", name="Back").click()
    wallet.get_by_role("button", name="Mandates").click()
    return wallet.locator("#md-list .md-item").first


def test_the_payer_agrees_sees_the_debits_pauses_and_revokes(
    server: Server, browser: Any, shots: Path
) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the server's zone
    shop = new_merchant(server, name="Lotus Gym")
    payer = new_consumer(server, balance=10_000)
    asked = shop.client.request_mandate(
        payer.id,
        "GYM-0042",
        purpose="Gym membership, monthly",
        amount_max=5_000,
        frequency="monthly",
        start_on=(today - timedelta(days=30)).isoformat(),
        end_on=(today + timedelta(days=365)).isoformat(),
    )
    context, wallet = new_page(browser, **phone())
    try:
        wallet.goto(server.url + "/wallet")
        wallet.locator("#si-login").fill(payer.login)
        wallet.locator("#si-password").fill(PASSWORD)
        wallet.locator("#si-password").press("Enter")
        expect(wallet.locator("#balance")).to_have_text("¥100.00")
        card = open_mandates(wallet)
        expect(card).to_contain_text("Gym membership, monthly")
        expect(card).to_contain_text("asks you")
        card.get_by_label("Payment PIN").fill(PIN)
        card.get_by_role("button", name="Agree with PIN").click()
        expect(card.locator(".md-state")).to_have_text("active")

        notice_id = announced(server, shop, asked["id"], 3_900)
        shop.client.debit_mandate(asked["id"], notice_id, 3_900)
        next_month = announced(server, shop, asked["id"], 2_000)
        card = open_mandates(wallet)
        expect(card.locator(".md-debits")).to_contain_text("¥39.00")
        expect(card.locator(".md-debits")).to_contain_text("debited")
        expect(card.locator(".md-next")).to_contain_text("Next: ¥20.00 from")
        shot(wallet, shots, "wallet-mandate", full=True)

        card.get_by_role("button", name="Pause").click()
        expect(card.locator(".md-state")).to_have_text("paused")
        assert payer.client.mandates()["data"][0]["state"] == "paused"
        card.get_by_role("button", name="Revoke").click()
        expect(card.locator(".md-state")).to_have_text("revoked")
        expect(card.get_by_role("button", name="Resume")).to_have_count(0)
        assert wallet.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
    with pytest.raises(SaomaError) as refused:
        shop.client.debit_mandate(asked["id"], next_month, 2_000)
    assert refused.value.slug == "mandate-revoked"
    assert payer.client.me()["balance"] == 6_100
