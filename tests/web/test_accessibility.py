"""Every main screen passes axe-core's WCAG 2 A and AA rules: labels, contrast, names, roles."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from support import Server
from support_web import axe_violations as violations
from support_web import new_page, open_stall, phone, sign_up_consumer, top_up, type_amount


def test_main_screens_have_no_accessibility_violations(server: Server, browser: Any) -> None:
    ctx, page = new_page(browser, bypass_csp=True, **phone())
    till_ctx, till = new_page(browser, bypass_csp=True, **phone("tablet"))
    try:
        seen: dict[str, list[str]] = {}
        page.goto(server.url + "/")
        seen["start"] = violations(page)
        page.goto(server.url + "/wallet")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        seen["wallet sign-in"] = violations(page)
        sign_up_consumer(page, server.url)
        top_up(page, "10")
        seen["wallet home"] = violations(page)  # with "not confirmed yet" on it
        page.locator("#unverified").get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", name="Confirm your phone or e-mail")).to_be_visible()
        seen["wallet confirm the phone"] = violations(page)
        page.get_by_role("button", name="Later").click()
        page.get_by_role("button", name="Settings").click()
        expect(page.locator("#ids-list")).to_contain_text("not confirmed")
        seen["wallet settings"] = violations(page)
        page.get_by_role("button", name="Back").click()
        page.get_by_role("button", name="Pay", exact=True).click()
        expect(page.locator("#paycode-box svg.qr")).to_be_visible()
        seen["wallet pay code"] = violations(page)

        open_stall(till, server.url)
        type_amount(till, "12")
        seen["cashier keypad"] = violations(till)
        till.get_by_role("button", name="Show code").click()
        expect(till.locator("#c-order-qr")).to_be_visible()
        seen["cashier code"] = violations(till)
        till.goto(server.url + "/dashboard")
        expect(till.locator("#d-name")).to_have_text("Old Chen Noodles")
        seen["dashboard"] = violations(till)
        assert {screen: found for screen, found in seen.items() if found} == {}
    finally:
        ctx.close()
        till_ctx.close()
