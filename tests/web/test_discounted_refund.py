"""A discounted payment refunded in part: every page says what the payer actually got back.

¥30 with ¥3 off: the payer paid ¥27 and a campaign ¥3. A ¥5 refund from the till gives the payer
¥4.50 and the campaign its share, ¥0.50. The till's dialog, its recent payments, the payer's wallet
and the dashboard all show ¥4.50 as what the payer got.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from support import PASSWORD, PIN, Server, new_consumer, new_merchant, wait_for
from support_till import axe_violations, payer_named, sign_in_till
from support_web import new_page, phone

MANAGER_PIN = "135790"


def test_a_discounted_payment_refunded_in_part_shows_the_payers_figure_everywhere(
    server: Server, browser: Any
) -> None:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    new_consumer(server, balance=50_000).client.pay_static(shop.id, 20_000, PIN)  # takings
    shop.client.request(
        "PUT", "/v1/merchant/manager-pin", {"password": PASSWORD, "pin": MANAGER_PIN}
    )
    shop.client.request(
        "POST",
        "/v1/campaigns",
        {"name": "¥3 off", "kind": "amount_off", "amount_off": 300, "budget": 1_000},
    )
    payer = payer_named(server, "张敏", 10_000)
    order = shop.client.create_order("PROMO-1", 3_000, description="fruit")
    offer = payer.client.preview(order["qr_payload"])["offer"]
    paid = payer.client.request(
        "POST",
        f"/v1/orders/{order['id']}/pay",
        {"pin": PIN, "offer_id": offer["offer_id"]},
        idempotency_key="promo-pay-1",
    )
    assert (paid["amount"], paid["paid"]) == (3_000, 2_700)

    till_ctx, till = new_page(browser, bypass_csp=True, **phone("tablet"))
    wallet_ctx, wallet = new_page(browser, **phone())
    try:
        sign_in_till(till, server, shop)
        row = till.locator("#c-recent li").filter(has_text="¥30.00")
        expect(row).to_contain_text("*敏")
        row.get_by_role("button", name="Refund").click()
        dialog = till.get_by_role("dialog")
        expect(dialog).to_contain_text("Refund ¥30.00: the payer gets ¥27.00 back.")
        assert axe_violations(till) == []
        dialog.get_by_label("Amount (¥)").fill("5")
        expect(dialog).to_contain_text("Refund ¥5.00: the payer gets ¥4.50 back.")
        dialog.get_by_label("Manager PIN (6 digits)").fill(MANAGER_PIN)
        dialog.get_by_role("button", name="Refund").click()
        expect(till.locator("#toast")).to_have_text("Refunded ¥4.50.")
        expect(row).to_contain_text("Payer got ¥4.50 back")
        wait_for(lambda: payer.client.me()["balance"] == 10_000 - 2_700 + 450, what="the refund")

        # What is left: the dialog offers the rest, and says the payer gets ¥22.50 of it.
        row.get_by_role("button", name="Refund").click()
        expect(dialog).to_contain_text("Refund ¥25.00: the payer gets ¥22.50 back.")
        dialog.get_by_role("button", name="Cancel").click()

        wallet.goto(server.url + "/wallet")
        form = wallet.locator("#signin-form")
        form.get_by_label("Phone number or e-mail").fill(payer.login)
        form.get_by_label("Password").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        expect(wallet.locator("#balance")).to_have_text("¥77.50")
        wallet.get_by_role("button", name="History").click()
        expect(wallet.locator("#history li").first).to_contain_text("Refunded ¥4.50")

        till.goto(server.url + "/dashboard")
        payment = till.locator(f"#d-payments tr[data-payment='{paid['id']}']")
        expect(payment).to_contain_text("¥5.00 (payer got ¥4.50)")
    finally:
        till_ctx.close()
        wallet_ctx.close()
