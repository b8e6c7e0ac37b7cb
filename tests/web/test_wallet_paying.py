"""Paying in the wallet as people expect it: the amount large, the original struck through when
discounted, the amount on the button, a six-box PIN pad that sends at the sixth digit, a success
screen with the facts and the receipt, and a top-up right there when money is short."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from support import PIN, Server, Shop, new_consumer, new_merchant
from support_till import payer_named
from support_wallet import axe_violations, phone_wallet, signed_in, small_targets
from support_web import scan_by_paste, shot

__all__ = ["phone_wallet"]


def discounted_shop(server: Server) -> Shop:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    new_consumer(server, balance=50_000).client.pay_static(shop.id, 20_000, PIN)  # takings
    shop.client.request(
        "POST",
        "/v1/campaigns",
        {"name": "¥3 off", "kind": "amount_off", "amount_off": 300, "budget": 1_000},
    )
    return shop


def test_a_discounted_payment_shows_what_to_pay_and_sends_at_the_sixth_digit(
    server: Server, phone_wallet: Page, shots: Path
) -> None:
    wallet = phone_wallet
    shop = discounted_shop(server)
    payer = payer_named(server, "张敏", 10_000)
    order = shop.client.create_order("PAY-1", 3_000, description="fruit")
    signed_in(wallet, server, payer)
    scan_by_paste(wallet, order["qr_payload"])

    expect(wallet.locator("#confirm-title")).to_have_text("Pay Nanshan Fresh Mart")
    expect(wallet.locator("#confirm-amount")).to_have_text("¥27.00")  # what leaves the wallet
    original = wallet.locator("#confirm-was s")
    expect(original).to_have_text("¥30.00")
    assert "line-through" in original.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert (
        float(
            wallet.locator("#confirm-amount").evaluate(
                "e => parseFloat(getComputedStyle(e).fontSize)"
            )
        )
        >= 40
    )  # large
    expect(wallet.locator("#confirm-button")).to_have_text("Pay ¥27.00")
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []

    # Typed on the keyboard: five digits fill five boxes and send nothing.
    pin = wallet.locator("#confirm-form").get_by_label("Payment PIN (6 digits)")
    pin.focus()
    wallet.keyboard.type(PIN[:5])
    expect(wallet.locator(".pin-box.filled")).to_have_count(5)
    wallet.wait_for_timeout(300)
    expect(wallet.locator("#v-confirm")).to_be_visible()
    assert payer.client.me()["balance"] == 10_000
    wallet.keyboard.press("Backspace")  # a slip corrected
    expect(wallet.locator(".pin-box.filled")).to_have_count(4)
    wallet.keyboard.type(PIN[4:])  # the sixth digit sends it, no button to press
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥27.00 to Nanshan Fresh Mart")
    facts = wallet.locator("#done-facts")
    expect(facts).to_contain_text("Merchant")
    expect(facts).to_contain_text("Nanshan Fresh Mart")
    expect(facts).to_contain_text("¥30.00")
    expect(facts).to_contain_text("Discount")
    expect(facts).to_contain_text("-¥3.00")
    expect(facts).to_contain_text("Time")
    assert payer.client.me()["balance"] == 7_300
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []
    wallet.get_by_role("button", name="Receipt").click()
    expect(wallet.locator("#receipt")).to_contain_text("¥27.00")
    expect(wallet.locator("#receipt")).to_contain_text("Nanshan Fresh Mart")
    assert wallet.errors == []  # type: ignore[attr-defined]

    # In Chinese, on a phone: the confirm screen of the next payment.
    order = shop.client.create_order("PAY-2", 3_000)
    wallet.get_by_role("button", name="中文").click()
    wallet.goto(server.url + "/wallet")
    scan_by_paste_zh(wallet, order["qr_payload"])
    expect(wallet.locator("#confirm-button")).to_have_text("支付 ¥27.00")
    expect(wallet.locator("#confirm-was")).to_contain_text("原价")
    shot(wallet, shots, "wallet-confirm-discount-zh")


def scan_by_paste_zh(page: Page, payload: str) -> None:
    page.locator("#v-home [data-go='v-scan']").click()
    page.locator("#scan-text").fill(payload)
    page.locator("#paste-form button[type=submit]").click()


def test_a_pasted_pin_sends_and_a_wrong_one_empties_the_boxes(
    server: Server, phone_wallet: Page
) -> None:
    wallet = phone_wallet
    shop = new_merchant(server, name="Shekou Noodles")
    payer = payer_named(server, "Li Wei", 5_000)
    signed_in(wallet, server, payer)
    scan_by_paste(wallet, shop.client.create_order("PASTE-1", 1_200)["qr_payload"])
    expect(wallet.locator("#confirm-button")).to_have_text("Pay ¥12.00")
    wallet.locator("#confirm-form").get_by_label("Payment PIN (6 digits)").focus()
    wallet.keyboard.insert_text("000000")  # pasted at once, and wrong
    expect(wallet.get_by_role("alert")).to_have_text("Wrong PIN. Try again.")
    expect(wallet.locator(".pin-box.filled")).to_have_count(0)  # ready to type again
    wallet.keyboard.insert_text(PIN)
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥12.00 to Shekou Noodles")
    assert payer.client.me()["balance"] == 3_800


def test_not_enough_money_tops_up_right_there_and_pays_the_same_payment(
    server: Server, phone_wallet: Page, shots: Path
) -> None:
    wallet = phone_wallet
    shop = new_merchant(server, name="Shekou Bikes")
    payer = payer_named(server, "Li Wei", 1_000)
    order = shop.client.create_order("SHORT-1", 3_000, description="bike hire")
    signed_in(wallet, server, payer)
    scan_by_paste(wallet, order["qr_payload"])
    wallet.locator("#confirm-form").get_by_label("Payment PIN (6 digits)").fill(PIN)
    expect(wallet.get_by_role("alert")).to_have_text(
        "Not enough money in the wallet. Top up first."
    )
    top = wallet.get_by_role("button", name="Top up ¥20.00 and come back to this payment")
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []
    top.click()
    expect(wallet.locator("#v-topup")).to_be_visible()
    expect(wallet.locator("#tu-amount")).to_have_value("20.00")
    wallet.locator("#topup-form").get_by_role("button", name="Top up").click()

    # Back on the same payment: the same shop, the same amount, the PIN to type.
    expect(wallet.locator("#v-confirm")).to_be_visible()
    expect(wallet.locator("#confirm-title")).to_have_text("Pay Shekou Bikes")
    expect(wallet.locator("#confirm-button")).to_have_text("Pay ¥30.00")
    expect(wallet.locator("#confirm-out")).to_have_text("¥20.00 arrived. Type your PIN to pay.")
    wallet.locator("#confirm-form").get_by_label("Payment PIN (6 digits)").fill(PIN)
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥30.00 to Shekou Bikes")
    assert shop.client.get_order(order["id"])["state"] == "paid"
    assert payer.client.me()["balance"] == 0
    wallet.get_by_role("button", name="中文").click()
    shot(wallet, shots, "wallet-paid-zh")
    assert wallet.errors == []  # type: ignore[attr-defined]
