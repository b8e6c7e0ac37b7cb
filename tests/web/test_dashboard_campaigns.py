"""Campaigns and coupons run from the dashboard: started with a budget, applied when a payer
scans, paused (no longer applied), resumed, ended (the budget back); a coupon only for payers
who collected it; and every section of the dashboard drawn again in the language chosen."""

from __future__ import annotations

import re
import secrets
from typing import Any

from playwright.sync_api import Locator, Page, expect

from support import PIN, Payer, Server, Shop, new_consumer, new_merchant, wait_for
from support_dashboard import dashboard
from support_till import payer_named


def start_campaign(page: Page, name: str, budget: str, **fields: str) -> Locator:
    form = page.locator("#d-cmp-form")
    form.get_by_label("Name payers see", exact=False).fill(name)
    form.get_by_label("Offer", exact=True).select_option(fields.get("kind", "amount_off"))
    if "off" in fields:
        form.get_by_label("Amount off (¥)").fill(fields["off"])
    if "min" in fields:
        form.get_by_label("Minimum spend (¥)").fill(fields["min"])
    form.get_by_label("Budget (¥)").fill(budget)
    if fields.get("coupon"):
        form.get_by_label("A coupon: only payers who collected it get the offer").check()
    form.get_by_role("button", name="Start").click()
    return page.locator("#d-campaigns li", has_text=name)


def offer_at_scan(shop: Shop, payer: Payer, amount: int) -> dict[str, Any] | None:
    """What the payer's wallet shows when scanning an order of ``amount``: the offer, if any."""
    order = shop.client.create_order("CMP-" + secrets.token_hex(4), amount)
    offer: dict[str, Any] | None = payer.client.preview(order["qr_payload"])["offer"]
    if offer is not None:
        offer["order_id"] = order["id"]
    return offer


def test_a_campaign_started_in_the_dashboard_is_applied_paused_resumed_and_ended(
    server: Server, browser: Any
) -> None:
    shop = new_merchant(server)
    new_consumer(server, balance=20_000).client.pay_static(shop.id, 10_000, PIN)
    payer = new_consumer(server, balance=20_000)
    context, page = dashboard(browser, server.url, shop)
    try:
        form_out = page.locator("#d-cmp-form-out")
        start_campaign(page, "Lunch", "")
        expect(form_out).to_have_text("Type the amount off, like 5 or 5.50.")
        start_campaign(page, "Lunch", "", off="5")
        expect(form_out).to_have_text("Type a budget, like 100: it is moved from your balance.")
        start_campaign(page, "Lunch", "1000", off="5")
        expect(form_out).to_have_text("Your balance cannot fund this budget: pick a smaller one.")
        assert shop.client.request("GET", "/v1/campaigns")["data"] == []

        lunch = start_campaign(page, "¥5 off lunch", "10", off="5")
        expect(form_out).to_have_text("“¥5 off lunch” started with a budget of ¥10.00.")
        expect(lunch.locator(".tag").first).to_have_text("Running")
        expect(lunch).to_contain_text("¥5.00 off")
        offer = offer_at_scan(shop, payer, 3_000)
        assert offer is not None
        assert (offer["discount"], offer["pay_amount"]) == (500, 2_500)
        assert offer["reason"] == "¥5 off lunch"
        paid = payer.client.request(
            "POST",
            f"/v1/orders/{offer['order_id']}/pay",
            {"pin": PIN, "offer_id": offer["offer_id"]},
        )
        assert (paid["discount"], paid["paid"]) == (500, 2_500)
        expect(lunch).to_contain_text("Uses: 1 · subsidy paid ¥5.00 · sales ¥30.00")

        out = page.locator("#d-cmp-out")
        lunch.get_by_role("button", name="Pause").click()
        expect(out).to_have_text("“¥5 off lunch” is paused: no discount until you resume it.")
        expect(lunch.locator(".tag").first).to_have_text("Paused")
        wait_for(lambda: offer_at_scan(shop, payer, 3_000) is None, what="the pause to apply")

        lunch.get_by_role("button", name="Resume").click()
        expect(out).to_have_text("“¥5 off lunch” runs again.")
        expect(lunch.locator(".tag").first).to_have_text("Running")
        wait_for(lambda: offer_at_scan(shop, payer, 3_000) is not None, what="the resume")

        before = shop.client.me()["balance"]
        lunch.get_by_role("button", name="End").click()
        lunch.get_by_role("button", name="End it: ¥5.00 back to my balance").click()
        expect(out).to_have_text("“¥5 off lunch” ended: ¥5.00 went back to your balance.")
        expect(lunch.locator(".tag").first).to_have_text("Ended")
        expect(lunch.get_by_role("button")).to_have_count(0)
        assert shop.client.me()["balance"] == before + 500  # the budget left after one use
        assert offer_at_scan(shop, payer, 3_000) is None
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()


def test_a_coupon_started_in_the_dashboard_applies_once_collected(
    server: Server, browser: Any
) -> None:
    shop = new_merchant(server)
    new_consumer(server, balance=20_000).client.pay_static(shop.id, 10_000, PIN)
    payer = new_consumer(server, balance=20_000)
    context, page = dashboard(browser, server.url, shop)
    try:
        coupon = start_campaign(
            page, "¥3 off ¥20", "6", kind="spend_get", off="3", min="20", coupon="yes"
        )
        expect(coupon.locator(".tag")).to_have_text(["Running", "Coupon"])
        expect(coupon).to_contain_text("¥3.00 off when spending ¥20.00 or more")
        made = shop.client.request("GET", "/v1/campaigns")["data"][0]
        assert (made["needs_coupon"], made["min_spend"], made["amount_off"]) == (True, 2_000, 300)
        assert offer_at_scan(shop, payer, 3_000) is None  # not collected yet
        payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons")
        offer = offer_at_scan(shop, payer, 3_000)
        assert offer is not None and (offer["discount"], offer["pay_amount"]) == (300, 2_700)
        assert offer_at_scan(shop, payer, 1_500) is None  # under the minimum spend
    finally:
        context.close()


ENGLISH_LEFT = re.compile(r"\b[A-Za-z]{4,}\b")
# What stays in Latin letters in Chinese: names, ids, codes and the sticker's English line.
KEPT = {"Old", "Chen", "Noodles", "Saoma", "Scan", "Wang", "Fang", "Lunch"}
KEPT |= {"Webhook", "whsec", "https", "JSON"}


def test_switching_language_redraws_every_section_without_reload(
    server: Server, browser: Any
) -> None:
    shop = new_merchant(server)
    payer_named(server, "Wang Fang", 10_000).client.pay_static(shop.id, 3_500, PIN)
    context, page = dashboard(browser, server.url, shop)
    try:
        start_campaign(page, "Lunch", "5", off="1")
        expect(page.locator("#d-campaigns li .tag").first).to_have_text("Running")
        page.evaluate("window.__notReloaded = true")
        page.locator("#lang").click()
        expect(page.locator("#d-payments-title")).to_have_text("收款记录")
        expect(page.locator("[data-figure=payments] .muted")).to_have_text("笔数")
        expect(page.locator("#d-campaigns li .tag").first).to_have_text("进行中")
        expect(page.locator("#d-name")).to_have_text("老陈面馆")
        expect(page.locator("#d-payments td:nth-child(2)")).to_have_text(["收款码"])
        hours = page.locator("#d-hours svg")
        expect(hours).to_have_attribute("aria-label", re.compile("^今日每小时"))
        expect(page.locator("#d-static svg")).to_have_attribute("aria-label", "收款码: 老陈面馆")
        expect(page.locator("#d-statement-out")).to_have_text("对账单共 30 天。")
        expect(page.locator("#d-cmp-form-out")).to_have_text("“Lunch”已开始，预算 ¥5.00。")
        # Nothing English is left on the page, apart from names, ids and codes.
        page.wait_for_timeout(500)
        words = set(ENGLISH_LEFT.findall(page.locator("#d-main").inner_text()))
        ids = {w for w in words if not re.fullmatch(r"[A-Z]?[a-z]+", w)}  # keys, ids
        assert words - KEPT - ids == set(), words - KEPT - ids
        assert page.evaluate("window.__notReloaded") is True

        page.locator("#lang").click()
        expect(page.locator("#d-payments-title")).to_have_text("Payments received")
        expect(page.locator("#d-campaigns li .tag").first).to_have_text("Running")
        expect(page.locator("#d-name")).to_have_text("Old Chen Noodles")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
