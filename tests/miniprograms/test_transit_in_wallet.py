"""The monthly transit pass inside the wallet, in a real browser: Saoma's server and the pass's
own server on its own origin (http://localhost:<port>), which asks for a monthly mandate
through the signed merchant API, naming the rider by their access token.

What a rider would check: they subscribe by agreeing with the PIN in the wallet's own sheet,
which shows what they agree to; the pass is active and its first month is debited once its
notice is a day old; the mandate is in the wallet's Mandates screen, where revoking it ends the
pass at once and the operator's next debit is refused. And what a reviewer would check: the
bridge shows no sheet for another payer's or another merchant's mandate.

The server runs on the real clock, so "a day after the notice" is made by dating the notice a
day earlier in the database (as a day's wait would leave it)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Frame, Page, expect
from sqlalchemy import text

from saoma.client import SaomaError
from support import Server, Shop, engine_of, free_port, new_consumer, new_merchant
from support_web import PIN, sign_up_consumer, top_up

from .conftest import approve, register, serve_local, start_demo_app

NAME = "Shenzhen Transit Pass"
SHENZHEN = ZoneInfo("Asia/Shanghai")  # the server's zone (SAOMA_TIMEZONE's default)
DAY_US = 24 * 3600 * 1_000_000


@dataclass
class World:
    saoma: Server
    shop: Shop  # the transit operator: its server signs with this merchant's key
    origin: str


pytestmark = pytest.mark.usefixtures("patient")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("transit")
    for saoma in serve_local("sqlite", tmp):
        shop = new_merchant(saoma, name=NAME)
        port = free_port()
        origin = f"http://localhost:{port}"
        registered = register(shop, origin, name=NAME, name_zh="深圳交通月票")
        done = approve(saoma, registered["id"])
        assert done.returncode == 0, done.stdout + done.stderr
        transit = start_demo_app("transit", saoma, shop, port, tmp)
        try:
            yield World(saoma, shop, origin)
        finally:
            transit.terminate()
            transit.wait(timeout=10)


def open_transit(page: Page, world: World, *, money: str = "", sign_up: bool = True) -> Frame:
    """Services → Shenzhen Transit Pass (a new payer first, unless ``sign_up`` is False)."""
    if sign_up:
        sign_up_consumer(page, world.saoma.url)
    if money:
        top_up(page, money)
    page.get_by_role("button", name="Services").click()
    page.locator("#mini-list").get_by_role("button", name=NAME).click()
    transit = page.frame_locator("iframe.mini-frame")
    expect(transit.get_by_role("button", name="Sign in with Saoma")).to_be_enabled()
    return next(f for f in page.frames if f.url.startswith(world.origin))


def sign_in(wallet: Page) -> None:
    transit = wallet.frame_locator("iframe.mini-frame")
    transit.get_by_role("button", name="Sign in with Saoma").click()
    wallet.locator("#mini-sheet").get_by_role("button", name="Agree").click()
    expect(transit.locator("#hello")).to_have_text("Hello, *Wei.")


def bridge(frame: Frame, method: str, *args: Any) -> Any:
    """A bridge call from the pass's page, and its answer (the call's promise, awaited)."""
    return frame.evaluate("([m, a]) => SaomaBridge[m](...a)", [method, list(args)])


def dated_back(world: World, notice_id: str) -> None:
    """The notice as it stands a day and an hour after it was sent."""
    with engine_of(world.saoma.database_url).begin() as conn:
        conn.execute(
            text(
                "UPDATE mandate_notices SET created_at_us = created_at_us - :d,"
                " due_at_us = due_at_us - :d, expires_at_us = expires_at_us - :d WHERE id = :id"
            ),
            {"d": DAY_US + 3600 * 1_000_000, "id": notice_id},
        )


def subscribe(wallet: Page, shots: Path | None = None) -> None:
    """Subscribe to the metro pass and agree with the PIN in the wallet's sheet."""
    transit = wallet.frame_locator("iframe.mini-frame")
    sheet = wallet.locator("#mini-sheet")
    transit.get_by_role("button", name="Subscribe").click()
    expect(sheet).to_contain_text(f"{NAME} asks you to let {NAME} debit you regularly")
    expect(wallet.locator("#ms-amount")).to_have_text("¥150.00")
    expect(sheet).to_contain_text("Shenzhen Metro monthly pass, monthly")
    terms = wallet.locator("#ms-terms")
    expect(terms).to_contain_text("At most ¥150.00 a debit")
    expect(terms).to_contain_text("once a month at most")
    expect(terms).to_contain_text(f"Debited by {NAME}")
    expect(terms).to_contain_text("A notice comes a day before each debit.")
    if shots is not None:
        wallet.screenshot(path=str(shots / "mini-transit-pass.png"))
    wallet.locator("#ms-pin").fill(PIN)
    expect(sheet).to_be_hidden()
    expect(transit.locator("#pass-state")).to_have_text("active")


def test_a_pass_from_subscription_to_revocation_in_the_wallet(
    world: World, wallet: Page, shots: Path
) -> None:
    open_transit(wallet, world, money="300")
    transit = wallet.frame_locator("iframe.mini-frame")
    sign_in(wallet)
    subscribe(wallet, shots)
    expect(transit.locator("#notice")).to_contain_text("Notice sent: ¥150.00 will be debited from")
    (mandate,) = [
        m
        for m in wallet.evaluate("fetch('/v1/me/mandates').then((r) => r.json())")["data"]
        if m["merchant"]["id"] == world.shop.id
    ]
    assert (mandate["state"], mandate["amount_max"], mandate["frequency"]) == (
        "active",
        15_000,
        "monthly",
    )
    (first,) = mandate["notices"]

    # A day later the operator's server makes the first month's debit, as the rules allow.
    dated_back(world, first["id"])
    transit.get_by_role("button", name="Check my pass").click()
    month_end = _month_end(datetime.now(SHENZHEN).date())
    expect(transit.locator("#paid")).to_have_text(f"Paid through {month_end} (1 month paid).")
    # The operator's next notice, a day old (as its server would send it, next month).
    second = world.shop.client.announce_debit(mandate["id"], 15_000)["id"]
    dated_back(world, second)

    wallet.get_by_role("button", name="Close").click()
    wallet.locator("#v-services").get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥150.00")
    wallet.get_by_role("button", name="Mandates").click()
    item = wallet.locator("#md-list .md-item").first
    expect(item).to_contain_text(NAME)
    expect(item).to_contain_text("Shenzhen Metro monthly pass, monthly")
    expect(item.locator(".md-state")).to_have_text("active")
    item.get_by_role("button", name="Revoke").click()
    expect(wallet.locator("#md-list .md-item").first.locator(".md-state")).to_have_text("revoked")

    wallet.locator("#v-mandates").get_by_role("button", name="Back").click()
    open_transit(wallet, world, sign_up=False)
    sign_in(wallet)
    expect(transit.locator("#pass-state")).to_have_text("ended")
    expect(transit.locator("#paid")).to_contain_text("the mandate was revoked in your wallet")
    expect(transit.get_by_role("button", name="Cancel pass")).to_be_hidden()

    # The operator's server tries the next debit anyway: refused, and nothing moves.
    with pytest.raises(SaomaError) as refused:
        world.shop.client.debit_mandate(
            mandate["id"], second, 15_000, idempotency_key=secrets.token_hex(8)
        )
    assert (refused.value.status, refused.value.slug) == (409, "mandate-revoked")
    me = wallet.evaluate("fetch('/v1/me').then((r) => r.json())")
    assert me["balance"] == 15_000
    assert wallet.errors == []  # type: ignore[attr-defined]


def _month_end(day: Any) -> str:
    following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return str((following - timedelta(days=1)).isoformat())


def test_cancelling_the_pass_stops_the_operators_renewals_and_points_to_the_wallet(
    world: World, wallet: Page
) -> None:
    open_transit(wallet, world, money="200")
    transit = wallet.frame_locator("iframe.mini-frame")
    sign_in(wallet)
    subscribe(wallet)
    transit.get_by_role("button", name="Cancel pass").click()
    expect(transit.locator("#out")).to_contain_text(
        "You can also revoke the mandate at any time in your wallet's Mandates screen"
    )
    expect(transit.locator("#pass-state")).to_have_text("cancelled")


def test_the_bridge_refuses_a_mandate_of_another_payer_or_another_merchant(
    world: World, wallet: Page
) -> None:
    frame = open_transit(wallet, world)
    sheet = wallet.locator("#mini-sheet")
    me = wallet.evaluate("fetch('/v1/me').then((r) => r.json())")["id"]
    today = datetime.now(SHENZHEN).date()
    terms = {
        "purpose": "Gym membership",
        "amount_max": 5_000,
        "frequency": "monthly",
        "start_on": today.isoformat(),
        "end_on": (today + timedelta(days=90)).isoformat(),
    }
    other = new_merchant(world.saoma, name="Someone Else")
    theirs = other.client.request_mandate(me, f"X-{secrets.token_hex(4)}", **terms)
    refused = {"ok": False, "error": "mandate-not-of-service"}
    assert bridge(frame, "requestMandate", theirs["id"]) == refused
    expect(sheet).to_be_hidden()

    someone = new_consumer(world.saoma)
    not_mine = world.shop.client.request_mandate(someone.id, f"X-{secrets.token_hex(4)}", **terms)
    assert bridge(frame, "requestMandate", not_mine["id"]) == {"ok": False, "error": "not-found"}
    assert bridge(frame, "requestMandate", "../v1/me") == {"ok": False, "error": "invalid-request"}
    expect(sheet).to_be_hidden()
    assert other.client.get_mandate(theirs["id"])["state"] == "requested"
    assert world.shop.client.get_mandate(not_mine["id"])["state"] == "requested"
