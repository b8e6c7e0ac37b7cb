"""Coupons from the payer's side over HTTP: the offer read before collecting (no budget in it),
collecting once however often or however many times at once, the list with the shop, the offer
and its state, and the preview naming the payer's own coupon."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from saoma.client import SaomaError
from support import PIN, Server, Shop, new_consumer, new_merchant

SPEND_GET = {"name": "¥3 off from ¥20", "kind": "spend_get", "amount_off": 300, "min_spend": 2_000}
BUDGET_WORDS = ("budget", "budget_left", "subsidy_paid", "used_count", "sales_with_discount")


def coupon_shop(server: Server, **spec: Any) -> tuple[Shop, dict[str, Any]]:
    shop = new_merchant(server)
    new_consumer(server, balance=20_000).client.pay_static(shop.id, 10_000, PIN)  # takings
    body = SPEND_GET | {"budget": 900, "needs_coupon": True} | spec
    return shop, shop.client.request("POST", "/v1/campaigns", body)


def refused(call: Any) -> SaomaError:
    with pytest.raises(SaomaError) as caught:
        call()
    return caught.value


def test_a_payer_reads_a_coupon_collects_it_once_and_sees_it_used(server: Server) -> None:
    shop, made = coupon_shop(server)
    payer = new_consumer(server, balance=10_000)
    offer = payer.client.request("GET", f"/v1/coupons/{made['id']}")
    assert offer["merchant"]["id"] == shop.id and offer["merchant"]["name"]
    assert (offer["name"], offer["kind"], offer["amount_off"], offer["min_spend"]) == (
        "¥3 off from ¥20",
        "spend_get",
        300,
        2_000,
    )
    assert (offer["state"], offer["campaign_state"], offer["ends_at"]) == (None, "active", None)
    assert not set(BUDGET_WORDS) & set(offer), "a payer never sees the campaign's money"

    first = payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons")
    assert (first["state"], first["already_collected"]) == ("collected", False)
    again = payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons")
    assert (again["state"], again["already_collected"]) == ("collected", True)
    assert payer.client.request("GET", f"/v1/coupons/{made['id']}")["state"] == "collected"
    mine = payer.client.request("GET", "/v1/me/coupons")["data"]
    assert [(c["campaign_id"], c["state"], c["merchant"]["id"]) for c in mine] == [
        (made["id"], "collected", shop.id)
    ]
    assert not set(BUDGET_WORDS) & set(mine[0])

    # Under the minimum spend nothing applies; above it, the offer says it is the payer's coupon.
    small = shop.client.create_order("CPN-S", 1_500)
    assert payer.client.preview(small["qr_payload"])["offer"] is None
    order = shop.client.create_order("CPN-1", 3_000)
    quoted = payer.client.preview(order["qr_payload"])["offer"]
    assert (quoted["coupon"], quoted["discount"], quoted["pay_amount"]) == (True, 300, 2_700)
    paid = payer.client.request(
        "POST", f"/v1/orders/{order['id']}/pay", {"pin": PIN, "offer_id": quoted["offer_id"]}
    )
    assert (paid["discount"], paid["paid"]) == (300, 2_700)
    assert payer.client.request("GET", "/v1/me/coupons")["data"][0]["state"] == "used"
    used = payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons")
    assert (used["state"], used["already_collected"]) == ("used", True)


def test_a_plain_campaigns_offer_is_not_a_coupon(server: Server) -> None:
    shop, _ = coupon_shop(server, needs_coupon=False, name="¥3 off")
    payer = new_consumer(server, balance=10_000)
    order = shop.client.create_order("CPN-P", 3_000)
    assert payer.client.preview(order["qr_payload"])["offer"]["coupon"] is False


def test_unknown_plain_and_ended_coupons_are_not_found_and_change_nothing(server: Server) -> None:
    shop, made = coupon_shop(server)
    plain = shop.client.request("POST", "/v1/campaigns", SPEND_GET | {"budget": 100})
    payer = new_consumer(server)
    for campaign_id in ("cmp_nothing", plain["id"], "x" * 300, "%E4%B8%AD"):
        problem = refused(lambda c=campaign_id: payer.client.request("GET", f"/v1/coupons/{c}"))
        assert (problem.status, problem.slug) == (404, "not-found")
    shop.client.request("POST", f"/v1/campaigns/{made['id']}/pause")
    paused = payer.client.request("GET", f"/v1/coupons/{made['id']}")
    assert paused["campaign_state"] == "paused"
    problem = refused(lambda: payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons"))
    assert (problem.status, problem.slug) == (409, "campaign-ended")
    shop.client.request("POST", f"/v1/campaigns/{made['id']}/end")
    problem = refused(lambda: payer.client.request("GET", f"/v1/coupons/{made['id']}"))
    assert (problem.status, problem.slug) == (404, "not-found")
    assert payer.client.request("GET", "/v1/me/coupons")["data"] == []


def test_a_coupon_ended_after_collecting_is_listed_as_ended(server: Server) -> None:
    shop, made = coupon_shop(server)
    payer = new_consumer(server)
    payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons")
    shop.client.request("POST", f"/v1/campaigns/{made['id']}/end")
    [coupon] = payer.client.request("GET", "/v1/me/coupons")["data"]
    assert (coupon["state"], coupon["campaign_state"]) == ("collected", "ended")


def test_a_coupon_is_read_only_by_a_signed_in_payer(server: Server) -> None:
    shop, made = coupon_shop(server)
    problem = refused(lambda: shop.client.request("GET", f"/v1/coupons/{made['id']}"))
    assert problem.status == 401


def test_fifty_collects_at_once_make_one_coupon(server: Server) -> None:
    _, made = coupon_shop(server)
    payer = new_consumer(server)
    start = threading.Barrier(50)

    def collect(_: int) -> Any:
        start.wait()
        try:
            return payer.client.request("POST", f"/v1/campaigns/{made['id']}/coupons")
        except SaomaError as exc:
            return exc

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(collect, range(50)))
    assert all(isinstance(a, dict) for a in answers), [
        a for a in answers if not isinstance(a, dict)
    ]
    assert Counter(a["already_collected"] for a in answers) == {False: 1, True: 49}
    assert len(payer.client.request("GET", "/v1/me/coupons")["data"]) == 1
