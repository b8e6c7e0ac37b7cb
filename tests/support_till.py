"""What the till's browser tests share: a payer with a name, a till signed in, axe's findings."""

from __future__ import annotations

import secrets

from playwright.sync_api import Page, expect

from saoma.client import ConsumerClient
from support import PASSWORD, PIN, Payer, Server, Shop, wait_for
from support_web import axe_violations

__all__ = ["axe_violations", "payer_named", "sign_in_till"]


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
