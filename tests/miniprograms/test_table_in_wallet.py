"""Ordering at the table inside the wallet, in a real browser: Saoma's server, the robot
restaurant's own server on its own origin (http://localhost:<port>), its kitchen screen in
another browser.

What a diner and the restaurant would check: the meal from the table's code to "served", paid
once, exactly the menu's total, in the wallet's own sheet; the kitchen cooks only what Saoma
says is paid; a total that is not the menu's, or a claim on another table's order, is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from support import Server, Shop, free_port, new_consumer, new_merchant
from support_web import PIN, new_page, sign_up_consumer, top_up

from .conftest import approve, register, serve_local, start_demo_app

KITCHEN_KEY = "the-robots-kitchen-key"
NAME = "Nanshan Robot Kitchen"


@dataclass
class World:
    saoma: Server
    shop: Shop  # the restaurant: its server signs with this merchant's key
    origin: str

    def api(self, action: str, **body: Any) -> httpx.Response:
        """The restaurant's own API, as its pages call it."""
        return httpx.post(f"{self.origin}/api/{action}", json=body, timeout=10)


pytestmark = pytest.mark.usefixtures("patient")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("table")
    for saoma in serve_local("sqlite", tmp):
        shop = new_merchant(saoma, name=NAME)
        port = free_port()
        origin = f"http://localhost:{port}"
        done = approve(saoma, register(shop, origin, name=NAME, name_zh="南山机器人餐厅")["id"])
        assert done.returncode == 0, done.stdout + done.stderr
        table = start_demo_app("table", saoma, shop, port, tmp, kitchen_key=KITCHEN_KEY)
        try:
            yield World(saoma, shop, origin)
        finally:
            table.terminate()
            table.wait(timeout=10)


def order_two_dishes(wallet: Page, world: World) -> None:
    """A new diner, ¥200 in the wallet, signs in, scans table 12 and picks a plate of shrimp
    dumplings and two milk teas."""
    sign_up_consumer(wallet, world.saoma.url)
    top_up(wallet, "200")
    wallet.get_by_role("button", name="Services").click()
    wallet.locator("#mini-list").get_by_role("button", name=NAME).click()
    diner = wallet.frame_locator("iframe.mini-frame")
    sheet = wallet.locator("#mini-sheet")

    diner.get_by_role("button", name="Sign in with Saoma").click()
    expect(sheet).to_contain_text(f"{NAME} asks to know who you are")
    sheet.get_by_role("button", name="Agree").click()
    expect(diner.locator("#hello")).to_have_text("Hello, *Wei.")

    diner.get_by_role("button", name="Scan the table's code").click()
    expect(sheet).to_contain_text(f"Scan a code for {NAME}")
    sheet.get_by_label("Or paste a code").fill("saoma-table:12")
    sheet.get_by_role("button", name="Use this code").click()
    expect(diner.locator("#table")).to_have_text("12")

    expect(diner.locator("#menu li")).to_have_count(6)
    diner.get_by_role("button", name="Add Shrimp dumplings").click()
    for _ in range(2):
        diner.get_by_role("button", name="Add Silk-stocking milk tea").click()
    expect(diner.locator("#n-milk-tea")).to_have_text("2")


def test_a_meal_from_the_table_s_code_to_served(
    world: World, wallet: Page, browser: Any, shots: Path
) -> None:
    order_two_dishes(wallet, world)
    diner = wallet.frame_locator("iframe.mini-frame")
    sheet = wallet.locator("#mini-sheet")

    diner.get_by_role("button", name="Order and pay ¥36.00").click()
    expect(sheet).to_contain_text(f"{NAME} asks you to pay {NAME}")
    expect(wallet.locator("#ms-amount")).to_have_text("¥36.00")
    expect(sheet).to_contain_text("Table 12: 1 × Shrimp dumplings, 2 × Silk-stocking milk tea")
    diner.locator("#menu").evaluate("menu => menu.scrollIntoView()")  # behind the sheet
    wallet.screenshot(path=str(shots / "mini-table-order.png"))
    wallet.locator("#ms-pin").fill(PIN)
    expect(sheet).to_be_hidden()
    expect(diner.locator("#order-state")).to_have_text("paid, cooking")

    context, kitchen = new_page(browser)
    try:
        kitchen.goto(f"{world.origin}/kitchen#key={KITCHEN_KEY}")
        ticket = kitchen.locator("#tickets > li", has_text="Table 12")
        expect(ticket).to_contain_text("Table 12 · *Wei")
        expect(ticket).to_contain_text("¥36.00")
        expect(ticket.locator("li")).to_have_text(
            ["1 × Shrimp dumplings 虾饺", "2 × Silk-stocking milk tea 丝袜奶茶"]
        )
        order_id = ticket.get_attribute("data-order")
        ticket.get_by_role("button", name="Mark table 12 served").click()
        expect(ticket).to_contain_text("Served")
        assert kitchen.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
    expect(diner.locator("#order-state")).to_have_text("served")

    # Paid once, exactly the menu's total: out of the diner's wallet, into the restaurant's.
    wallet.get_by_role("button", name="Close").click()
    wallet.locator("#v-services").get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥164.00")
    assert world.shop.client.get_order(str(order_id))["state"] == "paid"
    received = [p for p in world.shop.client.payments()["data"] if p["order_id"] == order_id]
    assert [(p["amount"], p["payer"]) for p in received] == [(3_600, "*Wei")]
    assert wallet.errors == []  # type: ignore[attr-defined]


def test_a_wrong_total_or_another_table_s_order_is_refused(world: World) -> None:
    def seated(table: int) -> str:
        session: str = world.api("session").json()["session"]
        assert world.api("table", session=session, code=f"saoma-table:{table}").status_code == 200
        return session

    at_7, at_12 = seated(7), seated(12)
    two = [{"dish": "har-gow", "quantity": 1}, {"dish": "milk-tea", "quantity": 2}]
    cheap = world.api("order", session=at_7, lines=two, total=900)
    assert cheap.status_code == 400
    assert cheap.json() == {
        "error": "the total does not match the menu's (¥36.00)",
        "field": "total",
    }

    order_id = world.api("order", session=at_7, lines=two, total=3_600).json()["order_id"]
    assert world.shop.client.get_order(order_id)["amount"] == 3_600
    # Claimed paid before anyone paid: Saoma says no, the kitchen hears nothing.
    early = world.api("paid", session=at_7, order_id=order_id)
    assert (early.status_code, early.json()["field"]) == (409, "order_id")

    payer = new_consumer(world.saoma, balance=10_000)
    payer.client.pay_order(order_id, pin=PIN)
    theirs = world.api("paid", session=at_12, order_id=order_id)
    assert theirs.status_code == 403
    assert theirs.json() == {"error": "that order is another table's", "field": "order_id"}
    kitchen = world.api("kitchen", key=KITCHEN_KEY).json()["orders"]
    assert order_id not in [o["order_id"] for o in kitchen]
    assert world.api("kitchen", key="a-guess").status_code == 403

    ours = world.api("paid", session=at_7, order_id=order_id).json()
    assert ours["orders"][0]["state"] == "paid"
    (ticket,) = [
        o
        for o in world.api("kitchen", key=KITCHEN_KEY).json()["orders"]
        if o["order_id"] == order_id
    ]
    assert (ticket["table"], ticket["total"]) == ("7", 3_600)
