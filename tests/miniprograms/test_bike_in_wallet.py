"""The shared bike inside the wallet, in a real browser: Saoma's server, the bike's own server on
its own origin (http://localhost:<port>, the wallet on http://127.0.0.1:<port>), and a page of a
third origin that tries to pass itself off as the bike.

What a payer and a security reviewer would check: the ride from scan to fare; that only the
bike's frame is heard, only its own merchant's orders are shown, the wallet's storage and
cookies stay out of its reach, and a revoked token stops working.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Frame, Page, expect

from saoma import signing
from support import Server, Shop, free_port, new_merchant, wait_until
from support_web import PIN, sign_up_consumer, top_up

from .conftest import ICON_SVG, approve, register, serve_local, start_demo_app

# The attacker's page: it posts a well-formed requestPayment to the wallet (window.top) and to
# the bike's page (its parent), and keeps whatever answers it gets.
ATTACKER = b"""<!doctype html><meta charset="utf-8"><title>not the bike</title><script>
window.got = [];
window.addEventListener("message", (e) => window.got.push(e.data));
const order = new URLSearchParams(location.search).get("order");
const ask = (id) => ({
  saoma: "bridge", v: 1, id, method: "requestPayment", params: { order_id: order } });
window.top.postMessage(ask("evil-top"), "*");
window.parent.postMessage(ask("evil-parent"), "*");
window.sent = true;
</script>"""


class _Attacker(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(ATTACKER)

    def log_message(self, *_: Any) -> None:
        pass


@dataclass
class World:
    saoma: Server
    shop: Shop  # the bike operator: its server signs with this merchant's key
    origin: str
    attacker: str


pytestmark = pytest.mark.usefixtures("patient")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bike")
    for saoma in serve_local("sqlite", tmp):
        shop = new_merchant(saoma, name="Shekou Bikes")
        port = free_port()
        origin = f"http://localhost:{port}"
        done = approve(saoma, register(shop, origin)["id"])
        assert done.returncode == 0, done.stdout + done.stderr
        bike = start_demo_app("bike", saoma, shop, port, tmp)
        attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
        threading.Thread(target=attacker.serve_forever, daemon=True).start()
        try:
            yield World(saoma, shop, origin, f"http://127.0.0.1:{attacker.server_port}")
        finally:
            attacker.shutdown()
            bike.terminate()
            bike.wait(timeout=10)


def open_bike(page: Page, world: World, *, money: str = "", shots: Path | None = None) -> Frame:
    """A new payer opens Services → Shekou Bikes; the bike's page, loaded in its frame (the
    Services list photographed into ``shots`` on the way)."""
    sign_up_consumer(page, world.saoma.url)
    if money:
        top_up(page, money)
    page.get_by_role("button", name="Services").click()
    if shots is not None:
        expect(page.locator("#mini-list")).to_contain_text("Shekou Bikes")
        page.screenshot(path=str(shots / "wallet-services.png"))
    page.locator("#mini-list").get_by_role("button", name="Shekou Bikes").click()
    expect(page.locator("iframe.mini-frame")).to_have_attribute(
        "sandbox", "allow-scripts allow-forms allow-same-origin"
    )
    bike = page.frame_locator("iframe.mini-frame")
    # The page's script enables the button once it and the wallet's bridge have loaded.
    expect(bike.get_by_role("button", name="Sign in with Saoma")).to_be_enabled()
    return next(f for f in page.frames if f.url.startswith(world.origin))


def frames_of(page: Page, origin: str) -> list[Frame]:
    """The page's frames from ``origin``, once one has loaded (the browser's events are read
    while Playwright waits, so the wait is Playwright's own)."""
    found: list[Frame] = []

    def loaded() -> bool:
        page.wait_for_load_state()
        found[:] = [f for f in page.frames if f.url.startswith(origin)]
        return bool(found)

    wait_until(loaded, timeout_s=30, what=f"a frame from {origin}")
    return found


def ask(frame: Frame, call: str, *args: Any) -> None:
    """Start a bridge call in the bike's page; its answer lands in ``window.answer``."""
    frame.evaluate(
        "([call, args]) => { window.answer = undefined;"
        " SaomaBridge[call](...args).then((r) => { window.answer = r; }); }",
        [call, list(args)],
    )


def until(frame: Frame, expression: str) -> None:
    """Until ``expression`` is true in ``frame``, asked from here: Playwright's own
    ``wait_for_function`` compiles its predicate with eval once it has to poll, and a
    mini-program's page forbids eval (its CSP), so on a slow day that wait itself failed."""
    wait_until(lambda: frame.evaluate(expression) is True, what=expression)


def answer(frame: Frame) -> Any:
    until(frame, "window.answer !== undefined")
    return frame.evaluate("window.answer")


def userinfo(world: World, token: str) -> httpx.Response:
    path = "/v1/mini/userinfo"
    client = world.shop.client
    headers = signing.sign_request(
        client.private_key, client.key_id, "GET", path, b"", timestamp=int(time.time())
    )
    return client.http.get(path, headers=headers | {"authorization": f"Bearer {token}"})


def test_a_ride_from_scan_to_fare(world: World, wallet: Page, shots: Path) -> None:
    open_bike(wallet, world, money="200", shots=shots)
    bike = wallet.frame_locator("iframe.mini-frame")
    sheet = wallet.locator("#mini-sheet")

    bike.get_by_role("button", name="Sign in with Saoma").click()
    expect(sheet).to_contain_text("Shekou Bikes asks to know who you are")
    expect(sheet).to_contain_text("Your name, masked: *Wei")
    sheet.get_by_role("button", name="Agree").click()
    expect(bike.locator("#hello")).to_have_text("Hello, *Wei.")

    bike.get_by_role("button", name="Scan the bike's code").click()
    expect(sheet).to_contain_text("Scan a code for Shekou Bikes")
    sheet.get_by_label("Or paste a code").fill("SAOMA-BIKE:SZ-0042")
    sheet.get_by_role("button", name="Use this code").click()
    expect(bike.locator("#bike")).to_have_text("SZ-0042")

    bike.get_by_role("button", name="Unlock (¥99.00 deposit)").click()
    expect(sheet).to_contain_text("asks you to allow a hold for Shekou Bikes")
    expect(wallet.locator("#ms-amount")).to_have_text("¥99.00")
    wallet.screenshot(path=str(shots / "mini-hold-sheet.png"))
    wallet.locator("#ms-pin").fill(PIN)
    expect(sheet).to_be_hidden()
    expect(bike.locator("#state")).to_have_text("riding")
    expect(bike.locator("#fare")).to_have_text("¥1.50")

    bike.get_by_role("button", name="Lock the bike").click()
    expect(bike.locator("#receipt")).to_have_text(
        "Ride ended: fare ¥1.50; ¥97.50 of the deposit released."
    )
    expect(bike.locator("#state")).to_have_text("locked")
    (hold,) = [h for h in world.shop.client.holds()["data"] if h["captured"]][-1:]
    assert (hold["state"], hold["captured"], hold["amount"]) == ("captured", 150, 9_900)

    wallet.get_by_role("button", name="Close").click()
    grants = wallet.locator("#mini-grants")
    expect(grants).to_contain_text("Shekou Bikes")
    expect(grants).to_contain_text("May read: Your name, masked")
    wallet.locator("#v-services").get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥198.50")
    assert wallet.errors == []  # type: ignore[attr-defined]


def test_the_wallet_hears_only_the_bike_and_pays_only_its_orders(
    world: World, wallet: Page
) -> None:
    frame = open_bike(wallet, world)
    sheet = wallet.locator("#mini-sheet")
    other = new_merchant(world.saoma, name="Someone Else")
    theirs = other.client.create_order(f"X-{secrets.token_hex(4)}", 800)
    ask(frame, "requestPayment", theirs["id"])
    assert answer(frame) == {"ok": False, "error": "order-not-of-service"}
    expect(sheet).to_be_hidden()

    # A page of another origin inside the bike's frame asks the wallet to pay the bike's order.
    own = world.shop.client.create_order(f"B-{secrets.token_hex(4)}", 500)
    frame.evaluate(
        "src => { const f = document.createElement('iframe'); f.src = src;"
        " document.body.append(f); }",
        f"{world.attacker}/attacker.html?order={own['id']}",
    )
    evil = next(f for f in frames_of(wallet, world.attacker))
    until(evil, "window.sent === true")
    # The bike itself asks next: messages are handled in the order sent, so had the attacker's
    # been heard, its sheet would be open and this one answered "busy".
    ask(frame, "requestPayment", own["id"])
    expect(sheet).to_contain_text("Shekou Bikes asks you to pay Shekou Bikes")
    expect(wallet.locator("#ms-amount")).to_have_text("¥5.00")
    sheet.get_by_role("button", name="Cancel").click()
    assert answer(frame) == {"ok": False, "error": "cancelled"}
    assert evil.evaluate("window.got") == []  # the wallet never answered it
    assert world.shop.client.get_order(own["id"])["state"] == "created"
    assert other.client.get_order(theirs["id"])["state"] == "created"


def test_the_bike_cannot_read_the_wallets_storage_or_cookies(world: World, wallet: Page) -> None:
    frame = open_bike(wallet, world)
    # There is something to steal: the wallet keeps its payer and its session.
    assert wallet.evaluate("localStorage.getItem('saoma.me')")
    assert any(c["name"] == "saoma_session" for c in wallet.context.cookies(world.saoma.url))
    probe = frame.evaluate(
        """async (saoma) => {
          const tried = {};
          try { tried.storage = window.parent.localStorage.getItem('saoma.me'); }
          catch (e) { tried.storage = 'refused: ' + e.name; }
          try { tried.cookie = window.parent.document.cookie; }
          catch (e) { tried.cookie = 'refused: ' + e.name; }
          tried.ownCookie = document.cookie;
          try { tried.ownStorage = Object.keys(localStorage); }
          catch (e) { tried.ownStorage = 'refused: ' + e.name; }
          try { await fetch(saoma + '/v1/me', { credentials: 'include' }); tried.me = 'read'; }
          catch (e) { tried.me = 'refused: ' + e.name; }
          return tried;
        }""",
        world.saoma.url,
    )
    # Its own storage is its own origin's: empty (or, where the browser keeps a framed
    # site's storage from it, refused); never the wallet's.
    assert probe.pop("ownStorage") in ([], "refused: SecurityError")
    assert probe == {
        "storage": "refused: SecurityError",
        "cookie": "refused: SecurityError",
        "ownCookie": "",
        "me": "refused: TypeError",
    }


def test_a_token_stops_working_when_the_payer_revokes_it(world: World, wallet: Page) -> None:
    frame = open_bike(wallet, world)
    ask(frame, "login", ["profile.masked_name"])
    wallet.locator("#mini-sheet").get_by_role("button", name="Agree").click()
    given = answer(frame)
    assert given["ok"] is True
    token = world.shop.client.request(
        "POST", "/v1/mini/tokens", {"grant_type": "authorization_code", "code": given["code"]}
    )["access_token"]
    assert userinfo(world, token).json()["masked_name"] == "*Wei"

    wallet.get_by_role("button", name="Close").click()
    wallet.locator("#mini-grants").get_by_role("button", name="Revoke: Shekou Bikes").click()
    expect(wallet.locator("#mini-out")).to_have_text("Shekou Bikes can no longer read your data.")
    expect(wallet.locator("#mini-grants")).to_have_text("You have not authorised any service.")
    refused = userinfo(world, token)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/access-token-invalid")


def test_a_merchant_registers_a_service_from_the_dashboard(world: World, browser: Any) -> None:
    from support_dashboard import dashboard

    shop = new_merchant(world.saoma, name="Table Order")
    context, page = dashboard(browser, world.saoma.url, shop)
    try:
        form = page.locator("#d-mini-form")
        form.get_by_label("Name", exact=True).fill("Table Order")
        form.get_by_label("Name in Chinese").fill("扫码点餐")
        form.get_by_label("Served from (https origin)").fill("https://order.example.cn/menu")
        icon = {"name": "icon.svg", "mimeType": "image/svg+xml", "buffer": ICON_SVG.encode()}
        form.get_by_label("Icon (PNG or SVG, 16 KB at most)").set_input_files(icon)
        form.get_by_label("Their confirmed phone number").check()
        form.get_by_role("button", name="Register").click()
        expect(page.locator("#dm-out")).to_have_text(
            "Give the origin as https://host (no path); plain http only for this machine in"
            " demo mode."
        )
        form.get_by_label("Served from (https origin)").fill("https://order.example.cn")
        form.get_by_role("button", name="Register").click()
        expect(page.locator("#dm-out")).to_have_text(
            "Registered: it waits for an operator's approval."
        )
        expect(page.locator("#d-mini-list")).to_contain_text(
            "Table Order https://order.example.cn · waiting for approval"
        )
        (mine,) = shop.client.request("GET", "/v1/merchant/mini-programs")["data"]
        assert (mine["origin"], mine["scopes"]) == ("https://order.example.cn", ["profile.phone"])
    finally:
        context.close()
