"""The till's screens on a 1024×768 tablet: an expired code, and the recent payments at a glance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from saoma.core.ids import now_us
from saoma.db import write
from support import PIN, Server, engine_of, new_merchant
from support_till import axe_violations, payer_named, sign_in_till
from support_web import new_page, phone, read_code, type_amount


@pytest.fixture
def tablet(browser: Any) -> Iterator[Page]:
    context, page = new_page(browser, bypass_csp=True, **phone("tablet"))
    yield page
    context.close()


def tap_target(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44, box


def test_an_expired_code_is_replaced_by_an_expired_state_and_a_new_code(
    server: Server, tablet: Page
) -> None:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    payer = payer_named(server, "张敏", 5_000)
    sign_in_till(tablet, server, shop)
    type_amount(tablet, "12")
    tablet.get_by_role("button", name="Show code").click()
    stale = read_code(tablet, "#c-order-qr")
    with write(engine_of(server.database_url)) as conn:  # five minutes pass
        conn.execute(
            text("UPDATE orders SET expires_at_us = :now WHERE merchant_id = :m"),
            {"now": now_us(), "m": shop.id},
        )
    expect(tablet.locator("#c-code-box")).to_have_text("Expired — this code can no longer be paid")
    expect(tablet.locator("#c-order-qr")).to_have_count(0)
    expect(tablet.get_by_role("status")).to_have_text("The code expired; start again.")
    renew = tablet.get_by_role("button", name="New code for ¥12.00")
    expect(renew).to_be_focused()
    tap_target(tablet, "#c-code-renew")
    assert axe_violations(tablet) == []
    assert payer.client.preview(stale)["state"] == "expired"

    renew.click()
    fresh = read_code(tablet, "#c-order-qr")
    assert fresh != stale
    expect(tablet.get_by_role("status")).to_have_text("Waiting for payment…")
    expect(renew).to_be_hidden()
    payer.client.pay_order(payer.client.preview(fresh)["order_id"], PIN)
    expect(tablet.locator("#c-paid-title")).to_have_text("Received ¥12.00")
    tap_target(tablet, "#c-next")
    assert tablet.errors == []  # type: ignore[attr-defined]


def test_recent_payments_with_payer_and_note_are_in_view_on_a_tablet(
    server: Server, tablet: Page
) -> None:
    shop = new_merchant(server, name="Nanshan Fresh Mart")
    payer = payer_named(server, "张敏", 5_000)
    for n, note in enumerate(("apples", "pears", "plums"), start=1):
        payer.client.pay_static(shop.id, n * 100, PIN, note=note)
    sign_in_till(tablet, server, shop)
    rows = tablet.locator("#c-recent li")
    expect(rows).to_have_count(3)
    for row, (amount, note) in zip(
        rows.all(), (("¥3.00", "plums"), ("¥2.00", "pears"), ("¥1.00", "apples")), strict=True
    ):
        expect(row).to_contain_text(amount)
        expect(row).to_contain_text("*敏")
        expect(row).to_contain_text(note)
        box = row.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 768, box
        tap_target(tablet, "#c-recent li:first-child button")
    assert tablet.evaluate("window.scrollY") == 0
    for key in ("1", "back", "#c-show"):  # the keypad and its button too, on the same screen
        selector = key if key.startswith("#") else f"[data-key='{key}']"
        box = tablet.locator(selector).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 768, (key, box)
    assert axe_violations(tablet) == []
