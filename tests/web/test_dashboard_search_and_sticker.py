"""The dashboard: payments found by amount and by payer, a statement period that cannot be
downloaded says why, the sticker with its call to action and the stall's name, the screens
pass axe and every tap target is big enough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from saoma.qr import images
from support import PIN, Server, new_merchant
from support_dashboard import dashboard, small_targets
from support_till import payer_named
from support_web import new_page, phone, read_code, shot
from web.test_accessibility import violations


def expect_found(page: Page, rows: list[tuple[str, str]]) -> None:
    """The payments table shows exactly these (payer, gross) rows, in this order."""
    table = page.locator("#d-payments tr[data-payment]")
    expect(table.locator("td.payer")).to_have_text([payer for payer, _ in rows])
    expect(table.locator("td:nth-child(6)")).to_have_text([gross for _, gross in rows])


def search(page: Page, *, amount: str = "", payer: str = "") -> None:
    page.locator("#d-amount").fill(amount)
    page.locator("#d-payer").fill(payer)
    page.locator("#d-filter").get_by_role("button", name="Search").click()


def test_payments_are_found_by_amount_and_by_payer(server: Server, browser: Any) -> None:
    shop = new_merchant(server)
    zhang = payer_named(server, "张敏", 10_000)
    wang = payer_named(server, "Wang Fang", 10_000)
    zhang.client.pay_static(shop.id, 3_500, PIN)
    wang.client.pay_static(shop.id, 3_500, PIN)
    wang.client.pay_static(shop.id, 1_200, PIN)
    context, page = dashboard(browser, server.url, shop)
    try:
        table = page.locator("#d-payments tr[data-payment]")
        expect(table).to_have_count(3)
        search(page, amount="35")
        expect_found(page, [("*Fang", "¥35.00"), ("*敏", "¥35.00")])
        search(page, payer="*敏")
        expect_found(page, [("*敏", "¥35.00")])
        search(page, amount="12", payer="Fang")
        expect_found(page, [("*Fang", "¥12.00")])
        search(page, amount="99")
        expect(page.locator("#d-payments")).to_have_text("No payment matches this search.")
        search(page, amount="a lot")
        expect(page.locator("#d-search-out")).to_have_text(
            "Type an amount like 35 or 35.50 to find payments of exactly that amount."
        )
        page.locator("#d-filter").get_by_role("button", name="Clear").click()
        expect(table).to_have_count(3)
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()


def test_a_wrong_period_cannot_be_downloaded_and_says_why(server: Server, browser: Any) -> None:
    shop = new_merchant(server)
    context, page = dashboard(browser, server.url, shop)
    try:
        link = page.locator("#d-download")
        out = page.locator("#d-statement-out")
        first, last = page.locator("#d-from").input_value(), page.locator("#d-to").input_value()
        assert link.get_attribute("href") == f"/v1/merchant/statement.csv?from={first}&to={last}"
        expect(out).to_have_text("The statement covers 30 days.")
        page.locator("#d-from").fill("2026-03-10")
        page.locator("#d-to").fill("2026-03-01")
        expect(out).to_have_text("The first day must be on or before the last day.")
        expect(out).to_have_attribute("role", "alert")
        expect(link).to_have_attribute("aria-disabled", "true")
        assert link.get_attribute("href") is None
        link.click(force=True)  # a click on it goes nowhere
        assert page.url.endswith("/dashboard")
        page.locator("#d-to").fill("2027-06-01")
        expect(out).to_have_text("A statement covers at most 366 days: pick a shorter period.")
        assert link.get_attribute("href") is None
        page.locator("#d-to").fill("2026-03-12")
        expect(out).to_have_text("The statement covers 3 days.")
        expect(link).not_to_have_attribute("aria-disabled", "true")
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename.endswith("2026-03-10-2026-03-12.csv")
    finally:
        context.close()


def test_the_sticker_asks_to_scan_and_names_the_stall_large(
    server: Server, browser: Any, shots: Path
) -> None:
    shop = new_merchant(server)
    payload = shop.client.me()["static_code"]["qr_payload"]
    context, page = dashboard(browser, server.url, shop)
    try:
        sticker = page.locator("#d-sticker")
        expect(sticker.locator(".sticker-cta")).to_have_text("扫码付款 Scan to pay")
        expect(page.locator("#d-sticker-name")).to_have_text("老陈面馆")
        expect(page.locator("#d-sticker-name-other")).to_have_text("Old Chen Noodles")
        size = page.locator("#d-sticker-name").evaluate(
            "n => parseFloat(getComputedStyle(n).fontSize)"
        )
        body = page.locator("#d-payments-title").evaluate(
            "n => parseFloat(getComputedStyle(document.body).fontSize)"
        )
        assert size >= 2 * body, (size, body)  # the name is large, not small print
        assert read_code(page, "#d-static svg") == payload
        sticker.screenshot(path=str(shots / "dashboard-sticker.png"))
        printed = page.request.get(server.url + "/web/sticker.png")
        assert images.read(printed.body()) == [payload]
    finally:
        context.close()


def test_the_dashboard_screens_pass_axe_with_big_enough_taps(
    server: Server, browser: Any, shots: Path
) -> None:
    shop = new_merchant(server)
    payer_named(server, "张敏", 10_000).client.pay_static(shop.id, 3_500, PIN)
    for options in ({"viewport": {"width": 1280, "height": 900}}, phone()):
        context, page = new_page(browser, bypass_csp=True, **options)
        try:
            page.goto(server.url + "/dashboard")
            expect(page.locator("#d-signin")).to_be_visible()
            assert violations(page) == []
            assert small_targets(page, "main") == []
        finally:
            context.close()
        context, page = dashboard(browser, server.url, shop, **options)
        try:
            page.locator("#lang").click()
            expect(page.locator("#d-payments-title")).to_have_text("收款记录")
            expect(page.locator("#d-payments tr[data-payment]")).to_have_count(1)
            page.locator("#d-cmp-kind").select_option("percent_off")  # every field of the form
            assert violations(page) == []
            assert small_targets(page, "main") == []
            if options.get("is_mobile") is None:
                shot(page, shots, "dashboard-zh", full=True)
        finally:
            context.close()
