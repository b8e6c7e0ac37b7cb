"""The operators' console in the browser tests: operators made with the real service (as
``saoma operators add`` makes them), signing in with the authenticator's current code, and
opening a person's page after typing why."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from playwright.sync_api import Page, expect

from saoma.db import make_engine
from saoma.operators import totp
from saoma.operators.service import Operators
from support import PASSWORD, Server


@dataclass(frozen=True)
class Staff:
    login: str
    name: str
    role: str
    secret: str


def add_operator(server: Server, role: str, name: str) -> Staff:
    """An operator as ``saoma operators add LOGIN --role ROLE`` makes one (password, TOTP)."""
    login = f"{name.lower()}-{secrets.token_hex(3)}@ops.example"
    engine = make_engine(server.database_url)
    try:
        added = Operators(engine).add(login, PASSWORD, role, name)
    finally:
        engine.dispose()
    return Staff(login, name, role, added.secret)


def sign_in(page: Page, server: Server, staff: Staff) -> None:
    page.goto(server.url + "/console")
    page.locator("#cs-login").fill(staff.login)
    page.locator("#cs-password").fill(PASSWORD)
    page.locator("#cs-code").fill(totp.code(staff.secret))
    page.locator("#cs-code").press("Enter")
    expect(page.locator("#c-who")).to_contain_text(staff.name)


def open_person(page: Page, query: str, person_id: str, reason: str) -> None:
    """Find a person by ``query`` (a phone, a name, an id), open them, type ``reason``."""
    page.locator("#c-q").fill(query)
    page.locator("#c-q").press("Enter")
    page.locator(f'#c-results button[data-id="{person_id}"]').click()
    answer_why(page, reason)
    expect(page.locator("#c-person")).to_be_visible()


def answer_why(page: Page, reason: str) -> None:
    expect(page.locator("#c-reason-text")).to_be_focused()
    page.locator("#c-reason-text").fill(reason)
    page.locator("#c-reason-text").press("Enter")
