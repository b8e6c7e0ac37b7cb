"""Offline, the payment code still works and every other screen says the phone is offline.

The wallet was opened once online and this phone turned on for payment codes; then the network
goes. The page comes from the service worker's cache, the Pay screen shows a fresh code made on the
phone from the device secret, and a till charges that code once back online. Every other screen has
the offline banner in the page's language, its actions turned off or saying that they wait for the
connection, and no raw error anywhere.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from support import PASSWORD, PIN, Server, new_merchant, wait_for
from support_wallet import axe_violations, small_targets, verified_payer
from support_web import new_page, phone, read_code, shot

BANNER = "您已离线：付款码仍可使用，其他操作需等待网络恢复。"
BANNER_PAY = "您已离线：此付款码仍可使用，请出示给收银员。"
WAITS = "您已离线：此操作需等待网络恢复，尚未发送。"
RAW = re.compile(r"HTTP|Failed to fetch|network|offline|Error|undefined|null", re.IGNORECASE)


@pytest.fixture
def zh_phone(browser: Any) -> Iterator[Page]:
    context, page = new_page(browser, locale="zh-CN", bypass_csp=True, **phone())
    yield page
    context.close()


def go(page: Page, view: str) -> None:
    page.locator(f"#v-home [data-go='{view}']").click()
    expect(page.locator(f"#{view}")).to_be_visible()


def back_home(page: Page, view: str) -> None:
    page.locator(f"#{view} [data-go='v-home']").click()
    expect(page.locator("#v-home")).to_be_visible()


def says_offline(page: Page, text: str = BANNER) -> None:
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline")).to_have_text(text)
    shown = page.locator("main").inner_text()
    assert not RAW.search(shown), f"raw text on the page: {RAW.search(shown)}"


def test_offline_the_payment_code_works_and_every_other_screen_says_so(
    server: Server, zh_phone: Page, shots: Path
) -> None:
    page = zh_phone
    payer = verified_payer(server, "李伟", 5_000)
    payer.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 2_000, "per_day": 5_000, "pin": PIN}
    )
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    page.goto(server.url + "/wallet")
    page.locator("#si-login").fill(payer.login)
    page.locator("#si-password").fill(PASSWORD)
    page.locator("#signin-form button[type=submit]").click()
    expect(page.locator("#balance")).to_have_text("¥50.00")
    expect(page.locator("#offline")).to_be_hidden()
    go(page, "v-paycode")  # turns payment codes on for this phone
    expect(page.locator("#paycode-box svg.qr")).to_be_visible()
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    back_home(page, "v-paycode")

    page.context.set_offline(True)
    page.reload()  # the page itself comes from the service worker's cache
    says_offline(page)
    expect(page.locator("#balance")).to_have_text("—")
    assert axe_violations(page) == []
    assert small_targets(page) == []
    shot(page, shots, "wallet-offline-banner-zh")

    # The Pay screen: a code made on the phone, and a banner saying it still works.
    go(page, "v-paycode")
    says_offline(page, BANNER_PAY)
    first = read_code(page, "#paycode-box svg.qr")
    assert re.fullmatch(r"28\d{16}", first)
    assert axe_violations(page) == []
    assert small_targets(page) == []
    shot(page, shots, "wallet-paycode-offline-zh")
    back_home(page, "v-paycode")

    # Scan: the code typed waits for the connection, nothing is read or paid.
    go(page, "v-scan")
    says_offline(page)
    page.locator("#scan-text").fill("https://example.cn/anything")
    expect(page.locator("#paste-form button[type=submit]")).to_be_disabled()
    page.locator("#scan-text").press("Enter")
    expect(page.locator("#v-scan")).to_be_visible()
    back_home(page, "v-scan")

    # Send: the button is off until the connection is back.
    go(page, "v-send")
    says_offline(page)
    page.locator("#sd-to").fill("13800001111")
    page.locator("#sd-amount").fill("5")
    expect(page.locator("#send-form button[type=submit]")).to_be_disabled()
    assert axe_violations(page) == []
    back_home(page, "v-send")

    # Red packet: the PIN pad's sixth digit says it waits, nothing is sent.
    go(page, "v-packet")
    says_offline(page)
    page.locator("#rp-amount").fill("5")
    page.locator("#rp-pin").press_sequentially(PIN)
    expect(page.locator("#packet-out")).to_have_text(WAITS)
    expect(page.locator("#packet-form .pin-box.filled")).to_have_count(0)
    back_home(page, "v-packet")

    # Top-up and withdrawal: off.
    for view, form in (("v-topup", "#topup-form"), ("v-withdraw", "#withdraw-form")):
        go(page, view)
        says_offline(page)
        expect(page.locator(f"{form} button[type=submit]")).to_be_disabled()
        back_home(page, view)

    # Bills: the banner, and the list says it loads once back online.
    go(page, "v-history")
    says_offline(page)
    expect(page.locator("#history-out")).to_contain_text("联网后")
    page.locator("#v-history [data-go='v-home']").click()

    # Back on the Pay screen: a fresh code, charged by the till once the phone is back online.
    go(page, "v-paycode")
    code = read_code(page, "#paycode-box svg.qr")
    assert re.fullmatch(r"28\d{16}", code)
    page.context.set_offline(False)
    expect(page.locator("#offline")).to_be_hidden()
    charge = shop.client.create_charge(code, 900, f"o-{secrets.token_hex(4)}")
    assert charge["state"] == "succeeded", charge
    wait_for(lambda: payer.client.me()["balance"] == 4_100, what="the charge to settle")
    back_home(page, "v-paycode")
    expect(page.locator("#balance")).to_have_text("¥41.00")
    expect(page.locator("#offline")).to_be_hidden()
    go(page, "v-send")
    expect(page.locator("#send-form button[type=submit]")).to_be_enabled()
    assert payer.client.request("GET", "/v1/me/bank-transfers")["data"][0]["direction"] == "topup"
    assert page.errors == []  # type: ignore[attr-defined]
