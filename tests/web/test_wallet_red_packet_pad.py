"""The red packet takes the PIN on the six-box pad, as the confirm screen does: the PIN is always
asked, the packet is made at the sixth digit, a wrong PIN moves nothing and empties the pad."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from support import PIN, Server
from support_wallet import axe_violations, phone_wallet, signed_in, small_targets, verified_payer
from support_web import set_no_pin_limit, shot

__all__ = ["phone_wallet"]


def test_the_red_packet_pin_is_typed_on_the_six_box_pad_and_sent_at_the_sixth_digit(
    server: Server, phone_wallet: Page, shots: Path
) -> None:
    wallet = phone_wallet
    sender = verified_payer(server, "Zhang Min", 5_000)
    signed_in(wallet, server, sender)
    set_no_pin_limit(wallet, "20", "100")  # small payments go without the PIN; packets never
    wallet.locator("#v-home").get_by_role("button", name="Red packet").click()
    form = wallet.locator("#packet-form")
    pad = form.get_by_label("Payment PIN (6 digits)")
    expect(form.locator(".pin-boxes .pin-box")).to_have_count(6)
    expect(form.locator("#rp-pin-hint")).to_have_text("Sent as soon as the sixth digit is typed.")

    # No PIN: asked for, nothing made.
    form.get_by_label("Total (¥)").fill("8.88")
    form.get_by_label("How many people").fill("2")
    form.get_by_role("button", name="Put money in the packet").click()
    expect(wallet.locator("#packet-out")).to_have_text("Enter your payment PIN.")
    assert sender.client.me()["balance"] == 5_000

    # A wrong PIN: refused, the pad emptied, nothing moved.
    pad.press_sequentially("13579")
    expect(form.locator(".pin-box.filled")).to_have_count(5)
    assert sender.client.me()["balance"] == 5_000  # five digits send nothing
    pad.press_sequentially("1")
    expect(wallet.locator("#packet-out")).to_contain_text("PIN")
    expect(wallet.locator("#packet-out")).to_have_attribute("role", "alert")
    expect(form.locator(".pin-box.filled")).to_have_count(0)
    assert sender.client.me()["balance"] == 5_000
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []

    # The right PIN: at the sixth digit the envelope opens, no button to press.
    pad.press_sequentially(PIN)
    expect(wallet.locator("#po-title")).to_have_text("From Zhang Min")
    expect(wallet.locator("#po-left")).to_have_text("2 of 2 shares left")
    assert sender.client.me()["balance"] == 5_000 - 888

    # In Chinese, on a phone: the same pad, empty again.
    wallet.locator("#v-packet-open [data-go='v-home']").click()
    wallet.get_by_role("button", name="中文").click()
    wallet.locator("#v-home [data-go='v-packet']").click()
    expect(form.locator("label[for=rp-pin]")).to_have_text("支付密码（6位）")
    expect(form.locator(".pin-box.filled")).to_have_count(0)
    expect(wallet.locator("#packet-out")).to_be_hidden()
    form.locator("#rp-amount").fill("6.66")
    form.locator("#rp-pin").press_sequentially("24")
    shot(wallet, shots, "wallet-red-packet-pin-zh")
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []
    assert wallet.errors == []  # type: ignore[attr-defined]
