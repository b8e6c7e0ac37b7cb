"""A stolen phone: support finds the wallet in the console, types why, and freezes it with a
sentence for its owner; the owner's wallet says it is frozen and why, the look and the freeze
are in "Who looked at my data" with the role and the reason, and payments are refused; the risk
team lifts the freeze and the wallet pays again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from saoma.client import SaomaError
from support import PASSWORD, PIN, Payer, Server, new_consumer, new_merchant
from support_console import Staff, add_operator, open_person, sign_in
from support_web import new_page, phone, shot
from web.test_accessibility import violations

WHY = "Ticket 7710: owner reports the phone stolen"
SHOWN = "Your phone was reported stolen: payments are stopped until you call us."
APPEAL = "Call 400-000-0000 with your wallet id."
LIFTED = "Ticket 7711: owner has the phone back, identity checked"

DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def test_support_freezes_a_wallet_and_risk_lifts_it(
    server: Server, browser: Any, shots: Path
) -> None:
    support = add_operator(server, "support", "Sam")
    risk = add_operator(server, "risk", "Rita")
    payer = new_consumer(server, balance=10_000)
    shop = new_merchant(server)

    context, page = new_page(browser, bypass_csp=True, **DESKTOP)
    try:
        freeze_in_console(page, server, support, payer, shots)
    finally:
        context.close()

    me = payer.client.me()
    assert me["freeze"] is not None
    assert (me["freeze"]["reason"], me["freeze"]["appeal"]) == (SHOWN, APPEAL)
    with pytest.raises(SaomaError) as refused:
        payer.client.pay_static(shop.id, 500, PIN)
    assert (refused.value.status, refused.value.slug) == (403, "frozen")
    assert payer.client.me()["balance"] == 10_000

    context, wallet = new_page(browser, bypass_csp=True, **phone())
    try:
        who_looked(wallet, server, payer)
    finally:
        context.close()

    context, page = new_page(browser, bypass_csp=True, **DESKTOP)
    try:
        lift_in_console(page, server, risk, payer)
    finally:
        context.close()

    assert payer.client.me()["freeze"] is None
    payer.client.pay_static(shop.id, 500, PIN)
    assert payer.client.me()["balance"] == 9_500
    latest = payer.client.request("GET", "/v1/me/access-log")["entries"][0]
    assert (latest["action"], latest["role"], latest["reason"]) == (
        "consumer.unfreeze",
        "risk",
        LIFTED,
    )


def freeze_in_console(
    page: Page, server: Server, support: Staff, payer: Payer, shots: Path
) -> None:
    sign_in(page, server, support)
    open_person(page, payer.login, payer.id, WHY)
    expect(page.locator("#c-money")).to_contain_text("¥100.00")
    expect(page.locator("#c-frozen")).to_have_count(0)
    # Support may freeze; only risk may lift a freeze, so support is not offered it.
    expect(page.locator("#c-uf-form")).to_have_count(0)
    page.get_by_label("Sentence shown to the person").fill(SHOWN)
    page.get_by_label("How to appeal (optional)").fill(APPEAL)
    page.get_by_role("button", name="Freeze the wallet").click()
    frozen = page.locator("#c-frozen")
    expect(frozen).to_contain_text(SHOWN)
    expect(frozen).to_contain_text("Customer support")
    expect(frozen).to_contain_text(APPEAL)
    expect(page.locator("#c-actions")).to_contain_text("Only risk can lift a freeze.")
    expect(page.locator("#c-fz-form")).to_have_count(0)
    expect(page.locator("#c-disputes")).to_contain_text("No disputes.")
    assert violations(page) == []
    shot(page, shots, "console", full=True)
    assert page.errors == []  # type: ignore[attr-defined]


def who_looked(wallet: Page, server: Server, payer: Payer) -> None:
    wallet.goto(server.url + "/wallet")
    wallet.locator("#si-login").fill(payer.login)
    wallet.locator("#si-password").fill(PASSWORD)
    wallet.locator("#si-password").press("Enter")
    expect(wallet.locator("#balance")).to_have_text("¥100.00")
    wallet.locator('[data-go="v-settings"]').first.click()
    wallet.locator("#to-access").click()
    entries = wallet.locator("#access-list .access-entry")
    expect(entries).to_have_count(3)
    froze, disputes, looked = entries.nth(0), entries.nth(1), entries.nth(2)
    expect(froze).to_contain_text("Froze your wallet")
    expect(froze).to_contain_text(SHOWN)
    expect(disputes).to_contain_text("Looked at your disputes")
    expect(looked).to_contain_text("Looked at your wallet")
    for entry in (froze, disputes, looked):
        expect(entry.locator(".access-role")).to_have_text("Customer support")
        expect(entry.locator(".access-reason")).to_have_text(WHY)
        expect(entry).not_to_contain_text("Sam")
    assert violations(wallet) == []
    assert wallet.errors == []  # type: ignore[attr-defined]


def lift_in_console(page: Page, server: Server, risk: Staff, payer: Payer) -> None:
    sign_in(page, server, risk)
    open_person(page, "Li Wei", payer.id, LIFTED)
    expect(page.locator("#c-frozen")).to_contain_text(SHOWN)
    page.get_by_label("Note (why it is lifted)").fill("Phone recovered")
    page.get_by_role("button", name="Unfreeze").click()
    expect(page.locator("#c-frozen")).to_have_count(0)
    # Risk may freeze again: the freeze form is back.
    expect(page.get_by_role("button", name="Freeze the wallet")).to_be_visible()
    assert violations(page) == []
    assert page.errors == []  # type: ignore[attr-defined]
