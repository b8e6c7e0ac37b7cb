"""A stall owner changes the password in the dashboard, which signs every other till out, and
signs every till and dashboard out at once (a lost tablet); a payer does the same in the
wallet's settings (a lost phone)."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from support import PASSWORD, Server
from support_web import open_stall, sign_up_consumer

NEW_PASSWORD = "another horse battery"


def test_a_stall_owner_changes_the_password_and_signs_every_till_out(
    server: Server, till: Any
) -> None:
    login = open_stall(till, server.url, name="Password Stall")
    other_till = httpx.post(
        server.url + "/v1/merchant-sessions", json={"login": login, "password": PASSWORD}
    ).json()["token"]
    till.goto(server.url + "/dashboard")
    form = till.locator("#d-password-form")
    form.get_by_label("Current password").fill("not the password")
    form.get_by_label("New password (8 characters or more)").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change the password").click()
    expect(till.locator("#d-password-out")).to_have_text("Wrong password.")
    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password (8 characters or more)").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change the password").click()
    expect(till.locator("#d-password-out")).to_have_text(
        "Password changed. Signed out elsewhere: 1."
    )
    expect(form.get_by_label("Current password")).to_have_value("")
    other = httpx.get(
        server.url + "/v1/merchant", headers={"authorization": f"Bearer {other_till}"}
    )
    assert other.status_code == 401
    till.get_by_role("button", name="Sign out everywhere").click()
    expect(till.locator("#d-signin")).to_be_visible()
    till.reload()  # the session is gone, not only the page's view of it
    expect(till.locator("#d-signin")).to_be_visible()
    till.locator("#ds-login").fill(login)
    till.locator("#ds-password").fill(NEW_PASSWORD)
    till.locator("#ds-password").press("Enter")
    expect(till.locator("#d-password-form")).to_be_visible()
    assert till.errors == []  # type: ignore[attr-defined]


def test_a_payer_changes_the_password_and_signs_every_phone_out(
    server: Server, wallet: Any
) -> None:
    login = sign_up_consumer(wallet, server.url)
    other_phone = httpx.post(
        server.url + "/v1/sessions", json={"login": login, "password": PASSWORD}
    ).json()["token"]
    wallet.get_by_role("button", name="Settings").click()
    form = wallet.locator("#password-form")
    form.get_by_label("Current password").fill("not the password")
    form.get_by_label("New password (8 characters or more)").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change the password").click()
    expect(wallet.locator("#password-out")).to_have_text("Wrong password.")
    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password (8 characters or more)").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change the password").click()
    expect(wallet.locator("#password-out")).to_have_text(
        "Password changed. Signed out elsewhere: 1."
    )
    other = httpx.get(server.url + "/v1/me", headers={"authorization": f"Bearer {other_phone}"})
    assert other.status_code == 401
    form.get_by_role("button", name="Sign out everywhere").click()
    expect(wallet.locator("#v-signin")).to_be_visible()
    wallet.reload()  # the session is gone, not only the page's view of it
    signin = wallet.locator("#signin-form")
    signin.get_by_label("Phone number or e-mail").fill(login)
    signin.get_by_label("Password").fill(NEW_PASSWORD)
    signin.locator("button[type=submit]").click()
    expect(wallet.locator("#v-home")).to_be_visible()
    assert wallet.errors == []  # type: ignore[attr-defined]
