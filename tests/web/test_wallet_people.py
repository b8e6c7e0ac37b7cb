"""Money between people in the wallet: who gets it before the PIN, the PIN always, red packets."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from support import PIN, Server
from support_wallet import axe_violations, phone_wallet, signed_in, small_targets, verified_payer
from support_web import set_no_pin_limit, shot

__all__ = ["phone_wallet"]


def test_the_recipient_is_shown_before_the_pin_and_the_pin_is_asked_under_the_no_pin_limit(
    server: Server, phone_wallet: Page, shots: Path
) -> None:
    wallet = phone_wallet
    alice = verified_payer(server, "Alice Wang", 8_000)
    zhang = verified_payer(server, "张敏")
    signed_in(wallet, server, alice)
    set_no_pin_limit(wallet, "20", "100")  # small payments at a till go without the PIN

    wallet.locator("#v-home").get_by_role("button", name="Send", exact=True).click()
    form = wallet.locator("#send-form")
    form.get_by_label("To (phone, e-mail or wallet id)").fill(zhang.login)
    # Looked up from the phone typed, before anything else: the masked name only.
    expect(wallet.locator("#sd-who")).to_have_text("Recipient: *敏")
    expect(wallet.locator("#cf-pin")).to_be_hidden()
    form.get_by_label("Amount (¥)").fill("5")
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []
    form.get_by_role("button", name="Send").click()

    expect(wallet.locator("#confirm-title")).to_have_text("Send money to *敏")
    expect(wallet.locator("#confirm-amount")).to_have_text("¥5.00")
    expect(wallet.locator("#confirm-button")).to_have_text("Send ¥5.00")
    # ¥5 is under the ¥20 no-PIN limit, and still the PIN is asked.
    wallet.locator("#confirm-button").click()
    expect(wallet.get_by_role("alert")).to_have_text("Enter your payment PIN.")
    assert alice.client.me()["balance"] == 8_000
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []
    wallet.locator("#confirm-form").get_by_label("Payment PIN (6 digits)").fill(PIN)
    expect(wallet.locator("#done-title")).to_have_text("Sent ¥5.00 to *敏")
    assert (alice.client.me()["balance"], zhang.client.me()["balance"]) == (7_500, 500)

    # By wallet id too; and in Chinese, on a phone.
    wallet.get_by_role("button", name="Done").click()
    wallet.get_by_role("button", name="中文").click()
    wallet.locator("#v-home [data-go='v-send']").click()
    form.locator("#sd-to").fill(zhang.id)
    expect(wallet.locator("#sd-who")).to_have_text("收款人：*敏")
    form.locator("#sd-amount").fill("2")
    shot(wallet, shots, "wallet-send-recipient-zh")
    form.locator("button[type=submit]").click()
    expect(wallet.locator("#confirm-button")).to_have_text("转账 ¥2.00")
    shot(wallet, shots, "wallet-send-pin-zh")
    assert wallet.errors == []  # type: ignore[attr-defined]


def test_a_number_nobody_confirmed_says_the_money_waits_and_a_bad_id_is_refused(
    server: Server, phone_wallet: Page
) -> None:
    wallet = phone_wallet
    alice = verified_payer(server, "Alice Wang", 3_000)
    signed_in(wallet, server, alice)
    wallet.locator("#v-home").get_by_role("button", name="Send", exact=True).click()
    form = wallet.locator("#send-form")
    form.get_by_label("To (phone, e-mail or wallet id)").fill("13500001111")
    expect(wallet.locator("#sd-who")).to_contain_text("the money waits for its owner")
    form.get_by_label("To (phone, e-mail or wallet id)").fill("c_000000000000")
    form.get_by_label("Amount (¥)").fill("1")
    form.get_by_role("button", name="Send").click()
    expect(wallet.locator("#send-out")).to_have_text(
        "No wallet has this id. Check it and try again."
    )
    expect(wallet.locator("#v-send")).to_be_visible()
    assert alice.client.me()["balance"] == 3_000


def test_a_red_packet_opens_like_an_envelope_shows_the_amount_won_large_and_who_claimed(
    server: Server, phone_wallet: Page, shots: Path
) -> None:
    wallet = phone_wallet
    sender = verified_payer(server, "Zhang Min", 5_000)
    earlier = verified_payer(server, "Chen Mei")
    claimer = verified_payer(server, "李伟")
    packet = sender.client.request(
        "POST",
        "/v1/red-packets",
        {"amount": 888, "shares": 3, "mode": "random", "greeting": "新年快乐", "pin": PIN},
        idempotency_key=f"rp-{claimer.id}",
    )
    first = earlier.client.request(
        "POST", f"/v1/red-packets/{packet['id']}/claim", idempotency_key=f"c-{earlier.id}"
    )
    signed_in(wallet, server, claimer)
    wallet.goto(server.url + packet["link"])  # the link shared in a chat
    expect(wallet.locator("#po-title")).to_have_text("From Zhang Min")
    expect(wallet.locator("#po-greeting")).to_have_text("新年快乐")
    expect(wallet.locator("#po-claims li")).to_have_count(1)
    expect(wallet.locator("#po-claims")).to_contain_text("Chen Mei")
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []

    wallet.get_by_role("button", name="Open the red packet").click()
    won = wallet.locator("#po-won-amount")
    expect(won).to_contain_text("¥")
    assert won.inner_text() == f"¥{claimer.client.me()['balance'] / 100:.2f}"  # what arrived
    assert won.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 40  # large
    expect(wallet.locator("#po-won")).to_contain_text("You got")
    # The claims list: who claimed how much, this payer's share among them.
    rows = wallet.locator("#po-claims li")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Chen Mei")).to_contain_text(f"¥{first['amount'] / 100:.2f}")
    expect(rows.filter(has_text="李伟")).to_contain_text(won.inner_text())
    expect(wallet.get_by_role("button", name="Open the red packet")).to_be_hidden()
    assert axe_violations(wallet) == []
    assert small_targets(wallet) == []
    wallet.get_by_role("button", name="中文").click()
    expect(wallet.locator("#po-won")).to_contain_text("你抢到了")
    # The whole envelope is drawn again in Chinese, not only its fixed labels.
    english = re.compile("From|shares|You got|Share|Dec")
    for part in ("#po-title", "#po-left", "#po-out", "#po-share", "#po-claims"):
        expect(wallet.locator(part)).not_to_contain_text(english)
    shot(wallet, shots, "wallet-red-packet-zh")
    assert wallet.errors == []  # type: ignore[attr-defined]
