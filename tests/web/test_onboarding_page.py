"""Onboarding in the dashboard: a new merchant submits its business details, sees the limit
while they are reviewed and the owner's ID only masked, and sees the approval when risk gives it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from kyc.ops_client import OpsClient
from support import PASSWORD, Server, engine_of
from support_ops import signed_in_operator
from support_web import shot

ID_NUMBER = "11010519491231002X"


def test_a_merchant_submits_its_details_and_sees_them_approved(
    server: Server, till: Page, shots: Path
) -> None:
    login = f"tea-{secrets.token_hex(4)}@example.cn"
    signed_up = httpx.post(
        server.url + "/v1/merchants",
        json={"login": login, "password": PASSWORD, "name": "New Tea", "city": "Shenzhen"},
    )
    assert signed_up.status_code == 201, signed_up.text
    merchant_id = signed_up.json()["merchant"]["id"]
    till.goto(server.url + "/dashboard")
    till.locator("#ds-login").fill(login)
    till.locator("#ds-password").fill(PASSWORD)
    till.locator("#ds-password").press("Enter")
    card = till.locator("#d-kyc")
    expect(card.locator("#d-kyc-tag")).to_have_text("Not submitted")
    expect(card.locator("#d-kyc-state")).to_contain_text("¥2000.00 a day")
    card.get_by_label("Legal name").fill("深圳市新茶饮有限公司")
    card.get_by_label("Licence number").fill("91440300MA5EXAMPL6")
    card.get_by_label("Merchant category code").fill("5814")
    card.get_by_label("Owner's ID number").fill("110105194912310021")  # a wrong check digit
    card.get_by_role("button", name="Submit for review").click()
    expect(card.locator("#d-kyc-out")).to_contain_text("check digit")
    card.get_by_label("Owner's ID number").fill(ID_NUMBER)
    card.get_by_role("button", name="Submit for review").click()
    expect(card.locator("#d-kyc-tag")).to_have_text("In review")
    expect(card.locator("#d-kyc-on-file")).to_contain_text("**************002X")
    expect(card).not_to_contain_text(ID_NUMBER)
    expect(card.locator("#d-kyc-form")).to_be_hidden()

    risk = signed_in_operator(engine_of(server.database_url), "risk")
    OpsClient(server.url, risk, "onboarding review").request(
        "POST", f"/v1/ops/kyc/{merchant_id}/approve", {}
    )
    till.reload()
    expect(till.locator("#d-kyc-tag")).to_have_text("Approved")
    expect(till.locator("#d-kyc-state")).to_contain_text("approved")
    expect(till.locator("#d-kyc")).not_to_contain_text(ID_NUMBER)
    shot(till, shots, "dashboard-onboarding")
