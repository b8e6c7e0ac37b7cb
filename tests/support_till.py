"""What the till's browser tests share: a payer with a name, a till signed in, axe's findings."""

from __future__ import annotations

import secrets
from pathlib import Path

from playwright.sync_api import Page, expect

from saoma.client import ConsumerClient
from support import PASSWORD, PIN, Payer, Server, Shop, wait_for

AXE = Path(__file__).parent / "web" / "vendor" / "axe.min.js"


def payer_named(server: Server, name: str, balance: int) -> Payer:
    """A payer called ``name`` with the PIN set and ``balance`` fen topped up."""
    client = ConsumerClient(server.url)
    login = f"+86139{secrets.randbelow(10**8):08d}"
    body = client.sign_up(login, PASSWORD, name)
    client.set_pin(PIN, password=PASSWORD)
    client.top_up(balance)
    wait_for(lambda: client.me()["balance"] == balance, what="the top-up to settle")
    return Payer(client, body["consumer"]["id"], login)


def sign_in_till(page: Page, server: Server, shop: Shop) -> None:
    page.goto(server.url + "/cashier")
    page.locator("#cs-login").fill(shop.login)
    page.locator("#cs-password").fill(PASSWORD)
    page.locator("#c-signin-form button[type=submit]").click()
    expect(page.locator("#c-keypad")).to_be_visible()


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA findings on the page as it is (the context bypasses CSP)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
        })).violations.map(v => `${v.id}: ${v.nodes.map(n => n.target).join(" ")}`)"""
    )
    return list(found)
