"""The pages send one Idempotency-Key per user action and send it again when the action is retried.

A phone on a bad connection loses the answer to a top-up the server made; the person taps Top up
again. The retry carries the same key, so the money arrives once; the next top-up is a new action
with a new key, and arrives too.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, Route, expect

from support import Server
from support_web import sign_up_consumer, top_up


def test_a_top_up_whose_answer_was_lost_is_retried_with_the_same_key_and_arrives_once(
    server: Server, wallet: Page
) -> None:
    sign_up_consumer(wallet, server.url)
    keys: list[str] = []
    lose_answer = [True]

    def handle(route: Route) -> Any:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if lose_answer[0]:
            lose_answer[0] = False
            route.fetch()  # the server makes the top-up...
            return route.abort("connectionreset")  # ...and the phone never hears back
        return route.continue_()

    wallet.route("**/v1/me/top-ups", handle)
    wallet.get_by_role("button", name="Top up").click()
    form = wallet.locator("#topup-form")
    form.get_by_label("Amount (¥)").fill("5")
    form.get_by_role("button", name="Top up").click()
    expect(wallet.locator("#topup-out")).not_to_contain_text("arrived from the bank")
    expect(wallet.locator("#topup-out")).not_to_be_empty()
    form.get_by_role("button", name="Top up").click()  # the same action again
    expect(wallet.locator("#topup-out")).to_contain_text("arrived from the bank")
    wallet.get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥5.00")

    top_up(wallet, "5")  # a new action: a new key, and the money arrives
    expect(wallet.locator("#balance")).to_have_text("¥10.00")
    assert len(keys) == 3 and all(keys)
    assert keys[0] == keys[1] != keys[2]
