"""Issue 21, "Wrong today", in the wallet: each as the payer sees it, on both databases."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from saoma.qr import images
from support import Server
from support_web import sign_up_consumer

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
