"""The start page says in one screen what Saoma is and what to try; in demo mode the sign-in
details it shows are the ones that work: a consumer's, a merchant's, an operator's, the PIN."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from playwright.sync_api import Page, expect

from saoma.operators import totp
from support import Server
from support_web import (
    axe_violations,
    crowded_buttons,
    new_page,
    phone,
    shot,
    small_tap_targets,
)
from web.test_camera_and_people import demo_server

__all__ = ["demo_server"]


DESKTOP = {"viewport": {"width": 1280, "height": 800}}


def _shown(page: Page) -> dict[str, str]:
    """The demo sign-in details as the start page shows them."""
    return {
        "password": page.locator("#s-password").inner_text(),
        "pin": page.locator("#s-pin-code").inner_text(),
        "consumer": page.locator("#s-consumers li .demo-login code").first.inner_text(),
        "merchant": page.locator("#s-merchants li", has_text="Old Chen Noodles")
        .locator(".demo-login code")
        .inner_text(),
        "operator": page.locator("#s-operators li.demo-operator", has_text="support@")
        .locator("code.uri")
        .inner_text(),
    }


def test_the_start_page_says_what_saoma_is_in_one_screen(
    demo_server: Server, browser: Any, shots: Path
) -> None:
    for size, options in (("desktop", DESKTOP), ("phone", phone())):
        context, page = new_page(browser, bypass_csp=True, **options)
        try:
            page.goto(demo_server.url + "/")
            expect(page.locator("#s-password")).not_to_be_empty()
            lead = page.locator(".start-lead")
            expect(lead).to_contain_text("QR-code payment platform")
            for name in ("Open the wallet", "Open the cashier", "Open the dashboard"):
                expect(page.get_by_role("link", name=name)).to_be_in_viewport()
            expect(page.get_by_role("link", name="Open the console").first).to_be_in_viewport()
            if size == "desktop":  # the demo sign-in details too, without scrolling
                expect(page.locator("#s-credentials")).to_be_in_viewport()
            assert axe_violations(page) == []
            assert small_tap_targets(page) == []
            assert crowded_buttons(page) == []
            shot(page, shots, f"start-{size}")
            page.get_by_role("button", name="中文").click()
            expect(lead).to_contain_text("二维码支付平台")
            expect(page.locator("#s-credentials h2")).to_have_text("演示账户登录")
            shot(page, shots, f"start-{size}-zh")
            assert page.errors == []  # type: ignore[attr-defined]
        finally:
            context.close()


def test_the_demo_sign_in_details_shown_sign_in(demo_server: Server, browser: Any) -> None:
    context, page = new_page(browser, **DESKTOP)
    try:
        page.goto(demo_server.url + "/")
        expect(page.locator("#s-password")).not_to_be_empty()
        shown = _shown(page)

        page.goto(demo_server.url + "/wallet")
        page.locator("#si-login").fill(shown["consumer"])
        page.locator("#si-password").fill(shown["password"])
        page.locator("#si-password").press("Enter")
        expect(page.locator("#balance")).to_contain_text("¥")
        # The PIN shown confirms a change that asks for the PIN.
        page.get_by_role("button", name="Settings").click()
        page.get_by_label("Per payment up to (¥)").fill("10")
        page.get_by_label("Per day up to (¥)").fill("50")
        page.locator("#lm-pin").fill(shown["pin"])
        page.locator("#limit-form").get_by_role("button", name="Save").click()
        expect(page.locator("#limit-out")).to_have_text("Saved.")

        for where, signed_in in (("/cashier", "#c-name"), ("/dashboard", "#d-name")):
            context.clear_cookies()
            page.goto(demo_server.url + where)
            prefix = "#cs" if where == "/cashier" else "#ds"
            page.locator(f"{prefix}-login").fill(shown["merchant"])
            page.locator(f"{prefix}-password").fill(shown["password"])
            page.locator(f"{prefix}-password").press("Enter")
            expect(page.locator(signed_in)).to_have_text("Old Chen Noodles")

        uri = urlparse(shown["operator"])
        secret = parse_qs(uri.query)["secret"][0]
        login = unquote(uri.path.lstrip("/")).rsplit(":", 1)[-1]  # otpauth://totp/Issuer:login
        context.clear_cookies()
        page.goto(demo_server.url + "/console")
        page.locator("#cs-login").fill(login)
        page.locator("#cs-password").fill(shown["password"])
        page.locator("#cs-code").fill(totp.code(secret))
        page.locator("#cs-code").press("Enter")
        expect(page.locator("#c-who")).to_be_visible()
        expect(page.locator("#c-q")).to_be_visible()
    finally:
        context.close()
