"""States and kinds the API returns are words in the page's language in the wallet: a scanned order
or hold that can no longer be paid or allowed says why in a sentence, the holds and bills name
their states, never the API's English enum ("closed", "held", "voided"…) on a Chinese page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from saoma.payments import tables as pt
from support import PASSWORD, PIN, Server, engine_of, new_merchant
from support_wallet import axe_violations, small_targets, verified_payer
from support_web import new_page, phone, shot

HAN = re.compile(r"[\u4e00-\u9fff]")
# Every state or kind value the wallet's API answers can carry, as a whole word.
RAW = re.compile(
    r"\b(created|paid|closed|expired|requested|held|captured|voided|released|pending|waiting"
    r"|succeeded|failed|done|returned|refunded|partly_refunded|open|emptied|order|static|paycode"
    r"|capture|hold|transfer_out|transfer_in|top_up|withdrawal|red_packet_\w+)\b"
)


@pytest.fixture
def zh_wallet(browser: Any) -> Iterator[Page]:
    """A phone whose browser prefers Chinese: the wallet opens in Chinese."""
    context, page = new_page(browser, locale="zh-CN", bypass_csp=True, **phone())
    yield page
    context.close()


def sign_in(page: Page, server: Server, login: str) -> None:
    page.goto(server.url + "/wallet")
    page.locator("#si-login").fill(login)
    page.locator("#si-password").fill(PASSWORD)
    page.locator("#signin-form button[type=submit]").click()
    expect(page.locator("#v-home")).to_be_visible()
    expect(page.locator("#lang")).to_have_text("English")  # the page is in Chinese


def scan(page: Page, payload: str) -> None:
    page.locator("#v-home [data-go='v-scan']").click()
    page.locator("#scan-text").fill(payload)
    page.locator("#paste-form button[type=submit]").click()
    expect(page.locator("#v-confirm")).to_be_visible()


def home(page: Page) -> None:
    page.locator("#v-confirm [data-go='v-home']").click()
    expect(page.locator("#v-home")).to_be_visible()


def no_raw_words(text: str) -> None:
    text = re.sub(r"\b[a-z]+_[a-z0-9]{10,}\b", "", text)  # an id, as a receipt shows it
    assert HAN.search(text), text
    assert not RAW.search(text), f"a raw state on the Chinese page: {RAW.search(text)} in {text!r}"
    assert "_state_" not in text and "_" not in re.sub(r"\S+@\S+", "", text), text


def test_a_scanned_order_or_hold_that_is_gone_says_why_in_chinese(
    server: Server, zh_wallet: Page, shots: Path
) -> None:
    page = zh_wallet
    payer = verified_payer(server, "李伟", 50_000)
    shop = new_merchant(server, name="Nanshan Deposit Bikes")
    db = engine_of(server.database_url)

    def order(state: str) -> str:
        made = shop.client.create_order(f"o-{secrets.token_hex(4)}", 1_200)
        if state == "paid":
            payer.client.pay_order(made["id"], PIN)
        elif state == "closed":
            shop.client.close_order(made["id"])
        elif state == "expired":
            with db.begin() as conn:
                conn.execute(
                    update(pt.orders).where(pt.orders.c.id == made["id"]).values(expires_at_us=1)
                )
        return str(made["qr_payload"])

    def hold(state: str) -> str:
        made = shop.client.create_hold(f"bike-{secrets.token_hex(3)}", 9_900)
        if state != "requested":
            payer.client.consent_hold(made["id"], PIN)
        if state == "captured":
            shop.client.capture_hold(made["id"], 2_000)
        elif state == "voided":
            shop.client.void_hold(made["id"])
        elif state == "expired":
            with db.begin() as conn:
                conn.execute(
                    update(pt.preauths)
                    .where(pt.preauths.c.id == made["id"])
                    .values(expires_at_us=1)
                )
        return str(made["qr_payload"])

    sign_in(page, server, payer.login)
    said = {
        ("order", "paid"): "该订单已支付。",
        ("order", "closed"): "商家已取消该订单。",
        ("order", "expired"): "二维码已过期，请让商家重新出示。",
        ("hold", "held"): "您已同意过这笔预授权。",
        ("hold", "captured"): "该预授权已完成扣款。",
        ("hold", "voided"): "商家已撤销这笔预授权，无需再同意。",
        ("hold", "expired"): "预授权已过期并解冻。",
    }
    for (kind, state), sentence in said.items():
        scan(page, order(state) if kind == "order" else hold(state))
        expect(page.locator("#confirm-out")).to_have_text(sentence)
        expect(page.locator("#confirm-button")).to_be_disabled()
        no_raw_words(page.locator("#v-confirm").inner_text())
        if (kind, state) == ("hold", "voided"):
            assert axe_violations(page) == []
            assert small_targets(page) == []
            shot(page, shots, "wallet-hold-released-zh")
        home(page)

    # The holds and the bills name every state in Chinese too.
    page.locator("#v-home [data-go='v-history']").click()
    holds = page.locator("#holds li")
    expect(holds).to_have_count(4)  # held, captured, voided (released), expired
    tags = sorted(holds.locator(".tag").all_inner_texts())
    assert tags == sorted(["冻结中", "已扣款", "已解冻", "已过期解冻"])
    expect(page.locator("#history li").first).to_be_visible()
    no_raw_words(page.locator("#v-history").inner_text())
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_paid_order_opens_its_receipt_from_the_success_screen_in_chinese(
    server: Server, zh_wallet: Page
) -> None:
    page = zh_wallet
    payer = verified_payer(server, "李伟", 5_000)
    shop = new_merchant(server, name="Shekou Noodles")
    made = shop.client.create_order(f"o-{secrets.token_hex(4)}", 1_800)
    sign_in(page, server, payer.login)
    scan(page, made["qr_payload"])
    page.locator("#cf-pin").fill(PIN)
    expect(page.locator("#v-done")).to_be_visible()
    page.locator("#done-receipt").click()
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text("订单")  # the payment's kind, in words
    expect(receipt).to_contain_text("¥18.00")
    no_raw_words(page.locator("#v-receipt").inner_text())
    assert page.errors == []  # type: ignore[attr-defined]
