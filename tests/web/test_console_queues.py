"""The console's views by role: risk approves a merchant from "Merchants to approve" (the owner's
ID masked), finance reads the books (no person search), an administrator pages the audit log and
sees who did what and why. Each screen passes axe-core's WCAG rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from kyc.test_kyc_http import DETAILS, unapproved_shop
from support import PIN, Server, new_consumer, new_merchant
from support_console import Staff, add_operator, answer_why, sign_in
from support_web import new_page, shot
from web.test_accessibility import violations

WHY = "KYC review, ticket 9001"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def test_risk_approves_finance_reads_the_books_admin_reads_the_log(
    server: Server, browser: Any, shots: Path
) -> None:
    shop, shop_id = unapproved_shop(server)
    shop.request("PUT", "/v1/merchant/kyc", DETAILS)
    payer = new_consumer(server, balance=2_000)
    payer.client.pay_static(new_merchant(server).id, 1_000, PIN)
    risk = add_operator(server, "risk", "Rita")

    context, page = new_page(browser, bypass_csp=True, **DESKTOP)
    try:
        approve(page, server, shop_id, risk)
        assert shop.request("GET", "/v1/merchant/kyc")["state"] == "approved"
        page.locator("#c-sign-out").click()
        books(page, server)
        page.locator("#c-sign-out").click()
        audit(page, server, shop_id, risk)
        shot(page, shots, "console-audit", full=True)
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()


def approve(page: Page, server: Server, shop_id: str, risk: Staff) -> None:
    sign_in(page, server, risk)
    expect(page.locator("#c-tab-disputes")).to_be_visible()
    expect(page.locator("#c-tab-audit")).to_have_count(0)
    page.locator("#c-tab-kyc").click()
    row = page.locator("#c-view tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("深圳市老陈餐饮有限公司")
    assert violations(page) == []
    row.get_by_role("button", name="Open").click()
    answer_why(page, WHY)
    card = page.locator("#c-kyc")
    expect(card).to_contain_text("Waiting for a decision")
    expect(card).to_contain_text("**************002X")
    expect(card).not_to_contain_text("11010519491231002X")
    expect(page.get_by_role("button", name="Freeze the merchant")).to_be_visible()
    assert violations(page) == []
    card.get_by_role("button", name="Reject").click()  # without a message: refused, in words
    expect(card.locator("#c-kyc-out")).to_contain_text("message")
    expect(card).to_contain_text("Waiting for a decision")
    card.get_by_role("button", name="Approve").click()
    expect(card).to_contain_text("Approved")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    page.locator("#c-person-back").click()
    page.locator("#c-view-refresh").click()
    expect(page.locator("#c-view")).to_contain_text("No merchant is waiting.")


def books(page: Page, server: Server) -> None:
    sign_in(page, server, add_operator(server, "finance", "Fang"))
    # Finance reads the books and does not look people up.
    expect(page.locator("#c-find")).to_be_hidden()
    expect(page.locator("#c-tab-books")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#c-bk-fees")).to_contain_text("Fee income")
    expect(page.locator("#c-bk-packets")).to_contain_text("¥0.00")
    expect(page.locator("#c-bk-breaks")).to_contain_text("0")
    expect(page.locator("#c-bk-clearing")).to_contain_text("Bank clearing")
    assert violations(page) == []
    page.locator("#lang").click()
    expect(page.locator("#c-bk-fees")).to_contain_text("手续费收入")
    expect(page.locator("#c-tab-books")).to_have_text("平台账目")
    page.locator("#lang").click()


def audit(page: Page, server: Server, shop_id: str, risk: Staff) -> None:
    sign_in(page, server, add_operator(server, "admin", "Ada"))
    for tab in ("disputes", "kyc", "books", "audit"):
        expect(page.locator(f"#c-tab-{tab}")).to_be_visible()
    page.locator("#c-tab-audit").click()
    entries = page.locator("#c-audit .audit-entry")
    expect(entries.first).to_contain_text("audit.view")
    approved = entries.filter(has_text="kyc.approve")
    expect(approved).to_have_count(1)
    expect(approved).to_contain_text("Risk team")
    expect(approved).to_contain_text(risk.login)
    expect(approved).to_contain_text(shop_id)
    expect(approved).to_contain_text(WHY)
    expect(approved).to_contain_text("127.0.0.1")
    expect(entries.filter(has_text="books.view")).to_contain_text("Finance")
    assert violations(page) == []
