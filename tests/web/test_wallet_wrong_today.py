"""Issue 21, "Wrong today", in the wallet: each as the payer sees it, on both databases."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from saoma.qr import images
from support import Server
from support_web import (
    confirm_with_pin,
    open_stall,
    read_code,
    scan_by_paste,
    sign_up_consumer,
    top_up,
    type_amount,
)

REFUSED = "That is not a Saoma payment code."


def test_a_refused_code_stays_on_the_scan_screen_until_the_payer_changes_it(
    server: Server, wallet: Page, tmp_path: Path
) -> None:
    sign_up_consumer(wallet, server.url)
    wallet.get_by_role("button", name="Scan").click()
    typed = wallet.locator("#paste-form").get_by_label("Or paste a code")
    out = wallet.locator("#scan-out")

    typed.fill("hello world")
    with wallet.expect_response("**/v1/codes/preview"):
        wallet.get_by_role("button", name="Read").click()
    expect(out).to_have_text(REFUSED)
    expect(out).to_have_attribute("role", "alert")
    expect(typed).to_have_value("hello world")  # what the payer typed is still there to fix

    typed.press("End")
    typed.press("!")  # changing the text is what clears the refusal
    expect(out).to_be_hidden()
    expect(typed).to_have_value("hello world!")

    # The photo path: a QR code that is not a payment code is refused, and the refusal stays.
    photo = tmp_path / "not-a-payment.png"
    photo.write_bytes(images.png("hello world"))
    with wallet.expect_response("**/v1/codes/preview"):
        wallet.get_by_label("Choose or take a photo").set_input_files(str(photo))
    expect(out).to_have_text(REFUSED)
    expect(typed).to_have_value("hello world!")
    assert wallet.errors == []  # type: ignore[attr-defined]


def test_the_big_figure_is_what_can_be_spent_and_follows_holds_live(
    server: Server, till: Page, wallet: Page
) -> None:
    open_stall(till, server.url, name="Shekou Bikes")
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "100")
    type_amount(till, "30")
    till.get_by_role("button", name="Deposit (hold)").click()
    scan_by_paste(wallet, read_code(till, "#c-deposit-box svg"))
    confirm_with_pin(wallet, button="Allow the hold")
    wallet.get_by_role("button", name="Done").click()
    # ¥30 of the ¥100 is reserved: the payer can spend ¥70, and sees the ¥30 apart.
    expect(wallet.locator("#balance")).to_have_text("¥70.00")
    expect(wallet.locator("#reserved")).to_have_text("Reserved by holds: ¥30.00")

    till.locator("#c-capture-form").get_by_label("Amount (¥)").fill("2")
    till.get_by_role("button", name="Take").click()
    expect(till.locator("#c-deposit-out")).to_have_text("Took ¥2.00; the rest was released.")
    # Without a reload: the wallet hears the capture and shows the money as it is now.
    expect(wallet.locator("#balance")).to_have_text("¥98.00")
    expect(wallet.locator("#reserved")).to_be_hidden()
    assert wallet.errors == []  # type: ignore[attr-defined]
