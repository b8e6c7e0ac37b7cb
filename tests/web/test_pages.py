"""The wallet, the cashier and the dashboard in a real Chromium, against a real server process.

Each test does what a person does — taps, types, reads the screen — and asserts what they see.
QR codes shown on one page are read from a screenshot by zxing-cpp before the wallet gets them.
"""

from __future__ import annotations

import base64
import csv
import io
import random
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from saoma import signing
from saoma.client import MerchantClient, SaomaError
from saoma.qr import images
from support import PASSWORD, Receiver, Server, new_consumer, new_merchant, wait_for
from support import server as server  # the main tour: on both databases
from support_web import (
    PIN,
    confirm_with_pin,
    new_page,
    open_stall,
    phone,
    read_code,
    scan_by_paste,
    set_no_pin_limit,
    shot,
    sign_up_consumer,
    spoken,
    top_up,
    type_amount,
)


def test_sign_up_top_up_and_pay_a_dynamic_code_the_cashier_announces(
    server: Server, till: Page, wallet: Page, shots: Path
) -> None:
    open_stall(till, server.url)
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "100")
    expect(wallet.locator("#balance")).to_have_text("¥100.00")
    shot(wallet, shots, "wallet-home")

    type_amount(till, "25.5")
    shot(till, shots, "cashier-keypad")
    till.get_by_role("button", name="Show code").click()
    expect(till.locator("#c-code-amount")).to_have_text("¥25.50")
    expect(till.get_by_role("status")).to_have_text("Waiting for payment…")
    shot(till, shots, "cashier-code")
    payload = read_code(till, "#c-order-qr")
    assert payload.startswith("000201") and "dev.saoma" in payload

    scan_by_paste(wallet, payload)
    expect(wallet.locator("#confirm-title")).to_have_text("Pay Old Chen Noodles")
    expect(wallet.locator("#confirm-amount")).to_have_text("¥25.50")
    shot(wallet, shots, "wallet-confirm")
    confirm_with_pin(wallet)
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥25.50 to Old Chen Noodles")

    # The cashier learns it without a reload, and says it aloud.
    expect(till.locator("#c-paid-title")).to_have_text("Received ¥25.50")
    shot(till, shots, "cashier-received")
    wait_for(lambda: "Received 25.50 yuan" in spoken(till), what="the announcement")
    wallet.get_by_role("button", name="Done").click()
    expect(wallet.locator("#balance")).to_have_text("¥74.50")
    assert wallet.errors == [] and till.errors == []  # type: ignore[attr-defined]


def test_a_muted_cashier_shows_the_payment_but_says_nothing_until_unmuted(
    server: Server, till: Page
) -> None:
    open_stall(till, server.url)
    payer = new_consumer(server, balance=10_000)
    mute = till.locator("#c-mute")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    till.reload()  # a noisy market: the stall keeps it muted from one day to the next
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(mute).to_have_text("Sound on")

    def sell(yuan: str) -> None:
        type_amount(till, yuan)
        till.get_by_role("button", name="Show code").click()
        order = payer.client.preview(read_code(till, "#c-order-qr"))
        payer.client.pay_order(order["order_id"], PIN)
        expect(till.locator("#c-paid-title")).to_have_text(f"Received ¥{yuan}")

    sell("3.00")
    till.wait_for_timeout(500)
    assert spoken(till) == []
    till.get_by_role("button", name="Next sale").click()
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    sell("4.00")
    wait_for(lambda: spoken(till) == ["Received 4 yuan"], what="the announcement")


def test_wrong_pin_is_refused_in_words_and_moves_nothing(
    server: Server, till: Page, wallet: Page
) -> None:
    open_stall(till, server.url)
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "30")
    type_amount(till, "12")
    till.get_by_role("button", name="Show code").click()
    scan_by_paste(wallet, read_code(till, "#c-order-qr"))
    confirm_with_pin(wallet, "000000")
    expect(wallet.get_by_role("alert")).to_have_text("Wrong PIN. Try again.")
    expect(till.get_by_role("status")).to_have_text("Waiting for payment…")
    # Not enough money: a sentence, not JSON.
    wallet.get_by_role("button", name="Cancel").click()
    till.get_by_role("button", name="Cancel").click()
    type_amount(till, "99")
    till.get_by_role("button", name="Show code").click()
    scan_by_paste(wallet, read_code(till, "#c-order-qr"))
    confirm_with_pin(wallet)
    expect(wallet.get_by_role("alert")).to_have_text(
        "Not enough money in the wallet. Top up first."
    )
    wallet.get_by_role("button", name="Cancel").click()
    expect(wallet.locator("#balance")).to_have_text("¥30.00")


def test_an_expired_or_cancelled_order_cannot_be_paid(
    server: Server, till: Page, wallet: Page
) -> None:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    short = shop.client.create_order("exp-1", 800, expires_in_s=5)
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "20")
    wait_for(lambda: shop.client.get_order(short["id"])["state"] == "expired", timeout=10)
    scan_by_paste(wallet, short["qr_payload"])
    expect(wallet.get_by_role("alert")).to_have_text("This code has expired. Ask for a new one.")
    expect(wallet.locator("#confirm-button")).to_be_disabled()

    open_stall(till, server.url)
    type_amount(till, "8")
    till.get_by_role("button", name="Show code").click()
    payload = read_code(till, "#c-order-qr")
    till.get_by_role("button", name="Cancel").click()
    wallet.get_by_role("button", name="Cancel").click()
    scan_by_paste(wallet, payload)
    expect(wallet.get_by_role("alert")).to_have_text("The merchant cancelled this order.")
    wallet.get_by_role("button", name="Cancel").click()
    expect(wallet.locator("#balance")).to_have_text("¥20.00")


def test_static_code_with_amount_and_note_shows_in_the_dashboard_and_statement(
    server: Server, till: Page, wallet: Page, shots: Path
) -> None:
    open_stall(till, server.url, name="Dongmen Busker")
    till.goto(server.url + "/dashboard")
    till.wait_for_load_state("networkidle")  # the sticker drawn for good, not redrawn under us
    photo = till.locator("#d-static svg").screenshot()
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "50")
    # No camera here: the payer picks a photo of the sticker.
    wallet.get_by_role("button", name="Scan").click()
    wallet.get_by_label("Choose or take a photo").set_input_files(
        files=[{"name": "sticker.png", "mimeType": "image/png", "buffer": photo}]
    )
    expect(wallet.locator("#confirm-title")).to_have_text("Pay Dongmen Busker")
    form = wallet.locator("#confirm-form")
    form.get_by_label("Amount (¥)").fill("8.8")
    form.get_by_label("Note (optional)").fill("好听! great song")
    confirm_with_pin(wallet)
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥8.80 to Dongmen Busker")

    # The dashboard updates by itself: today's takings, the payment with its note.
    expect(till.locator("[data-figure=takings] .figure")).to_have_text("¥8.80")
    expect(till.locator("[data-figure=payments] .figure")).to_have_text("1")
    row = till.locator("#d-payments tr").first
    expect(row).to_contain_text("好听! great song")
    expect(row).to_contain_text("Static code")
    shot(till, shots, "dashboard", full=True)
    till.get_by_label("Payment number, order number or note").fill("nothing like this")
    expect(till.locator("#d-payments")).to_contain_text("No payment matches this search.")
    till.get_by_label("Payment number, order number or note").fill("great")
    expect(till.locator("#d-payments tr")).to_have_count(1)

    sticker = till.request.get(server.url + "/web/sticker.png")
    assert sticker.headers["content-type"] == "image/png"
    assert images.read(sticker.body()) == [read_code(till, "#d-static svg")]
    assert till.request.get(server.url + "/web/sticker.pdf").body().startswith(b"%PDF")

    # The statement covers the merchant's days (Shenzhen time by default), whatever the day is
    # in UTC or in the browser: from 16:00 UTC it is already tomorrow in Shenzhen.
    shenzhen_today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    expect(till.locator("#d-to")).to_have_value(shenzhen_today)
    with till.expect_download() as download:
        till.get_by_role("link", name="Download").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert rows[0][:3] == ["time", "payment_id", "kind"]
    assert rows[1][2] == "static" and rows[1][4] == "好听! great song"
    assert rows[1][6] == "8.80" and rows[-1][0] == "total" and rows[-1][6] == "8.80"


def test_dashboard_adds_and_revokes_an_api_key_and_replays_a_webhook(
    server: Server, receiver: Receiver, till: Page
) -> None:
    """A stall owner's developer: a key pasted in the dashboard signs API calls until it is
    revoked there; the webhook URL set there gets the payment, and Replay sends it again."""
    open_stall(till, server.url, name="Key Test Stall")
    till.goto(server.url + "/dashboard")
    key = signing.new_private_key()
    till.get_by_label("Add a public key").fill(
        base64.b64encode(signing.public_key_bytes(key)).decode()
    )
    till.locator("#d-key-form").get_by_role("button", name="Save").click()
    expect(till.locator("#d-key-out")).to_have_text("Saved.")
    listed = till.locator("#d-keys li")
    expect(listed).to_have_count(1)  # a stall opened in the browser starts with none
    key_id = listed.first.locator("strong").inner_text()
    till.get_by_label("Webhook URL").fill(receiver.url)
    till.locator("#d-webhook-form").get_by_role("button", name="Save").click()
    expect(till.locator("#d-webhook-out")).to_have_text("Saved.")

    shop = MerchantClient(server.url, key_id=key_id, private_key=key)
    order = shop.create_order("KEY-1", 1_200)
    payer = new_consumer(server, balance=5_000)
    payer.client.pay_order(order["id"], PIN)
    wait_for(lambda: len(receiver.bodies("payment.succeeded")) == 1, what="the webhook")

    till.reload()
    delivery = till.locator("#d-deliveries li").first
    expect(delivery).to_contain_text("payment.succeeded")
    expect(delivery).to_contain_text("delivered")
    delivery.get_by_role("button", name="Replay").click()
    expect(till.locator("#d-webhook-out")).to_have_text("Queued for delivery again.")
    wait_for(lambda: len(receiver.bodies("payment.succeeded")) == 2, what="the replayed webhook")
    first, again = receiver.bodies("payment.succeeded")
    assert first == again and first["data"]["merchant_order_no"] == "KEY-1"

    listed.first.get_by_role("button", name="Revoke").click()
    expect(listed.first).to_contain_text("Revoked")  # kept on record, signing nothing more
    expect(listed.first.get_by_role("button", name="Revoke")).to_have_count(0)
    with pytest.raises(SaomaError) as refused:
        shop.create_order("KEY-2", 1_200)
    assert refused.value.slug == "key-unknown"
    shop.close()


def test_every_payment_code_barcode_reads_at_common_phone_widths(browser: Any) -> None:
    """The wallet's own Code 128 drawing, for many codes, on phones of common widths: a bar
    stretched to a fraction of a pixel blurs, and a scanner then reads some codes and not
    others."""
    script = (Path(images.__file__).parents[1] / "web" / "static" / "code128.js").read_text()
    rng = random.Random(128)
    for width in (360, 390, 412, 768):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        page.set_content(
            "<style>.barcode { width: min(88vw, 420px); height: 96px; }</style><div id=box></div>"
        )
        page.add_script_tag(content=script)
        unread = []
        for _ in range(25):
            code = "".join(rng.choice("0123456789") for _ in range(18))
            page.evaluate(
                "code => document.getElementById('box').replaceChildren(Code128.svg(code))", code
            )
            if images.read(page.locator("#box svg").screenshot()) != [code]:
                unread.append(code)
        context.close()
        assert unread == [], f"at {width} px wide these codes did not read: {unread}"


def test_payment_code_at_the_till_waits_for_the_pin_then_settles(
    server: Server, till: Page, wallet: Page, shots: Path
) -> None:
    open_stall(till, server.url, name="HQB Phone Parts")
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "200")
    wallet.get_by_role("button", name="Pay", exact=True).click()
    code = read_code(wallet, "#paycode-box svg.qr")
    assert re.fullmatch(r"28\d{16}", code)
    # The barcode under it carries the same 18 digits (read by a real decoder).
    assert read_code(wallet, "#paycode-box svg.barcode") == code
    shot(wallet, shots, "wallet-paycode")

    type_amount(till, "120")
    till.get_by_role("button", name="Scan payer's code").click()
    till.get_by_label("Payer's payment code").press_sequentially(code)  # a USB scanner types
    till.get_by_label("Payer's payment code").press("Enter")
    expect(till.locator("#c-scanner-out")).to_have_text(
        "Waiting for the payer to confirm on the phone…"
    )
    prompt = wallet.locator("#paycode-prompt [data-charge]")
    expect(prompt).to_contain_text("HQB Phone Parts asks for ¥120.00")
    prompt.get_by_label("Payment PIN").fill(PIN)
    prompt.get_by_role("button", name="Approve").click()
    expect(till.locator("#c-paid-title")).to_have_text("Received ¥120.00")
    expect(wallet.locator("#paycode-out")).to_have_text("Paid ¥120.00 to HQB Phone Parts")

    # The same code again is refused: it was used once.
    till.get_by_role("button", name="Next sale").click()
    type_amount(till, "1")
    till.get_by_role("button", name="Scan payer's code").click()
    till.get_by_label("Payer's payment code").fill(code)
    till.get_by_label("Payer's payment code").press("Enter")
    expect(till.get_by_role("alert")).to_have_text(
        "This payment code was already used. Show a fresh one."
    )
    wallet.get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥80.00")


def test_small_payment_code_charge_settles_at_once_under_the_no_pin_limit(
    server: Server, till: Page, wallet: Page
) -> None:
    open_stall(till, server.url, name="Nanshan Fresh Mart")
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "40")
    set_no_pin_limit(wallet, "20", "100")
    wallet.get_by_role("button", name="Pay", exact=True).click()
    code = read_code(wallet, "#paycode-box svg.qr")
    type_amount(till, "18")
    till.get_by_role("button", name="Scan payer's code").click()
    till.get_by_label("Payer's payment code").fill(code)
    till.get_by_label("Payer's payment code").press("Enter")
    expect(till.locator("#c-paid-title")).to_have_text("Received ¥18.00")
    expect(wallet.locator("#paycode-out")).to_have_text("Paid ¥18.00 to Nanshan Fresh Mart")


MANAGER_PIN = "135790"


def set_manager_pin(till: Page, url: str, pin: str) -> None:
    """In the dashboard: the first manager PIN takes the password."""
    till.goto(url + "/dashboard")
    form = till.locator("#d-pin-form")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Manager PIN (6 digits)").fill(pin)
    form.get_by_role("button", name="Save").click()
    expect(till.locator("#d-pin-out")).to_have_text("Manager PIN saved.")
    expect(form.get_by_label("Current manager PIN")).to_be_visible()  # changed with the old one
    till.goto(url + "/cashier")


def test_the_dashboard_shows_and_rotates_the_webhook_secret(server: Server, till: Page) -> None:
    open_stall(till, server.url, name="Secret Stall")
    till.goto(server.url + "/dashboard")
    secret = till.locator("#d-secret")
    expect(secret).to_have_text("whsec_••••••••")
    till.get_by_role("button", name="Show").click()
    expect(secret).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{32}$"))
    first = secret.inner_text()
    till.get_by_role("button", name="Rotate").click()
    expect(till.locator("#d-secret-out")).to_contain_text(
        "The previous secret also signs deliveries until"
    )
    expect(secret).not_to_have_text(first)
    expect(secret).to_have_text(re.compile(r"^whsec_"))


def test_with_a_manager_pin_the_secret_and_keys_ask_for_it(server: Server, till: Page) -> None:
    open_stall(till, server.url, name="Guarded Stall")
    set_manager_pin(till, server.url, MANAGER_PIN)
    till.goto(server.url + "/dashboard")
    secret = till.locator("#d-secret")
    expect(secret).to_have_text("whsec_••••••••")
    till.get_by_role("button", name="Show").click()
    expect(till.locator("#d-secret-out")).to_have_text("Enter the 6-digit manager PIN.")
    expect(secret).to_have_text("whsec_••••••••")
    till.locator("#d-wh-pin").fill(MANAGER_PIN)
    till.get_by_role("button", name="Show").click()
    expect(secret).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{32}$"))
    expect(till.locator("#d-wh-pin")).to_have_value("")  # asked for again next time
    first = secret.inner_text()
    till.locator("#d-wh-pin").fill(MANAGER_PIN)
    till.get_by_role("button", name="Rotate").click()
    expect(till.locator("#d-secret-out")).to_contain_text(
        "The previous secret also signs deliveries until"
    )
    expect(secret).not_to_have_text(first)
    key = base64.b64encode(signing.public_key_bytes(signing.new_private_key())).decode()
    till.locator("#d-key").fill(key)
    till.locator("#d-key-form").get_by_role("button", name="Save").click()
    expect(till.locator("#d-key-out")).to_have_text("Enter the 6-digit manager PIN.")
    till.locator("#d-key-pin").fill(MANAGER_PIN)
    till.locator("#d-key-form").get_by_role("button", name="Save").click()
    expect(till.locator("#d-key-out")).to_have_text("Saved.")
    expect(till.locator("#d-keys li").filter(has_text=key)).to_have_count(1)


def test_refund_from_the_cashier_appears_on_the_payers_receipt(
    server: Server, till: Page, wallet: Page
) -> None:
    open_stall(till, server.url)
    set_manager_pin(till, server.url, MANAGER_PIN)
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "60")
    type_amount(till, "45")
    till.get_by_role("button", name="Show code").click()
    scan_by_paste(wallet, read_code(till, "#c-order-qr"))
    confirm_with_pin(wallet)
    expect(till.locator("#c-paid-title")).to_have_text("Received ¥45.00")
    till.get_by_role("button", name="Next sale").click()

    till.locator("#c-recent li").first.get_by_role("button", name="Refund").click()
    dialog = till.get_by_role("dialog")
    expect(dialog).to_contain_text("Refund ¥45.00: the payer gets ¥45.00 back.")
    dialog.get_by_label("Amount (¥)").fill("15")
    expect(dialog).to_contain_text("Refund ¥15.00: the payer gets ¥15.00 back.")
    # The till is signed in with the password: a refund takes the manager PIN too.
    dialog.get_by_role("button", name="Refund").click()
    expect(dialog.locator("#c-refund-out")).to_have_text("Enter the 6-digit manager PIN.")
    dialog.get_by_label("Manager PIN (6 digits)").fill("000000")
    dialog.get_by_role("button", name="Refund").click()
    expect(dialog.locator("#c-refund-out")).to_have_text("Wrong manager PIN. Try again.")
    expect(till.locator("#c-recent li").first).not_to_contain_text("got")
    dialog.get_by_label("Manager PIN (6 digits)").fill(MANAGER_PIN)
    dialog.get_by_role("button", name="Refund").click()
    expect(till.locator("#toast")).to_have_text("Refunded ¥15.00.")
    expect(till.locator("#c-recent li").first).to_contain_text("Payer got ¥15.00 back")

    wallet.get_by_role("button", name="Done").click()
    expect(wallet.locator("#balance")).to_have_text("¥30.00")
    wallet.get_by_role("button", name="History").click()
    wallet.locator("#history li").first.get_by_role("button", name="Receipt").click()
    receipt = wallet.locator("#receipt")
    expect(receipt).to_contain_text("Old Chen Noodles")
    expect(receipt).to_contain_text("¥45.00")
    expect(receipt).to_contain_text("Refunds")
    expect(receipt).to_contain_text("¥15.00")


def test_deposit_hold_then_capture_part(
    server: Server, till: Page, wallet: Page, shots: Path
) -> None:
    open_stall(till, server.url, name="Shekou Bikes")
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "120")
    type_amount(till, "99")
    till.get_by_role("button", name="Deposit (hold)").click()
    expect(till.locator("#c-deposit-title")).to_have_text(
        "Ask the customer to scan: deposit of ¥99.00"
    )
    scan_by_paste(wallet, read_code(till, "#c-deposit-box svg"))
    expect(wallet.locator("#confirm-title")).to_have_text("Shekou Bikes asks to reserve")
    expect(wallet.locator("#confirm-details")).to_contain_text("reserved until")
    confirm_with_pin(wallet, button="Allow the hold")
    expect(wallet.locator("#done-title")).to_have_text("¥99.00 reserved for Shekou Bikes")
    wallet.get_by_role("button", name="Done").click()
    expect(wallet.locator("#reserved")).to_have_text("Reserved by holds: ¥99.00")

    expect(till.locator("#c-deposit-title")).to_contain_text("Deposit of ¥99.00 held until")
    shot(till, shots, "cashier-deposit")
    till.locator("#c-capture-form").get_by_label("Amount (¥)").fill("3.5")
    till.get_by_role("button", name="Take").click()
    expect(till.locator("#c-deposit-out")).to_have_text("Took ¥3.50; the rest was released.")
    wallet.reload()
    expect(wallet.locator("#balance")).to_have_text("¥116.50")
    expect(wallet.locator("#reserved")).to_be_hidden()
    wallet.get_by_role("button", name="History").click()
    expect(wallet.locator("#holds")).to_contain_text("taken")


def test_language_follows_the_browser_and_can_be_switched(server: Server, browser: Any) -> None:
    ctx, page = new_page(browser, locale="zh-CN", **phone())
    try:
        sign_up_url = server.url + "/wallet"
        page.goto(sign_up_url)
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.reload()  # the choice is remembered
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_role("button", name="中文").click()
        form = page.locator("#signin-form")
        form.get_by_label("手机号或邮箱").fill("+8613900000000")
        form.get_by_label("密码").fill("wrong password")
        form.get_by_role("button", name="登录").click()
        expect(page.get_by_role("alert")).to_have_text("账号或密码错误。")
    finally:
        ctx.close()


def test_each_page_signs_in_its_own_kind_of_user(server: Server, browser: Any) -> None:
    """The wallet signs in a payer; the cashier and the dashboard sign in the stall owner."""
    shop = new_merchant(server, name="Sign-in Noodles")
    payer = new_consumer(server)
    for path, login, prefix, shown in (
        ("/wallet", payer.login, "#si", "#balance"),
        ("/cashier", shop.login, "#cs", "#c-display"),
        ("/dashboard", shop.login, "#ds", "#d-name"),
    ):
        ctx, page = new_page(browser, **phone())
        try:
            page.goto(server.url + path)
            page.locator(f"{prefix}-login").fill(login)
            page.locator(f"{prefix}-password").fill("not the password")
            page.locator(f"{prefix}-password").press("Enter")
            expect(page.get_by_role("alert").first).to_be_visible()
            expect(page.locator(shown)).to_be_hidden()
            page.locator(f"{prefix}-password").fill(PASSWORD)
            page.locator(f"{prefix}-password").press("Enter")
            expect(page.locator(shown)).to_be_visible()
            assert page.errors == []  # type: ignore[attr-defined]
        finally:
            ctx.close()


def test_pages_use_nothing_from_the_internet(server: Server) -> None:
    for path in ("/", "/wallet", "/cashier", "/dashboard"):
        page = httpx.get(server.url + path)
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert src.startswith(("/", "#")), f"{path} loads {src}"
            if src.startswith("/static/"):
                assert httpx.get(server.url + src).status_code == 200, src
    assert httpx.get(server.url + "/static/../pyproject.toml").status_code == 404
    # Demo sign-in exists only in demo mode.
    assert (
        httpx.post(
            server.url + "/web/demo-sessions", json={"kind": "consumer", "login": "x"}
        ).status_code
        == 404
    )


def test_the_scan_shows_the_discount_and_charges_exactly_that(server: Server, wallet: Page) -> None:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    regular = new_consumer(server, balance=50_000)
    regular.client.pay_static(shop.id, 20_000, PIN)  # takings that fund the budget
    shop.client.request(
        "POST",
        "/v1/campaigns",
        {"name": "¥5 off lunch", "kind": "amount_off", "amount_off": 500, "budget": 500},
    )
    static_code = shop.client.me()["static_code"]["qr_payload"]
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "40")
    scan_by_paste(wallet, static_code)
    wallet.locator("#confirm-form").get_by_label("Amount (¥)").fill("30")
    offer = wallet.locator("#confirm-offer")
    expect(offer).to_have_text("¥5 off lunch: ¥5.00 off — you pay ¥25.00")
    confirm_with_pin(wallet)
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥25.00 to Nanshan Fresh Mart")
    wallet.get_by_role("button", name="Done").click()
    expect(wallet.locator("#balance")).to_have_text("¥15.00")
    # The budget is spent: once the campaigns' totals are read again (each second), the
    # next scan offers nothing and charges the full price.
    wallet.wait_for_timeout(1100)
    scan_by_paste(wallet, static_code)
    wallet.locator("#confirm-form").get_by_label("Amount (¥)").fill("10")
    wallet.wait_for_timeout(600)  # the quote after typing
    expect(offer).to_be_hidden()


def test_the_payment_code_works_with_the_phone_offline(
    server: Server, till: Page, wallet: Page
) -> None:
    open_stall(till, server.url, name="Nanshan Fresh Mart")
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "30")
    set_no_pin_limit(wallet, "20", "50")
    wallet.get_by_role("button", name="Pay", exact=True).click()  # enrols this device
    expect(wallet.locator("#paycode-box svg.qr")).to_be_visible()
    assert wallet.evaluate("navigator.serviceWorker.ready.then(() => true)")

    wallet.context.set_offline(True)
    wallet.reload()  # the page itself comes from the service worker's cache
    expect(wallet.locator("#offline")).to_contain_text("Offline: your payment code")
    wallet.get_by_role("button", name="Pay", exact=True).click()
    code = read_code(wallet, "#paycode-box svg.qr")

    type_amount(till, "9")
    till.get_by_role("button", name="Scan payer's code").click()
    till.get_by_label("Payer's payment code").fill(code)
    till.get_by_label("Payer's payment code").press("Enter")
    expect(till.locator("#c-paid-title")).to_have_text("Received ¥9.00")

    wallet.context.set_offline(False)
    expect(wallet.locator("#paycode-box svg.qr")).to_be_visible()  # still on the code
    wallet.get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥21.00")
    expect(wallet.locator("#offline")).to_be_hidden()
