"""Opening a stall at the till: a Chinese name alone is enough, and a name too long is refused in
the page's words, never cut."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from support import PASSWORD, Server
from support_web import open_stall


def test_a_chinese_name_alone_opens_a_stall(server: Server, till: Any) -> None:
    open_stall(till, server.url, name="", name_zh="老陈面馆")
    expect(till.locator("#c-name")).to_be_visible()
    assert till.errors == []  # type: ignore[attr-defined]


def test_a_name_too_long_is_refused_with_the_limit_and_kept(server: Server, till: Any) -> None:
    till.goto(server.url + "/cashier")
    form = till.locator("#c-signup-form")
    long_name = "Old Chen Hand-Pulled Noodles"  # 28 characters
    form.get_by_label("Stall name (Latin letters)").fill(long_name)
    form.get_by_label("Phone number or e-mail").fill("stall-long@example.cn")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Open a stall").click()
    expect(till.locator("#cu-out")).to_have_text("The name is 25 characters at most.")
    expect(form.get_by_label("Stall name (Latin letters)")).to_have_value(long_name)
    expect(till.locator("#c-name")).to_be_hidden()
