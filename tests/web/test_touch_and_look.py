"""Touch and look: every screen of every page, on a phone and on a desktop, has no tap target a
finger can miss (each at least 44×44 px) and no axe-core WCAG 2.1 A/AA violation.

The screens are found on the pages themselves (every ``section.view`` and every ``dialog``), so a
screen added later is walked too. Each page is used first (a payer pays the shop, so lists and
their buttons are drawn) and then each of its screens is shown in turn.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from saoma.db import make_engine
from saoma.operators import totp
from saoma.operators.service import Operators
from support import PASSWORD, PIN, Server, new_consumer, new_merchant
from support_till import sign_in_till
from support_web import (
    axe_violations,
    crowded_buttons,
    foreign_fonts,
    new_page,
    phone,
    small_tap_targets,
)

SIZES = {"phone": phone(), "desktop": {"viewport": {"width": 1280, "height": 900}}}

# Show every screen of the page in turn, then open every dialog: (screen name, how to show it).
_SCREENS = "() => Array.from(document.querySelectorAll('section.view, dialog'), (v) => v.id)"
_SHOW = """(id) => {
  document.querySelectorAll("dialog[open]").forEach((d) => d.close());
  const node = document.getElementById(id);
  if (node.tagName === "DIALOG") node.showModal(); else Saoma.show(id);
}"""


class Look:
    """What a person would find wrong on each screen: small tap targets, axe's findings."""

    def __init__(self, size: str) -> None:
        self.size = size
        self.checks = {
            "under 44×44 px": small_tap_targets,
            "too close to a field": crowded_buttons,
            "not in the page's font": foreign_fonts,
            "axe": axe_violations,
        }
        self.seen: dict[str, dict[str, list[str]]] = {kind: {} for kind in self.checks}

    def screen(self, page: Page, name: str) -> None:
        where = f"{name} ({self.size})"
        for kind, check in self.checks.items():
            self.seen[kind][where] = check(page)

    def every_screen(self, page: Page, name: str) -> None:
        for screen in page.evaluate(_SCREENS):
            page.evaluate(_SHOW, screen)
            page.wait_for_timeout(250)  # the screen's lists are drawn as it opens
            self.screen(page, f"{name} {screen}")
        page.evaluate("() => document.querySelectorAll('dialog[open]').forEach((d) => d.close())")

    def found(self) -> dict[str, dict[str, list[str]]]:
        return {
            kind: {where: found for where, found in screens.items() if found}
            for kind, screens in self.seen.items()
        }


def _operator(server: Server, login: str) -> str:
    engine = make_engine(server.database_url)
    try:
        return Operators(engine).add(login, PASSWORD, "support", "Ana").secret
    finally:
        engine.dispose()


@pytest.mark.parametrize("size", SIZES)
def test_every_screen_has_tap_targets_a_finger_hits_and_no_axe_violation(
    server: Server, browser: Any, size: str
) -> None:
    look = Look(size)
    shop = new_merchant(server, name="Old Chen Noodles")
    payer = new_consumer(server, balance=10_000)
    payer.client.pay_static(shop.id, 1_250, PIN, note="noodles")
    operator = f"ana-{size}@ops.example"
    secret = _operator(server, operator)

    context, page = new_page(browser, bypass_csp=True, **SIZES[size])
    try:
        page.goto(server.url + "/")
        look.screen(page, "start")

        page.goto(server.url + "/wallet")
        look.every_screen(page, "wallet signed out")
        page.goto(server.url + "/wallet")
        page.locator("#si-login").fill(payer.login)
        page.locator("#si-password").fill(PASSWORD)
        page.locator("#si-password").press("Enter")
        expect(page.locator("#balance")).to_have_text("¥87.50")
        look.every_screen(page, "wallet")

        page.goto(server.url + "/cashier")
        look.every_screen(page, "till signed out")
        sign_in_till(page, server, shop)
        expect(page.locator("#c-recent")).to_contain_text("¥12.50")
        look.every_screen(page, "till")

        page.goto(server.url + "/dashboard")
        expect(page.locator("#d-name")).to_have_text("Old Chen Noodles")
        look.every_screen(page, "dashboard")

        page.goto(server.url + "/console")
        look.screen(page, "console sign-in")
        page.locator("#cs-login").fill(operator)
        page.locator("#cs-password").fill(PASSWORD)
        page.locator("#cs-code").fill(totp.code(secret))
        page.locator("#cs-code").press("Enter")
        expect(page.locator("#c-who")).to_contain_text("Ana")
        page.locator("#c-q").fill(payer.id)
        page.locator("#c-q").press("Enter")
        expect(page.locator("#c-results tr")).to_have_count(1)
        look.screen(page, "console search")
        page.locator(f'#c-results button[data-id="{payer.id}"]').click()
        look.screen(page, "console reason")
        page.locator("#c-reason-text").fill("Ticket 1: checking the screens")
        page.locator("#c-reason-text").press("Enter")
        expect(page.locator("#c-money")).to_contain_text("¥87.50")
        look.screen(page, "console person")
    finally:
        context.close()
    found = look.found()
    clean = {kind: {} for kind in look.checks}
    assert found == clean, json.dumps(found, indent=1, ensure_ascii=False)
