"""The wallet's bills after a day of every kind of movement, as the payer reads them (zh).

Names, not ids; filters by month and kind; a transfer's receipt; money arriving while the list is
open appears at once with the "到账" notice. On both databases, axe-clean, every tap target at
least 44 px.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from support import PASSWORD, Server
from support_bills import a_day_of_everything, transfer
from support_till import axe_violations
from support_web import new_page, phone, shot

SMALL_TARGETS = """(root) => [...document.querySelectorAll(root + ' :is(button, input, select, a)')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => [e.id || e.textContent.trim(), e.getBoundingClientRect()])
  .filter(([, r]) => r.width < 44 || r.height < 44)
  .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)"""


@pytest.fixture
def wallet_zh(browser: Any) -> Iterator[Page]:
    context, page = new_page(browser, bypass_csp=True, locale="zh-CN", **phone())
    yield page
    context.close()


def test_the_bills_after_a_day_of_every_kind_of_movement(
    server: Server, wallet_zh: Page, shots: Path
) -> None:
    day = a_day_of_everything(server)
    page = wallet_zh
    page.goto(server.url + "/wallet")
    page.locator("#si-login").fill(day.me.login)
    page.locator("#si-password").fill(PASSWORD)
    page.locator("#si-password").press("Enter")
    expect(page.locator("#balance")).to_be_visible()
    page.get_by_role("button", name="账单").click()
    bills = page.locator("#history")
    rows = bills.locator("li")
    expect(rows).to_have_count(17)  # every movement of the day, one row each
    for words in (
        "老陈面馆",  # the merchant's name, as the page's language has it
        "充值",
        "已退款 ¥4.50",  # of the ¥5 refunded, what came back to the payer (¥3 off at ¥30)
        "优惠 ¥3.00",
        "lunch",
        "押金扣款",
        "押金解冻",
        "转出",
        "转入",
        "转账退回（未领取）",
        "发红包",
        "领红包",
        "红包退回",
        "提现到银行卡",
        "*芳",  # the other person, masked: never a wallet id
    ):
        expect(bills).to_contain_text(words)
    expect(bills).not_to_contain_text(day.friend.id)
    expect(bills).not_to_contain_text("TILL-")  # a payment code's order number is the till's
    expect(bills).not_to_contain_text("waiting")
    assert axe_violations(page) == []
    assert page.evaluate(SMALL_TARGETS, "#v-history") == []
    shot(page, shots, "wallet-bills-zh")

    # By kind, then by month.
    page.get_by_label("类型").select_option(label="转账")
    expect(rows).to_have_count(4)  # to 王芳, to the number that never claimed it, back, from 王芳
    expect(bills).not_to_contain_text("老陈面馆")
    page.get_by_label("月份").fill("2001-01")
    expect(rows).to_have_count(1)
    expect(bills).to_have_text("暂无记录。")
    page.get_by_label("月份").fill(f"{datetime.now(ZoneInfo('Asia/Shanghai')):%Y-%m}")
    expect(rows).to_have_count(4)

    # A transfer's receipt: who, how much, the note.
    received = rows.filter(has_text="转入").filter(has_text="+¥8.00")
    received.get_by_role("button", name="收据").click()
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text("*芳")
    expect(receipt).to_contain_text("+¥8.00")
    expect(receipt).to_contain_text("thanks")
    expect(receipt).to_contain_text("已完成")
    assert axe_violations(page) == []
    page.locator("#v-receipt").get_by_role("button", name="返回").click()

    # Money arriving while the list is open: the row and the notice, without a reload.
    page.get_by_label("类型").select_option(label="全部")
    expect(rows).to_have_count(17)
    page.evaluate("window.stillTheSamePage = true")
    transfer(day.friend, day.me.id, 666, f"tea {secrets.token_hex(2)}")
    expect(page.locator("#bills-arrived")).to_have_text("到账 ¥6.66，来自 *芳。")
    expect(rows.first).to_contain_text("+¥6.66")
    expect(rows).to_have_count(18)
    assert page.evaluate("window.stillTheSamePage") is True
    assert axe_violations(page) == []
    assert page.errors == []  # type: ignore[attr-defined]
