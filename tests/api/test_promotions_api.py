"""Promotions over HTTP: a merchant runs a campaign, the payer sees the offer at the scan."""

from __future__ import annotations

import pytest

from saoma.client import SaomaError
from support import PIN, Server, new_consumer, new_merchant


def test_campaign_offer_at_preview_and_report(server: Server) -> None:
    shop = new_merchant(server)
    regular = new_consumer(server, balance=50_000)
    regular.client.pay_static(shop.id, 20_000, PIN)  # takings to fund a budget from
    campaign = shop.client.request(
        "POST",
        "/v1/campaigns",
        {"name": "¥5 off lunch", "kind": "amount_off", "amount_off": 500, "budget": 1_000},
    )
    assert campaign["budget_left"] == 1_000 and campaign["state"] == "active"

    payer = new_consumer(server, balance=10_000)
    order = shop.client.create_order("PROMO-1", 3_000)
    preview = payer.client.preview(order["qr_payload"])
    offer = preview["offer"]
    assert (offer["discount"], offer["pay_amount"], offer["reason"]) == (500, 2_500, "¥5 off lunch")
    paid = payer.client.request(
        "POST",
        f"/v1/orders/{order['id']}/pay",
        {"pin": PIN, "offer_id": offer["offer_id"]},
        idempotency_key="promo-pay-1",
    )
    assert (paid["amount"], paid["discount"], paid["paid"]) == (3_000, 500, 2_500)
    assert payer.client.me()["balance"] == 7_500
    received = shop.client.payments()["data"][0]
    assert (received["amount"], received["fee"]) == (3_000, 18)  # the fee is on the full price

    static = payer.client.request(
        "POST",
        "/v1/codes/preview",
        {"payload": shop.client.me()["static_code"]["qr_payload"], "amount": 2_000},
    )
    assert static["offer"]["pay_amount"] == 1_500

    report = shop.client.request("GET", f"/v1/campaigns/{campaign['id']}")
    assert (report["used_count"], report["subsidy_paid"], report["sales_with_discount"]) == (
        1,
        500,
        3_000,
    )
    ended = shop.client.request("POST", f"/v1/campaigns/{campaign['id']}/end")
    assert (ended["state"], ended["returned_to_funder"]) == ("ended", 500)
    later = shop.client.create_order("PROMO-2", 3_000)
    assert payer.client.preview(later["qr_payload"])["offer"] is None


def test_campaigns_are_the_merchants_own(server: Server) -> None:
    shop, other = new_merchant(server), new_merchant(server)
    new_consumer(server, balance=5_000).client.pay_static(shop.id, 3_000, PIN)
    campaign = shop.client.request(
        "POST",
        "/v1/campaigns",
        {"name": "10%", "kind": "percent_off", "percent_ppm": 100_000, "budget": 500},
    )
    for call in (
        lambda: other.client.request("GET", f"/v1/campaigns/{campaign['id']}"),
        lambda: other.client.request("POST", f"/v1/campaigns/{campaign['id']}/end"),
    ):
        with pytest.raises(SaomaError) as refused:
            call()
        assert refused.value.status == 404
    assert other.client.request("GET", "/v1/campaigns")["data"] == []
    with pytest.raises(SaomaError) as broke:
        other.client.request(
            "POST",
            "/v1/campaigns",
            {"name": "x", "kind": "amount_off", "amount_off": 1, "budget": 100},
        )
    assert broke.value.status == 402
    with pytest.raises(SaomaError) as bad_kind:
        shop.client.request(
            "POST", "/v1/campaigns", {"name": "x", "kind": "free_lunch", "budget": 100}
        )
    assert bad_kind.value.problem["field"] == "kind"
