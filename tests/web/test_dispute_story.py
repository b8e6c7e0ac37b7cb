"""A dispute from end to end, all in the pages: the payer reports a cold bowl with a photo in the
wallet, the merchant contests it on the dashboard, a support operator signs in to the console,
opens it from "Disputes to decide" after typing why, sees both sides and the photo, and decides
for the payer; the refund is back in the wallet and the wallet's timeline shows the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect

from support import PASSWORD, PIN, Payer, Server, Shop, new_consumer, new_merchant, wait_for
from support_console import add_operator, answer_why, open_person, sign_in
from support_web import new_page, phone
from web.test_accessibility import violations
from web.test_disputes_page import a_photo

WHY = "Ticket 8802: payer says the noodles were cold"
PAYER_SAYS = "The noodles were cold and half the bowl."
SHOP_SAYS = "Served hot at 12:10, see the till."
NOTE = "The payer's photo shows a half-empty bowl."


def test_a_dispute_goes_from_the_wallet_through_the_dashboard_to_the_console(
    server: Server, browser: Any, shots: Path, tmp_path: Path
) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=5_000)
    paid = payer.client.pay_static(shop.id, 3_000, PIN)
    agent = add_operator(server, "support", "Sam")

    wallet_ctx, wallet = new_page(browser, bypass_csp=True, **phone())
    till_ctx, till = new_page(browser, bypass_csp=True, **phone("tablet"))
    desk_ctx, desk = new_page(browser, bypass_csp=True, viewport={"width": 1280, "height": 900})
    try:
        report(wallet, server, payer, tmp_path)
        contest(till, server, shop)
        sign_in(desk, server, agent)
        decide(desk, paid["id"], shots)
        from_the_payers_page(desk, payer)
        wait_for(lambda: payer.client.me()["balance"] == 5_000, what="the refund")
        decided_in_wallet(wallet)
        assert wallet.errors == [] and till.errors == [] and desk.errors == []  # type: ignore[attr-defined]
    finally:
        wallet_ctx.close()
        till_ctx.close()
        desk_ctx.close()
    shown = payer.client.request("GET", "/v1/me/access-log")["entries"]
    assert {(e["action"], e["role"], e["reason"]) for e in shown} >= {
        ("dispute.view", "support", WHY),
        ("dispute.decide", "support", WHY),
    }


def report(wallet: Page, server: Server, payer: Payer, tmp_path: Path) -> None:
    wallet.goto(server.url + "/wallet")
    wallet.locator("#si-login").fill(payer.login)
    wallet.locator("#si-password").fill(PASSWORD)
    wallet.locator("#si-password").press("Enter")
    expect(wallet.locator("#balance")).to_have_text("¥20.00")
    wallet.get_by_role("button", name="History").click()
    wallet.get_by_role("button", name="Receipt").first.click()
    wallet.get_by_role("button", name="Report a problem").click()
    form = wallet.locator("#dp-form")
    form.get_by_label("What went wrong").select_option("not_as_described")
    form.get_by_label("Tell us what happened").fill(PAYER_SAYS)
    form.get_by_label("Photo (optional)").set_input_files(str(a_photo(tmp_path / "bowl.png")))
    form.get_by_role("button", name="Send to the merchant").click()
    expect(wallet.locator("#dp-receipt")).to_contain_text("Waiting for the merchant")


def contest(till: Page, server: Server, shop: Shop) -> None:
    till.goto(server.url + "/dashboard")
    till.locator("#ds-login").fill(shop.login)
    till.locator("#ds-password").fill(PASSWORD)
    till.locator("#ds-password").press("Enter")
    section = till.locator("#d-disputes")
    expect(section).to_contain_text(PAYER_SAYS)
    section.get_by_label("Your side (for contesting)").fill(SHOP_SAYS)
    section.get_by_role("button", name="Contest").click()
    expect(section).to_contain_text("Contested: support decides")


def decide(desk: Page, payment_id: str, shots: Path) -> None:
    expect(desk.locator("#c-tab-disputes")).to_have_attribute("aria-pressed", "true")
    # Support decides disputes but does not approve merchants or read the books.
    expect(desk.locator("#c-tab-kyc")).to_have_count(0)
    expect(desk.locator("#c-tab-books")).to_have_count(0)
    queue = desk.locator("#c-view tbody tr")
    expect(queue).to_have_count(1)
    expect(queue).to_contain_text("Contested: support decides")
    expect(queue).to_contain_text("¥30.00")
    assert violations(desk) == []
    queue.get_by_role("button", name="Open").click()
    answer_why(desk, WHY)
    expect(desk.locator("#c-dispute")).to_be_visible()
    expect(desk.locator("#c-dispute-body")).to_contain_text(payment_id)
    expect(desk.locator("#c-dp-payer")).to_contain_text(PAYER_SAYS)
    expect(desk.locator("#c-dp-merchant")).to_contain_text(SHOP_SAYS)
    photo = desk.locator("#c-dp-payer img.c-dispute-photo")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.src.startsWith('blob:') && img.naturalWidth > 0")
    expect(desk.locator("#c-dp-timeline li")).to_have_count(2)
    desk.get_by_label("Note (the payer and the merchant read it)").fill(NOTE)
    assert violations(desk) == []
    desk.locator("#c-dispute").screenshot(path=str(shots / "console-dispute.png"))
    keys: list[str] = []

    def lose_the_first_answer(route: Route) -> Any:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server decides and refunds...
            return route.abort("connectionreset")  # ...and the console never hears back
        return route.continue_()

    desk.route("**/v1/ops/disputes/*/decide", lose_the_first_answer)
    decide_for_payer = desk.get_by_role("button", name="Decide for the payer (refund ¥30.00)")
    decide_for_payer.click()
    expect(desk.locator("#c-dd-out")).to_have_text("No connection. Nothing was charged; try again.")
    decide_for_payer.click()  # the same decision again: the same key, one refund
    expect(desk.locator("#c-dd-out")).to_have_text("Decided.")
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    expect(desk.locator("#c-dispute-body")).to_contain_text("Decided: refunded")
    expect(desk.locator("#c-dp-timeline")).to_contain_text(NOTE)
    expect(desk.locator("#c-dp-decide")).to_have_count(0)
    desk.locator("#c-dispute-back").click()
    expect(desk.locator("#c-view")).to_contain_text("No disputes.")


def from_the_payers_page(desk: Page, payer: Payer) -> None:
    """The payer's page lists their disputes; one opens with the reason typed for the page."""
    open_person(desk, payer.login, payer.id, WHY)
    listed = desk.locator("#c-disputes tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Decided: refunded")
    listed.get_by_role("button", name="Open").click()
    expect(desk.locator("#c-dispute-body")).to_contain_text(NOTE)
    expect(desk.locator("#c-dp-decide")).to_have_count(0)
    assert violations(desk) == []
    desk.locator("#c-dispute-back").click()
    expect(desk.locator("#c-person")).to_be_visible()


def decided_in_wallet(wallet: Page) -> None:
    wallet.get_by_role("button", name="Back").click()
    wallet.get_by_role("button", name="Disputes").click()
    item = wallet.locator("#dp-list li.dp-item")
    expect(item.locator(".dp-state")).to_have_text("Decided: refunded")
    for step in ("Opened", "Contested", "Decided", SHOP_SAYS, NOTE):
        expect(item).to_contain_text(step)
    assert violations(wallet) == []
    wallet.get_by_role("button", name="Back").click()
    wallet.locator("#v-history").get_by_role("button", name="Back").click()
    expect(wallet.locator("#balance")).to_have_text("¥50.00")
