"""Coupons from the payer's side: a coupon started in the dashboard is shared as a QR code and a
link, the payer's wallet opens it and collects it, sees it in My coupons, scans an order above
the minimum spend and sees the coupon applied (the original struck through), pays, and the
coupon shows as used; collecting twice says so in words."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from saoma.qr import images
from support import PIN, Server, Shop, new_consumer, new_merchant
from support_dashboard import dashboard
from support_till import payer_named
from support_wallet import phone_wallet, signed_in
from support_web import (
    axe_violations,
    confirm_with_pin,
    read_code,
    scan_by_paste,
    shot,
    small_tap_targets,
)

__all__ = ["phone_wallet"]

OFFER = "¥3.00 off when spending ¥20.00 or more"


def with_takings(server: Server) -> Shop:
    shop = new_merchant(server)
    new_consumer(server, balance=20_000).client.pay_static(shop.id, 10_000, PIN)
    return shop


def start_coupon(page: Page) -> Locator:
    """The dashboard's form: ¥3 off from ¥20, a coupon, with a ¥6 budget."""
    form = page.locator("#d-cmp-form")
    form.get_by_label("Name payers see", exact=False).fill("¥3 off ¥20")
    form.get_by_label("Offer", exact=True).select_option("spend_get")
    form.get_by_label("Amount off (¥)").fill("3")
    form.get_by_label("Minimum spend (¥)").fill("20")
    form.get_by_label("Budget (¥)").fill("6")
    form.get_by_label("A coupon: only payers who collected it get the offer").check()
    form.get_by_role("button", name="Start").click()
    return page.locator("#d-campaigns li", has_text="¥3 off ¥20")


def checked(page: Page) -> None:
    """What every new screen meets: axe-core finds nothing, every tap target is 44 px or more."""
    assert axe_violations(page) == []
    assert small_tap_targets(page) == []


def share_link(server: Server, browser: Any, shop: Shop, shots: Path) -> tuple[str, dict[str, Any]]:
    """The merchant starts a coupon in the dashboard and opens its share: the code's text."""
    context, page = dashboard(browser, server.url, shop)
    try:
        coupon = start_coupon(page)
        expect(coupon.locator(".tag")).to_have_text(["Running", "Coupon"])
        coupon.get_by_role("button", name="Share").click()
        sheet = page.locator("#d-cpn-dialog")
        expect(sheet.locator("#d-cpn-title")).to_have_text("Share “¥3 off ¥20”")
        expect(sheet.locator("#d-cpn-offer")).to_have_text(OFFER)
        expect(sheet.locator("#d-cpn-shop")).to_have_text("At Old Chen Noodles")
        link = read_code(page, "#d-cpn-code svg")  # as a phone's camera reads it
        made = shop.client.request("GET", "/v1/campaigns")["data"][0]
        assert link == f"{server.url}/wallet#coupon={made['id']}"
        expect(sheet.get_by_role("link", name=link)).to_have_attribute("href", link)
        # The code downloaded for a poster reads the same.
        download = sheet.get_by_role("link", name="Download the code (PNG)")
        expect(download).to_have_attribute("href", re.compile(r"^data:image/png;base64,"))
        picture = base64.b64decode(download.get_attribute("href").split(",", 1)[1])  # type: ignore[union-attr]
        assert images.read(picture) == [link]
        checked(page)
        shot(page, shots, "dashboard-coupon-share")
        sheet.get_by_role("button", name="Close").click()
        expect(sheet).to_be_hidden()
        assert page.errors == []  # type: ignore[attr-defined]
        return link, made
    finally:
        context.close()


def test_a_coupon_shared_in_the_dashboard_is_collected_and_used_in_the_wallet(
    server: Server, browser: Any, phone_wallet: Page, shots: Path
) -> None:
    shop = with_takings(server)
    link, made = share_link(server, browser, shop, shots)
    payer = payer_named(server, "张敏", 10_000)
    wallet = phone_wallet
    signed_in(wallet, server, payer)

    # The link opens the wallet on the coupon.
    wallet.goto("about:blank")
    wallet.goto(link)
    expect(wallet.locator("#v-coupon")).to_be_visible()
    expect(wallet.locator("#cp-offer")).to_have_text(OFFER)
    expect(wallet.locator("#cp-name")).to_have_text("¥3 off ¥20")
    facts = wallet.locator("#cp-facts")
    for words in ("Old Chen Noodles", "Minimum spend", "¥20.00", "Valid until", "No end date"):
        expect(facts).to_contain_text(words)
    checked(wallet)
    shot(wallet, shots, "wallet-coupon")
    wallet.get_by_role("button", name="Collect").click()
    expect(wallet.locator("#cp-out")).to_have_text(
        "Added to your coupons. It comes off by itself when you pay Old Chen Noodles."
    )
    expect(wallet.get_by_role("button", name="Collect")).to_be_hidden()
    checked(wallet)

    # Its code scanned again (pasted into the scanner): already in your coupons, in words.
    wallet.get_by_role("button", name="Back").click()
    scan_by_paste(wallet, link)
    expect(wallet.locator("#cp-out")).to_have_text("This coupon is already in your coupons.")
    expect(wallet.get_by_role("button", name="Collect")).to_be_hidden()
    assert len(payer.client.request("GET", "/v1/me/coupons")["data"]) == 1

    wallet.get_by_role("button", name="My coupons").click()
    mine = wallet.locator(f"#cps-list li[data-coupon='{made['id']}']")
    for words in ("Old Chen Noodles", OFFER, "¥3 off ¥20", "Minimum spend ¥20.00", "No end date"):
        expect(mine).to_contain_text(words)
    expect(mine.locator(".coupon-state")).to_have_text("Ready to use")
    checked(wallet)
    wallet.locator("#lang").click()
    expect(mine.locator(".coupon-state")).to_have_text("可使用")
    expect(mine).to_contain_text("满 ¥20.00 减 ¥3.00")
    shot(wallet, shots, "wallet-my-coupons-zh")
    wallet.locator("#lang").click()
    wallet.locator("#v-coupons").get_by_role("button", name="Back").click()

    # An order above the minimum spend: the coupon is applied, and said to be the payer's own.
    order = shop.client.create_order("CPN-1", 3_000, description="noodles")
    scan_by_paste(wallet, order["qr_payload"])
    expect(wallet.locator("#confirm-amount")).to_have_text("¥27.00")
    original = wallet.locator("#confirm-was s")
    expect(original).to_have_text("¥30.00")
    assert "line-through" in original.evaluate("e => getComputedStyle(e).textDecorationLine")
    expect(wallet.locator("#confirm-offer")).to_have_text(
        "Your coupon “¥3 off ¥20”: ¥3.00 off — you pay ¥27.00"
    )
    wallet.locator("#lang").click()
    expect(wallet.locator("#confirm-offer")).to_have_text(
        "你的优惠券“¥3 off ¥20”：立减 ¥3.00，实付 ¥27.00"
    )
    shot(wallet, shots, "wallet-coupon-applied-zh")
    wallet.locator("#lang").click()
    confirm_with_pin(wallet, button="Pay ¥27.00")
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥27.00 to Old Chen Noodles")
    expect(wallet.locator("#done-facts")).to_contain_text("-¥3.00")
    wallet.get_by_role("button", name="Done").click()
    expect(wallet.locator("#balance")).to_have_text("¥73.00")

    wallet.get_by_role("button", name="Coupons").click()
    expect(mine.locator(".coupon-state")).to_have_text("Used")
    expect(mine).to_have_attribute("data-state", "used")
    checked(wallet)
    wallet.locator("#lang").click()
    expect(mine.locator(".coupon-state")).to_have_text("已使用")
    shot(wallet, shots, "wallet-my-coupons-used-zh")

    # The merchant's side: the payment at the discounted price, the coupon's report.
    received = shop.client.payments()["data"][0]
    assert (received["amount"], received["discount"], received["paid"]) == (3_000, 300, 2_700)
    assert payer.client.me()["balance"] == 7_300
    report = shop.client.request("GET", f"/v1/campaigns/{made['id']}")
    assert (report["used_count"], report["subsidy_paid"]) == (1, 300)
    assert wallet.errors == []  # type: ignore[attr-defined]


def test_collecting_twice_says_so_and_an_ended_coupon_says_it_in_words(
    server: Server, phone_wallet: Page
) -> None:
    shop = with_takings(server)
    spec = {"name": "¥5 off", "kind": "amount_off", "amount_off": 500, "budget": 1_000}
    made = shop.client.request("POST", "/v1/campaigns", spec | {"needs_coupon": True})
    payer = payer_named(server, "Li Wei", 1_000)
    wallet = phone_wallet
    signed_in(wallet, server, payer)
    link = f"{server.url}/wallet#coupon={made['id']}"
    wallet.goto(link)  # the wallet already open: the link changes only what follows the #
    expect(wallet.locator("#cp-offer")).to_have_text("¥5.00 off")
    expect(wallet.locator("#cp-facts")).to_contain_text("Any amount")
    # Collected meanwhile on another phone: the answer says it was already there.
    payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons")
    wallet.get_by_role("button", name="Collect").click()
    expect(wallet.locator("#cp-out")).to_have_text("This coupon is already in your coupons.")
    assert len(payer.client.request("GET", "/v1/me/coupons")["data"]) == 1

    shop.client.request("POST", f"/v1/campaigns/{made['id']}/end")
    wallet.get_by_role("button", name="My coupons").click()
    mine = wallet.locator(f"#cps-list li[data-coupon='{made['id']}']")
    expect(mine.locator(".coupon-state")).to_have_text("Ended")
    checked(wallet)
    wallet.get_by_role("button", name="Back").click()
    scan_by_paste(wallet, link)
    expect(wallet.locator("#cp-out")).to_have_text(
        "This coupon is no longer available: it has ended, or the link is wrong."
    )
    expect(wallet.get_by_role("button", name="Collect")).to_be_hidden()
    checked(wallet)
    assert wallet.errors == []  # type: ignore[attr-defined]
