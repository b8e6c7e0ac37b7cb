"""Issue 21, "Wrong today", in the wallet: each as the payer sees it, on both databases."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from saoma.qr import images
from support import Server, new_merchant
from support_web import (
    PASSWORD,
    PIN,
    confirm_with_pin,
    new_page,
    open_stall,
    phone,
    read_code,
    scan_by_paste,
    sign_up_consumer,
    top_up,
    type_amount,
)
from support_web import axe_violations as violations

REFUSED = "That is not a Saoma payment code."


@pytest.fixture
def wallet(browser: Any) -> Iterator[Page]:
    """A consumer's phone whose pages axe-core can be run on."""
    context, page = new_page(browser, bypass_csp=True, **phone())
    yield page
    context.close()


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
    assert violations(wallet) == []

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
    assert violations(wallet) == []

    till.locator("#c-capture-form").get_by_label("Amount (¥)").fill("2")
    till.get_by_role("button", name="Take").click()
    expect(till.locator("#c-deposit-out")).to_have_text("Took ¥2.00; the rest was released.")
    # Without a reload: the wallet hears the capture and shows the money as it is now.
    expect(wallet.locator("#balance")).to_have_text("¥98.00")
    expect(wallet.locator("#reserved")).to_be_hidden()
    assert wallet.errors == []  # type: ignore[attr-defined]


def test_history_offline_says_so_shows_what_was_loaded_and_retries_when_back(
    server: Server, wallet: Page
) -> None:
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "50")
    # From here on the page is signed in and nothing is refused: no error may reach the console,
    # save Chromium's own line for the live-event connection the network cut under it.
    cut = "Failed to load resource: net::ERR_INTERNET_DISCONNECTED"
    console_errors: list[str] = []
    wallet.on(
        "console",
        lambda m: console_errors.append(m.text) if m.type == "error" and m.text != cut else None,
    )
    notice = wallet.locator("#history-out")
    history = wallet.locator("#history")

    # Nothing loaded yet: the page says the payer is offline, not a blank list.
    wallet.context.set_offline(True)
    wallet.get_by_role("button", name="History").click()
    expect(notice).to_have_text("You are offline. Your history shows when you are back online.")
    wallet.context.set_offline(False)  # back online: it loads by itself
    expect(notice).to_be_hidden()
    expect(history).to_contain_text("Top-up")  # the ¥50 topped up is the first row
    expect(history).to_contain_text("+¥50.00")
    wallet.get_by_role("button", name="Back").last.click()

    shop = new_merchant(server, name="Shekou Noodles")
    order = shop.client.create_order(f"o-{shop.id[-6:]}", 1_200)
    scan_by_paste(wallet, order["qr_payload"])
    confirm_with_pin(wallet)
    expect(wallet.locator("#done-title")).to_have_text("Paid ¥12.00 to Shekou Noodles")
    wallet.get_by_role("button", name="Done").click()
    wallet.get_by_role("button", name="History").click()
    expect(history).to_contain_text("Shekou Noodles")
    wallet.locator("#v-history").get_by_role("button", name="Back").click()

    # Loaded before, then offline: what was loaded stays on the screen, with the notice.
    wallet.context.set_offline(True)
    wallet.get_by_role("button", name="History").click()
    expect(notice).to_have_text(
        "You are offline — showing what was loaded before. It updates when you are back online."
    )
    expect(history).to_contain_text("Shekou Noodles")
    expect(history).to_contain_text("¥12.00")
    assert violations(wallet) == []
    wallet.context.set_offline(False)
    expect(notice).to_be_hidden()
    expect(history).to_contain_text("Shekou Noodles")
    assert wallet.errors == []  # type: ignore[attr-defined]
    assert console_errors == []


def test_a_mainland_number_signs_up_and_in_in_chinese_with_the_rules_shown_first(
    server: Server, browser: Any
) -> None:
    context, page = new_page(browser, locale="zh-CN", bypass_csp=True, **phone())
    try:
        number = f"139{secrets.randbelow(10**8):08d}"  # as people type it: 11 digits, no +86
        page.goto(server.url + "/wallet")
        page.locator("#to-signup").click()
        form = page.locator("#signup-form")
        # The rules are on the screen before anything is submitted.
        expect(form).to_contain_text("手机号（11位，或带+国家代码）或电子邮箱。")
        expect(form).to_contain_text("登录密码至少8个字符。")
        expect(form).to_contain_text("确认每笔付款时输入的6位数字，请勿与登录密码相同。")
        pin = form.get_by_label("支付密码（6位数字）")
        expect(pin).to_have_attribute("type", "password")  # masked
        expect(pin).to_have_attribute("inputmode", "numeric")
        assert violations(page) == []
        form.get_by_label("你的名字").fill("张敏")
        form.get_by_label("手机号或邮箱").fill(number)
        form.get_by_label("登录密码").fill(PASSWORD)
        pin.fill(PIN)
        form.get_by_role("button", name="开通钱包").click()
        expect(page.locator("#vf-sent")).to_contain_text("+86" + number)
        page.locator("#verify-form").get_by_role("button", name="稍后").click()
        expect(page.locator("#balance")).to_have_text("¥0.00")

        page.locator("#v-home").get_by_role("button", name="设置").click()
        page.locator("#sign-out").click()
        signin = page.locator("#signin-form")
        signin.get_by_label("手机号或邮箱").fill(f"{number[:3]} {number[3:7]} {number[7:]}")
        signin.get_by_label("登录密码").fill(PASSWORD)
        signin.get_by_role("button", name="登录").click()
        expect(page.locator("#balance")).to_have_text("¥0.00")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()


def test_refusals_and_states_are_sentences_in_the_pages_language(
    server: Server, wallet: Page
) -> None:
    sign_up_consumer(wallet, server.url)
    top_up(wallet, "30")
    wallet.get_by_role("button", name="Send").click()
    form = wallet.locator("#send-form")
    form.get_by_label("To (phone, e-mail or wallet id)").fill("hello")
    form.get_by_label("Amount (¥)").fill("1")
    form.get_by_role("button", name="Send").click()
    out = wallet.locator("#send-out")
    expect(out).to_have_text("Enter the person's mobile number, e-mail address or wallet id.")
    wallet.get_by_role("button", name="中文").click()
    form.get_by_role("button", name="转账").click()
    expect(out).to_have_text("请输入对方的手机号、邮箱或钱包号。")

    # Money to a number nobody has confirmed waits: the row says so in words, not "waiting".
    nobody = f"139{secrets.randbelow(10**8):08d}"
    form.get_by_label("收款人（手机号、邮箱或钱包号）").fill(nobody)
    form.get_by_role("button", name="转账").click()
    wallet.locator("#cf-pin").fill(PIN)  # the PIN pad sends at the sixth digit
    expect(wallet.locator("#done-details")).to_contain_text(nobody)
    wallet.get_by_role("button", name="完成").click()
    wallet.get_by_role("button", name="账单").click()
    expect(wallet.locator("#history")).to_contain_text("待领取")
    expect(wallet.locator("#history")).not_to_contain_text("waiting")
    assert wallet.errors == []  # type: ignore[attr-defined]
