"""What the wallet's paying, people and extras browser tests share."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from saoma.client import ConsumerClient
from support import PASSWORD, PIN, Payer, Server, verify_login
from support_till import axe_violations, payer_named
from support_web import new_page, phone

__all__ = ["axe_violations", "phone_wallet", "signed_in", "small_targets", "verified_payer"]

# What a finger taps on the screen shown: buttons, fields, selects, links styled as buttons.
TAPPABLE = "section.view:not([hidden]) :is(button, input, select, a.button)"


@pytest.fixture
def phone_wallet(browser: Any) -> Iterator[Page]:
    """A consumer's phone whose pages axe-core can be run on."""
    context, page = new_page(browser, bypass_csp=True, **phone())
    yield page
    context.close()


def verified_payer(server: Server, name: str, balance: int = 0) -> Payer:
    """A wallet called ``name`` with the PIN set, ``balance`` topped up and its phone confirmed."""
    if balance:
        payer = payer_named(server, name, balance)
    else:
        client = ConsumerClient(server.url)
        login = f"+86139{secrets.randbelow(10**8):08d}"
        body = client.sign_up(login, PASSWORD, name)
        client.set_pin(PIN, password=PASSWORD)
        payer = Payer(client, body["consumer"]["id"], login)
    verify_login(server, payer.client, payer.login)
    return payer


def signed_in(page: Page, server: Server, payer: Payer) -> None:
    page.goto(server.url + "/wallet")
    form = page.locator("#signin-form")
    form.get_by_label("Phone number or e-mail").fill(payer.login)
    form.get_by_label("Password").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("#v-home")).to_be_visible()


def small_targets(page: Page) -> list[str]:
    """Everything tappable on the screen shown that is smaller than 44×44 CSS pixels."""
    found = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter((e) => e.offsetParent !== null && e.type !== "hidden")
            .map((e) => [e.id || e.textContent.trim() || e.outerHTML.slice(0, 60),
                         e.getBoundingClientRect()])
            .filter(([, r]) => r.width < 44 || r.height < 44)
            .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        TAPPABLE,
    )
    return list(found)
