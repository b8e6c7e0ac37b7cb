"""What a frozen person sees: support freezes a wallet and a merchant (over the API, as the
console does); the wallet's home says since when, why and how to appeal, turns off the ways money
leaves, and a payment is refused with the page's own sentence; the dashboard says payments
cannot be taken; once risk lifts the freezes, the notices are gone on reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from support import PASSWORD, Server, engine_of, new_consumer, new_merchant
from support_ops import OpsUser, signed_in_operator
from support_web import confirm_with_pin, new_page, phone, scan_by_paste, shot
from web.test_accessibility import violations

STOLEN = "Your phone was reported stolen on 3 December."
APPEAL = "Call 400-800-1234 with your ID card."
CLOSED = "The shop's licence was reported as revoked."


def act(server: Server, who: OpsUser, path: str, body: dict[str, Any]) -> None:
    answer = httpx.post(
        server.url + path, json=body, headers=who.headers("Ticket 9120: frozen notice")
    )
    assert answer.status_code in {200, 201}, answer.text


def test_a_frozen_wallet_and_shop_see_why_how_to_appeal_and_what_still_works(
    server: Server, browser: Any, shots: Path
) -> None:
    wallet_ctx, wallet = new_page(browser, bypass_csp=True, **phone())
    till_ctx, till = new_page(browser, bypass_csp=True, **phone("tablet"))
    try:
        walk_through(server, wallet, till, shots)
    finally:
        wallet_ctx.close()
        till_ctx.close()


def walk_through(server: Server, wallet: Page, till: Page, shots: Path) -> None:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    payer = new_consumer(server, balance=5_000)
    frozen_shop = new_merchant(server, name="Closed Corner")
    support = signed_in_operator(engine_of(server.database_url), "support")
    risk = signed_in_operator(engine_of(server.database_url), "risk")
    act(
        server,
        support,
        f"/v1/ops/consumers/{payer.id}/freeze",
        {"reason_shown": STOLEN, "appeal": APPEAL},
    )
    act(server, support, f"/v1/ops/merchants/{frozen_shop.id}/freeze", {"reason_shown": CLOSED})

    wallet.goto(server.url + "/wallet")
    wallet.locator("#si-login").fill(payer.login)
    wallet.locator("#si-password").fill(PASSWORD)
    wallet.locator("#si-password").press("Enter")
    notice = wallet.get_by_role("region", name="Your wallet is frozen")
    expect(notice).to_contain_text(STOLEN)
    expect(notice).to_contain_text(APPEAL)
    expect(notice).to_contain_text("Since ")
    expect(notice).to_contain_text("Refunds still arrive")
    for tile in ("Pay", "Send", "Red packet"):
        expect(
            wallet.locator("#v-home").get_by_role("button", name=tile, exact=True)
        ).to_be_disabled()
    expect(wallet.get_by_role("button", name="Top up")).to_be_enabled()
    shot(wallet, shots, "wallet-frozen", full=True)
    assert violations(wallet) == []

    scan_by_paste(wallet, shop.client.me()["static_code"]["qr_payload"])
    wallet.locator("#confirm-form").get_by_label("Amount (¥)").fill("12")
    confirm_with_pin(wallet)
    expect(wallet.locator("#confirm-out")).to_have_text(
        "This account is frozen: money cannot leave it. "
        "See why and how to appeal on your account page."
    )
    assert payer.client.me()["balance"] == 5_000

    wallet.goto(server.url + "/wallet")
    wallet.get_by_role("region", name="Your wallet is frozen").get_by_role(
        "button", name="See who looked at my data"
    ).click()
    expect(wallet.locator("#access-list")).to_contain_text("Froze your wallet")
    expect(wallet.locator("#access-list")).to_contain_text("Ticket 9120: frozen notice")

    till.goto(server.url + "/dashboard")
    till.locator("#ds-login").fill(frozen_shop.login)
    till.locator("#ds-password").fill(PASSWORD)
    till.locator("#ds-password").press("Enter")
    shop_notice = till.get_by_role("region", name="Your business is frozen")
    expect(shop_notice).to_contain_text(CLOSED)
    expect(shop_notice).to_contain_text("Payments cannot be taken and payouts are held")
    expect(shop_notice).to_contain_text("To appeal:")
    expect(shop_notice.get_by_role("link", name="See who looked at my data")).to_have_attribute(
        "href", "#d-access"
    )
    assert violations(till) == []

    till.get_by_role("button", name="中文").click()
    expect(till.get_by_role("region", name="你的商户已被冻结")).to_contain_text("无法收款")
    till.get_by_role("button", name="English").click()

    act(server, risk, f"/v1/ops/consumers/{payer.id}/unfreeze", {"note": "phone found"})
    act(server, risk, f"/v1/ops/merchants/{frozen_shop.id}/unfreeze", {})
    wallet.reload()
    expect(wallet.locator("#balance")).to_have_text("¥50.00")
    expect(wallet.locator("#frozen")).to_be_hidden()
    expect(wallet.locator("#v-home").get_by_role("button", name="Send", exact=True)).to_be_enabled()
    till.reload()
    expect(till.locator("#d-name")).to_have_text("Closed Corner")
    expect(till.locator("#d-frozen")).to_be_hidden()
    assert wallet.errors == [] and till.errors == []  # type: ignore[attr-defined]
