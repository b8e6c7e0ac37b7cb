"""Settlements in the dashboard: the bank account the bank verifies, the schedule, an instant
payout paid (or refused by a frozen account) and its statement, on screen and downloaded.

The sandbox bank verifies any account number but one ending in 13, and refuses payouts to one
ending in 66 (frozen); it answers in a few milliseconds.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from support import PASSWORD, PIN, Server, Shop, new_consumer, new_merchant, wait_for
from support_web import new_page, phone, shot
from web.test_accessibility import violations

GOOD_ACCOUNT = "6222021001118812"
FROZEN_ACCOUNT = "6222021001118866"
UNKNOWN_ACCOUNT = "6222021001118813"
MANAGER_PIN = "135790"
INSTANT_FEE_PPM = 1_000  # saoma.settlement.service.Policy's default


def sign_in(page: Page, url: str, shop: Shop) -> Locator:
    """The stall owner signs in to the dashboard; the settlements section is returned."""
    page.goto(url + "/dashboard")
    page.locator("#ds-login").fill(shop.login)
    page.locator("#ds-password").fill(PASSWORD)
    page.locator("#ds-password").press("Enter")
    expect(page.locator("#d-name")).to_be_visible()
    return page.locator("#d-stl")


def register_account(shop: Shop, number: str) -> None:
    """An account registered through the API, verified by the bank before the test goes on."""
    shop.client.request(
        "POST",
        "/v1/settlement/bank-accounts",
        {"holder_name": "Chen Jianguo", "account_number": number, "bank_name": "Bank of Shenzhen"},
    )
    wait_for(
        lambda: shop.client.request("GET", "/v1/settlement/bank-accounts")["current"] is not None,
        what="the bank to verify the account",
    )


def takings(server: Server, shop: Shop, amounts: list[int]) -> list[dict[str, Any]]:
    """Customers pay the shop these amounts; its payments as the API lists them."""
    payer = new_consumer(server, balance=sum(amounts))
    tag = secrets.token_hex(3)
    for i, amount in enumerate(amounts):
        order = shop.client.create_order(f"STL-{tag}-{i}", amount)
        payer.client.pay_order(order["id"], PIN)
    payments: list[dict[str, Any]] = shop.client.payments(limit=100)["data"]
    assert len(payments) == len(amounts)
    return payments


def yuan(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}¥{abs(minor) // 100}.{abs(minor) % 100:02d}"


def cell(row: Locator, index: int) -> Locator:
    return row.locator("td").nth(index)


def ask_instant_payout(page: Page, section: Locator) -> None:
    section.get_by_role("button", name="Pay me now").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("up to ¥5000.00")
    expect(dialog).to_contain_text("0.1%")
    expect(dialog).to_contain_text("•••• 88")
    dialog.get_by_role("button", name="Pay me now").click()
    expect(dialog).to_be_hidden()


def test_a_merchant_adds_a_bank_account_and_changes_it_only_with_the_manager_pin(
    server: Server, till: Page
) -> None:
    shop = new_merchant(server, name="Bank Stall")
    section = sign_in(till, server.url, shop)
    expect(section.locator("#d-bank-current")).to_contain_text("No bank account yet")
    form = section.locator("#d-bank-form")  # open at first: there is no account yet
    form.get_by_label("Account holder's name").fill("Chen Jianguo")
    form.get_by_label("Account number").fill("6222 0210 0111 8812")
    form.get_by_label("Bank name (optional)").fill("Bank of Shenzhen")
    expect(form.get_by_label("Manager PIN (6 digits)")).to_be_hidden()  # none set yet
    form.get_by_role("button", name="Send to the bank to verify").click()
    out = section.locator("#d-bank-out")
    expect(out).to_have_text("The bank confirmed •••• 8812: payouts go to it from now on.")
    current = section.locator("#d-bank-current")
    expect(current).to_contain_text("•••• 8812 · Chen Jianguo · Bank of Shenzhen")
    expect(current.locator(".tag")).to_have_text("verified")
    expect(form).to_be_hidden()

    # A second account needs a manager PIN, and the PIN is asked for once there is one.
    toggle = section.get_by_role("button", name="Change the bank account")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    form.get_by_label("Account holder's name").fill("Chen Jianguo")
    form.get_by_label("Account number").fill(UNKNOWN_ACCOUNT)
    form.get_by_role("button", name="Send to the bank to verify").click()
    expect(out).to_have_text("Set a manager PIN in the dashboard first.")
    expect(out).to_have_attribute("role", "alert")

    pin_form = till.locator("#d-pin-form")
    pin_form.get_by_label("Password").fill(PASSWORD)
    pin_form.get_by_label("Manager PIN (6 digits)").fill(MANAGER_PIN)
    pin_form.get_by_role("button", name="Save").click()
    expect(till.locator("#d-pin-out")).to_have_text("Manager PIN saved.")
    pin = form.get_by_label("Manager PIN (6 digits)")
    expect(pin).to_be_visible()
    form.get_by_role("button", name="Send to the bank to verify").click()
    expect(out).to_have_text("Enter the 6-digit manager PIN.")
    pin.fill("000000")
    form.get_by_role("button", name="Send to the bank to verify").click()
    expect(out).to_have_text("Wrong manager PIN. Try again.")
    pin.fill(MANAGER_PIN)
    form.get_by_role("button", name="Send to the bank to verify").click()
    expect(out).to_have_text("The bank could not verify •••• 8813: there is no such account.")
    expect(current).to_contain_text("•••• 8812")  # payouts still go to the verified one
    expect(section.locator("#d-bank-latest")).to_have_text(
        "The bank could not verify •••• 8813: there is no such account."
    )
    accounts = shop.client.request("GET", "/v1/settlement/bank-accounts")
    assert accounts["current"]["account_number"] == "•••• 8812"
    assert [a["state"] for a in accounts["data"]] == ["failed", "verified"]
    assert till.errors == []  # type: ignore[attr-defined]


def test_the_schedule_is_chosen_in_words_and_kept(server: Server, till: Page) -> None:
    shop = new_merchant(server, name="Schedule Stall")
    section = sign_in(till, server.url, shop)
    t1 = section.get_by_label("T+1: every day, the day's takings paid the next morning")
    expect(t1).to_be_checked()  # the default
    section.get_by_label("T+0: every day, paid the same day at 17:00").check()
    section.get_by_role("button", name="Save the schedule").click()
    expect(section.locator("#d-terms-out")).to_have_text("Schedule saved.")
    terms = shop.client.request("GET", "/v1/settlement/terms")
    assert (terms["schedule"], terms["cutoff_hour"]) == ("daily", 17)

    till.reload()
    expect(section.get_by_label("T+0: every day, paid the same day at 17:00")).to_be_checked()
    section.get_by_label("Weekly, on the day below").check()
    section.get_by_label("Day of the week").select_option(label="Friday")
    section.get_by_role("button", name="Save the schedule").click()
    expect(section.locator("#d-terms-out")).to_have_text("Schedule saved.")
    terms = shop.client.request("GET", "/v1/settlement/terms")
    assert (terms["schedule"], terms["cutoff_hour"], terms["weekday"]) == ("weekly", 0, "friday")
    till.reload()
    expect(section.get_by_label("Weekly, on the day below")).to_be_checked()
    expect(section.get_by_label("Day of the week")).to_have_value("friday")


def test_an_instant_payout_is_paid_and_its_statement_lists_every_payment(
    server: Server, browser: Any, shots: Path
) -> None:
    shop = new_merchant(server, name="Payout Noodles")
    section_ctx, page = new_page(browser, bypass_csp=True, **phone("tablet"))
    try:
        section = sign_in(page, server.url, shop)
        # Without a bank account there is nothing to pay to, and the page says so in words.
        section.get_by_role("button", name="Pay me now").click()
        expect(section.locator("#d-instant-out")).to_have_text(
            "Add a bank account (and wait for the bank to confirm it) first."
        )
        register_account(shop, GOOD_ACCOUNT)
        amounts = [1_200, 3_450]  # a payment line and a fee line each, and the instant fee
        payments = takings(server, shop, amounts)
        gross = sum(amounts)
        before = gross - sum(p["fee"] for p in payments)
        instant_fee = (before * INSTANT_FEE_PPM + 500_000) // 1_000_000
        net = before - instant_fee

        page.reload()
        expect(section.locator("#d-stl-rows")).to_have_text("No settlement yet.")
        ask_instant_payout(page, section)
        expect(section.locator("#d-instant-out")).to_have_text(
            f"{yuan(net)} was paid to your bank account."
        )
        row = section.locator("#d-stl-rows tr").first
        expect(cell(row, 9)).to_have_text("Paid", timeout=20_000)
        expect(cell(row, 0)).to_contain_text("instant")
        expect(cell(row, 2)).to_have_text(yuan(gross))
        expect(cell(row, 3)).to_have_text(yuan(-(gross - net)))
        expect(cell(row, 4)).to_have_text("¥0.00")
        expect(cell(row, 7)).to_have_text(yuan(net))
        expect(cell(row, 8)).to_have_text(yuan(net))
        expect(cell(row, 10)).to_have_text(re.compile(r"^SBX[0-9A-F]{12}$"))
        page.reload()  # as the server has it
        expect(cell(row, 9)).to_have_text("Paid", timeout=20_000)
        expect(cell(row, 7)).to_have_text(yuan(net))

        row.get_by_role("button", name="Statement").click()
        statement = page.locator("#d-stmt")
        (settlement,) = shop.client.request("GET", "/v1/settlements")["data"]
        expect(statement.get_by_role("heading")).to_have_text(
            f"Statement of {settlement['business_date']}"
        )
        lines = statement.locator("#d-stmt-lines tr")
        expect(lines).to_have_count(2 * len(amounts) + 1)
        expect(statement.get_by_role("button", name="Load more")).to_be_hidden()
        shown = lines.evaluate_all(
            "rows => rows.map(r => Array.from(r.cells, c => c.textContent))"
        )  # time, kind, amount, payment id, refund id
        assert {(line[1], line[3]): line[2] for line in shown if line[1] == "Payment"} == {
            ("Payment", p["id"]): yuan(p["amount"]) for p in payments
        }
        assert [line[1] for line in shown].count("Fee") == len(amounts) + 1  # and the instant fee
        shot(page, shots, "dashboard-settlements", full=True)
        assert violations(page) == []

        with page.expect_download() as download:
            statement.get_by_role("link", name="Download CSV").click()
        text = Path(download.value.path()).read_text("utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 2 * len(amounts) + 1
        paid = {r["payment_id"]: r["amount"] for r in rows if r["kind"] == "payment"}
        assert paid == {p["id"]: f"{p['amount'] // 100}.{p['amount'] % 100:02d}" for p in payments}
        assert sorted(r["kind"] for r in rows) == ["fee"] * 3 + ["payment"] * 2

        with page.expect_download() as download:
            statement.get_by_role("button", name="Download JSON").click()
        document = json.loads(Path(download.value.path()).read_text("utf-8"))
        assert document["settlement"]["id"] == settlement["id"]
        assert len(document["lines"]) == 2 * len(amounts) + 1
        assert sum(line["amount"] for line in document["lines"]) == net
        assert {line["payment_id"] for line in document["lines"] if line["kind"] == "payment"} == {
            p["id"] for p in payments
        }
        expect(statement.locator("#d-stmt-out")).to_have_text(
            f"Downloaded {2 * len(amounts) + 1} lines."
        )

        # Nothing left: the next ask is refused in words.
        ask_instant_payout(page, section)
        expect(section.locator("#d-instant-out")).to_have_text("There is nothing to pay out yet.")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        section_ctx.close()


def test_the_settlements_list_pages_with_next_cursor(server: Server, till: Page) -> None:
    shop = new_merchant(server, name="Daily Payouts Stall")
    register_account(shop, GOOD_ACCOUNT)
    payer = new_consumer(server, balance=21 * 500)
    for i in range(21):  # 21 instant payouts: a page of 20 and one more
        order = shop.client.create_order(f"PAGE-{secrets.token_hex(3)}-{i}", 500)
        payer.client.pay_order(order["id"], PIN)
        shop.client.request("POST", "/v1/settlements/instant")
    section = sign_in(till, server.url, shop)
    rows = section.locator("#d-stl-rows tr")
    expect(rows).to_have_count(20)
    section.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(21)
    expect(section.get_by_role("button", name="Load more")).to_be_hidden()
    listed = rows.evaluate_all("rows => rows.map(r => r.dataset.settlement)")
    assert len(set(listed)) == 21


def test_a_long_statement_pages_on_screen_and_downloads_whole(server: Server, till: Page) -> None:
    shop = new_merchant(server, name="Busy Noodles")
    register_account(shop, GOOD_ACCOUNT)
    amounts = [100 + i for i in range(26)]  # 53 lines: more than a page on screen (50)
    payments = takings(server, shop, amounts)
    section = sign_in(till, server.url, shop)
    ask_instant_payout(till, section)
    expect(cell(section.locator("#d-stl-rows tr").first, 9)).to_have_text("Paid", timeout=20_000)
    section.locator("#d-stl-rows tr").first.get_by_role("button", name="Statement").click()
    statement = till.locator("#d-stmt")
    lines = statement.locator("#d-stmt-lines tr")
    expect(lines).to_have_count(50)
    with till.expect_download() as download:
        statement.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert len(rows) == 2 * len(amounts) + 1  # the CSV is whole already
    statement.get_by_role("button", name="Load more").click()
    expect(lines).to_have_count(2 * len(amounts) + 1)
    expect(statement.locator("#d-stmt-out")).to_be_hidden()
    with till.expect_download() as download:
        statement.get_by_role("button", name="Download JSON").click()
    document = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert {line["payment_id"] for line in document["lines"] if line["kind"] == "payment"} == {
        p["id"] for p in payments
    }


def test_a_payout_to_a_frozen_account_fails_in_words_in_english_and_chinese(
    server: Server, till: Page
) -> None:
    shop = new_merchant(server, name="Frozen Stall")
    register_account(shop, FROZEN_ACCOUNT)  # the bank verifies it, then refuses to pay into it
    payments = takings(server, shop, [2_000])
    net = 2_000 - payments[0]["fee"]
    net -= (net * INSTANT_FEE_PPM + 500_000) // 1_000_000
    section = sign_in(till, server.url, shop)
    ask_instant_payout(till, section)
    expect(section.locator("#d-instant-out")).to_have_text(
        f"The payout of {yuan(net)} failed: the account is frozen. It is paid again once the"
        " bank confirms another account of yours."
    )
    row = section.locator("#d-stl-rows tr").first
    expect(cell(row, 9).locator("[data-state]")).to_have_text("Payout failed")
    expect(cell(row, 9)).to_contain_text("the account is frozen")
    row.get_by_role("button", name="Statement").click()
    why = till.locator("#d-stmt-figures dt", has_text="Why")
    expect(why.locator("+ dd")).to_have_text("the account is frozen")

    # 中文: the section is drawn again in Chinese, without a reload.
    till.get_by_role("button", name="中文").click()
    expect(section.get_by_role("heading", name="结算", exact=True)).to_be_visible()
    expect(section.locator("thead")).to_contain_text("结算日")
    expect(cell(row, 9).locator("[data-state]")).to_have_text("打款失败")
    expect(cell(row, 9)).to_contain_text("账户已冻结")
    expect(row.get_by_role("button", name="对账单")).to_be_visible()
    expect(section.locator("#d-instant-out")).to_contain_text("提现失败：账户已冻结")
    expect(section.locator("#d-bank-current")).to_contain_text("打款到 •••• 8866")
    expect(section.locator("#d-bank-current .tag")).to_have_text("已验证")
    expect(section.get_by_label("每周结算，在下面选择的那天（截止 00:00）")).to_be_visible()
    expect(till.locator("#d-stmt-title")).to_have_text(
        f"{shop.client.request('GET', '/v1/settlements')['data'][0]['business_date']} 的对账单"
    )
    expect(till.locator("#d-stmt-lines")).to_contain_text("收款")
    till.get_by_role("button", name="English").click()
    expect(cell(row, 9).locator("[data-state]")).to_have_text("Payout failed")
    assert till.errors == []  # type: ignore[attr-defined]


def test_pay_me_now_waits_out_a_lost_read_of_the_bank_account(server: Server, till: Page) -> None:
    """The first reads of the bank account are lost (the stall's network drops): the dashboard
    says so and keeps "Pay me now" disabled, reads again by itself, and once a read gets through
    the notice goes and the owner can ask for the payout, without reloading the page."""
    shop = new_merchant(server, name="Patchy Stall")
    register_account(shop, GOOD_ACCOUNT)
    takings(server, shop, [1_500])
    network = {"up": False, "lost": 0}

    def patchy(route: Any) -> None:
        if network["up"]:
            route.continue_()
        else:
            network["lost"] += 1
            route.abort("internetdisconnected")

    till.route("**/v1/settlement/bank-accounts", patchy)
    section = sign_in(till, server.url, shop)
    expect(section.locator("#d-bank-out")).to_have_text(
        "No connection. Nothing was charged; try again."
    )
    pay_now = section.get_by_role("button", name="Pay me now")
    expect(pay_now).to_be_disabled()
    for _ in range(100):  # the page's route handler runs only while Playwright is waited on
        if network["lost"] >= 2:
            break
        till.wait_for_timeout(100)
    assert network["lost"] >= 2, "the dashboard did not read the account again"
    expect(pay_now).to_be_disabled()
    network["up"] = True
    expect(pay_now).to_be_enabled(timeout=15_000)
    expect(section.locator("#d-bank-out")).to_be_hidden()
    expect(section.locator("#d-bank-current")).to_contain_text("•••• 8812")
    ask_instant_payout(till, section)
    expect(section.locator("#d-instant-out")).to_contain_text("paid")
