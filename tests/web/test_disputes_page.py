"""Disputes in the pages: the payer reports a problem with a photo from a receipt in the wallet;
the merchant sees it on the dashboard and contests it; support decides for the payer (over the
API, as the console will); the wallet shows the refund and the whole timeline."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Page, expect

from support import PASSWORD, PIN, Server, new_consumer, new_merchant, wait_for
from support_ops import operator_at
from support_web import new_page, phone, shot
from web.test_accessibility import violations


def a_photo(path: Path) -> Path:
    """A noisy 1600×1200 picture (well over 45 KB): the page must make it smaller to send it."""
    rng = random.Random(7)
    image = Image.new("RGB", (1600, 1200))
    image.putdata([(rng.randrange(256), rng.randrange(256), 90) for _ in range(1600 * 1200)])
    image.save(path, "PNG")
    return path


def test_a_payer_disputes_the_merchant_contests_and_support_refunds(
    server: Server, browser: Any, shots: Path, tmp_path: Path
) -> None:
    # Contexts that let the accessibility checker's script in (the pages' CSP would not).
    wallet_ctx, wallet = new_page(browser, bypass_csp=True, **phone())
    till_ctx, till = new_page(browser, bypass_csp=True, **phone("tablet"))
    try:
        walk_through(server, wallet, till, shots, tmp_path)
    finally:
        wallet_ctx.close()
        till_ctx.close()


def walk_through(server: Server, wallet: Page, till: Page, shots: Path, tmp_path: Path) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=5_000)
    paid = payer.client.pay_static(shop.id, 3_000, PIN)

    wallet.goto(server.url + "/wallet")
    wallet.locator("#si-login").fill(payer.login)
    wallet.locator("#si-password").fill(PASSWORD)
    wallet.locator("#si-password").press("Enter")
    expect(wallet.locator("#balance")).to_have_text("¥20.00")
    wallet.get_by_role("button", name="History").click()
    wallet.get_by_role("button", name="Receipt").first.click()
    wallet.get_by_role("button", name="Report a problem").click()
    form = wallet.locator("#dp-form")
    form.get_by_label("What went wrong").select_option("not_as_described")
    form.get_by_label("Tell us what happened").fill("The noodles were cold and half the bowl.")
    form.get_by_label("Photo (optional)").set_input_files(str(a_photo(tmp_path / "bowl.png")))
    form.get_by_role("button", name="Send to the merchant").click()
    receipt = wallet.locator("#dp-receipt")
    expect(receipt).to_contain_text("Waiting for the merchant")
    expect(receipt.locator("img.dp-photo")).to_be_visible()

    till.goto(server.url + "/dashboard")
    till.locator("#ds-login").fill(shop.login)
    till.locator("#ds-password").fill(PASSWORD)
    till.locator("#ds-password").press("Enter")
    section = till.locator("#d-disputes")
    expect(section).to_contain_text("The noodles were cold and half the bowl.")
    expect(section).to_contain_text("The merchant answers by")
    expect(section.get_by_role("button", name="Refund ¥30.00")).to_be_visible()
    section.get_by_label("Your side (for contesting)").fill("Served hot at 12:10, see the till.")
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(shots / "dashboard-disputes.png"))
    assert violations(till) == []
    section.get_by_role("button", name="Contest").click()
    expect(section).to_contain_text("Contested: support decides")

    agent = operator_at(server.database_url, "support")
    disputes = httpx.get(
        server.url + "/v1/ops/disputes",
        params={"consumer_id": payer.id},
        headers=agent.headers("ticket 31"),
    ).json()["disputes"]
    assert [d["payment_id"] for d in disputes] == [paid["id"]]
    decided = httpx.post(
        f"{server.url}/v1/ops/disputes/{disputes[0]['id']}/decide",
        json={"for": "payer", "note": "The photo shows a cold bowl."},
        headers=agent.headers("ticket 31") | {"idempotency-key": "decide-31"},
    )
    assert decided.status_code == 200, decided.text
    wait_for(lambda: payer.client.me()["balance"] == 5_000, what="the refund")

    wallet.get_by_role("button", name="Back").click()
    wallet.get_by_role("button", name="Disputes").click()
    item = wallet.locator("#dp-list li.dp-item")
    expect(item.locator(".dp-state")).to_have_text("Decided: refunded")
    for step in ("Opened", "Contested", "Decided", "Served hot at 12:10, see the till."):
        expect(item).to_contain_text(step)
    shot(wallet, shots, "wallet-dispute", full=True)
    assert violations(wallet) == []
    wallet.get_by_role("button", name="Back").click()
    wallet.locator("#v-history").get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥50.00")
    assert wallet.errors == [] and till.errors == []  # type: ignore[attr-defined]
