"""The operators' console: an operator signs in with a TOTP code, finds a consumer, types why,
sees the wallet; then the consumer's wallet shows who looked (the role and the reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from saoma.db import make_engine
from saoma.operators import totp
from saoma.operators.service import Operators
from support import PASSWORD, Server, new_consumer, new_merchant
from support_web import new_page, phone, shot
from web.test_accessibility import violations

REASON = "Ticket 4521: top-up not received"


def test_an_operator_looks_and_the_consumer_sees_it(
    server: Server, browser: Any, shots: Path
) -> None:
    engine = make_engine(server.database_url)
    try:
        added = Operators(engine).add("ana@ops.example", PASSWORD, "support", "Ana")
    finally:
        engine.dispose()
    payer = new_consumer(server, balance=12_345)
    new_merchant(server)

    context, page = new_page(browser, bypass_csp=True, viewport={"width": 1280, "height": 900})
    try:
        page.goto(server.url + "/console")
        page.locator("#cs-login").fill("ana@ops.example")
        page.locator("#cs-password").fill(PASSWORD)
        page.locator("#cs-code").fill(totp.code(added.secret))
        page.locator("#cs-code").press("Enter")
        expect(page.locator("#c-who")).to_contain_text("Ana")
        cookie = next(c for c in context.cookies() if c["name"] == "saoma_ops")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.locator("#c-q").fill(payer.id)
        page.locator("#c-q").press("Enter")
        expect(page.locator("#c-results tr")).to_have_count(1)
        expect(page.locator("#c-results")).to_contain_text("L* W**")
        page.locator(f'#c-results button[data-id="{payer.id}"]').click()
        expect(page.locator("#c-reason-text")).to_be_focused()
        page.locator("#c-reason-text").fill(REASON)
        page.locator("#c-reason-text").press("Enter")
        expect(page.locator("#c-money")).to_contain_text("¥123.45")
        expect(page.locator("#c-details")).to_contain_text(payer.login)
        assert violations(page) == []
        shot(page, shots, "console-look", full=True)  # docs: console.png is the freeze
        page.locator("#c-person-back").click()
        page.locator("#c-sign-out").click()
        expect(page.locator("#cs-login")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == "saoma_ops"]
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()

    context, wallet = new_page(browser, bypass_csp=True, **phone())
    try:
        wallet.goto(server.url + "/wallet")
        wallet.locator("#si-login").fill(payer.login)
        wallet.locator("#si-password").fill(PASSWORD)
        wallet.locator("#si-password").press("Enter")
        wallet.locator('[data-go="v-settings"]').first.click()
        wallet.locator("#to-access").click()
        entries = wallet.locator("#access-list .access-entry")
        expect(entries).to_have_count(2)  # the person's page, then its list of disputes
        expect(entries.nth(0)).to_contain_text("Looked at your disputes")
        expect(entries.nth(1)).to_contain_text("Looked at your wallet")
        for entry in (entries.nth(0), entries.nth(1)):
            expect(entry.locator(".access-role")).to_have_text("Customer support")
            expect(entry.locator(".access-reason")).to_have_text(REASON)
            expect(entry).not_to_contain_text("Ana")
        assert violations(wallet) == []
        shot(wallet, shots, "who-looked", full=True)
        assert wallet.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
