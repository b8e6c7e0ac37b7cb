"""The till announces every payment that arrives, whatever its kind, the way a sound box does.

The payments are made through the API while the till sits on its keypad: an order paid, a sticker
(static code) paid, a payer's payment code charged, a deposit captured. Each comes to the till on
its live event stream and is shown full screen, with the payer's masked name, and said aloud.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from saoma.paycode import codes
from support import PIN, Server, new_merchant, wait_for
from support_till import axe_violations, payer_named, sign_in_till
from support_web import new_page, phone


@pytest.fixture(params=["en", "zh"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tablet(browser: Any, lang: str) -> Iterator[Page]:
    context, page = new_page(
        browser, locale="zh-CN" if lang == "zh" else "en-US", bypass_csp=True, **phone("tablet")
    )
    yield page
    context.close()


def heard(page: Page) -> list[dict[str, str]]:
    return list(page.evaluate("window.__spoken"))


SAID = {
    "en": {3_550: "Received 35.50 yuan", 5: "Received 0.05 yuan", 100_200: "Received 1002 yuan",
           1_000: "Received 10 yuan"},
    "zh": {3_550: "收款三十五元五角", 5: "收款五分", 100_200: "收款一千零二元", 1_000: "收款十元"},
}  # fmt: skip
SHOWN = {"en": ("Received ¥{}", "From *敏"), "zh": ("收款 ¥{}", "付款人 *敏")}


def test_every_kind_of_payment_is_shown_full_screen_and_said_aloud(
    server: Server, tablet: Page, lang: str
) -> None:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    payer = payer_named(server, "张敏", 200_000)
    sign_in_till(tablet, server, shop)
    title, from_payer = SHOWN[lang]
    voice = "zh-CN" if lang == "zh" else "en-US"

    def arrives(amount: int, pay: Any) -> None:
        if tablet.locator("#c-paid").is_visible():
            tablet.locator("#c-next").click()
        pay()
        yuan = f"{amount // 100}.{amount % 100:02d}"
        expect(tablet.locator("#c-paid-title")).to_have_text(title.format(yuan))
        expect(tablet.locator("#c-paid-payer")).to_have_text(from_payer)
        said = {"text": SAID[lang][amount], "lang": voice}
        wait_for(lambda: heard(tablet)[-1:] == [said], what=f"the till to say {said}")

    # A sticker: the payer scans the printed static code and types the amount.
    arrives(5, lambda: payer.client.pay_static(shop.id, 5, PIN, note="tea"))
    expect(tablet.locator("#c-paid-details")).to_have_text("tea")
    assert axe_violations(tablet) == []

    # An order: paid from its code.
    order = shop.client.create_order(f"A-{secrets.token_hex(3)}", 3_550)
    arrives(3_550, lambda: payer.client.pay_order(order["id"], PIN))

    # A payer's payment code, confirmed on the phone with the PIN.
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    code = codes.generate(base64.b64decode(device["secret"]), device["handles"][0], time.time())

    def charged() -> None:
        charge = shop.client.create_charge(code, 100_200, f"C-{secrets.token_hex(3)}")
        payer.client.request("POST", f"/v1/me/charges/{charge['id']}/answer", {"pin": PIN})

    arrives(100_200, charged)

    # A deposit: held with the payer's consent, then ¥10 of it captured.
    hold = shop.client.create_hold(f"D-{secrets.token_hex(3)}", 3_000, description="bike")
    payer.client.consent_hold(hold["id"], PIN)
    arrives(1_000, lambda: shop.client.capture_hold(hold["id"], 1_000))

    assert len(heard(tablet)) == 4  # each payment said once
    tablet.locator("#c-next").click()
    expect(tablet.locator("#c-keypad")).to_be_visible()
    assert tablet.errors == []  # type: ignore[attr-defined]


CHINESE = {
    5: "五分", 1_000: "十元", 1_100: "十一元", 2_000: "二十元", 10_100: "一百零一元",
    100_200: "一千零二元", 1_000_000: "一万元", 10_000_050: "十万元五角", 3_550: "三十五元五角",
    105: "一元零五分", 10_001_000: "十万零一十元",
    123_456_789: "一百二十三万四千五百六十七元八角九分",
    1_000_000_000_000: "一百亿元", 100_000_001_00: "一亿零一元",
}  # fmt: skip
PLAIN = {5: "0.05", 1_000: "10", 3_550: "35.50", 100_200: "1002", 10_000_050: "100000.50"}


def test_the_sound_box_says_amounts_in_chinese_numerals_and_plain_yuan(
    server: Server, till: Page
) -> None:
    till.goto(server.url + "/cashier")
    said = till.evaluate(
        "(fens) => fens.map((f) => [chineseYuan(f), plainYuan(f)])", list(CHINESE) + list(PLAIN)
    )
    fens = list(CHINESE) + list(PLAIN)
    chinese = {f: s[0] for f, s in zip(fens, said, strict=True)}
    plain = {f: s[1] for f, s in zip(fens, said, strict=True)}
    assert {f: chinese[f] for f in CHINESE} == CHINESE
    assert {f: plain[f] for f in PLAIN} == PLAIN
