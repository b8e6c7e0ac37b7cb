"""A merchant pauses, resumes and ends campaigns over HTTP, and finds payments by amount and payer.

Many tills or tabs may press the same button at once: the state changes by one conditional
UPDATE, so fifty concurrent "end" requests all see the campaign ended and its budget goes back
to the merchant exactly once.
"""

from __future__ import annotations

import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from saoma.client import ConsumerClient
from support import PASSWORD, PIN, Server, Shop, new_consumer, new_merchant, wait_for

BUDGET = 1_000


def call(server: Server, shop: Shop, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method,
        server.url + path,
        json=body,
        headers={"authorization": f"Bearer {shop.token}", "idempotency-key": secrets.token_hex(8)},
        timeout=60,
    )


def funded_campaign(server: Server) -> tuple[Shop, dict[str, Any], int]:
    """A shop with takings, its balance before the campaign, and a ¥1-off campaign."""
    shop = new_merchant(server)
    new_consumer(server, balance=20_000).client.pay_static(shop.id, 10_000, PIN)
    before = shop.client.me()["balance"]
    made = call(
        server,
        shop,
        "POST",
        "/v1/campaigns",
        {"name": "¥1 off", "kind": "amount_off", "amount_off": 100, "budget": BUDGET},
    )
    assert made.status_code == 201, made.text
    assert shop.client.me()["balance"] == before - BUDGET
    return shop, made.json(), before


def at_once(server: Server, shop: Shop, paths: list[str]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(lambda path: call(server, shop, "POST", path), paths))


def test_fifty_concurrent_ends_all_see_it_ended_and_the_budget_returns_once(
    server: Server,
) -> None:
    shop, campaign, before = funded_campaign(server)
    answers = at_once(server, shop, [f"/v1/campaigns/{campaign['id']}/end"] * 50)
    assert Counter(a.status_code for a in answers) == {200: 50}, [a.text for a in answers]
    assert {a.json()["state"] for a in answers} == {"ended"}
    wait_for(lambda: shop.client.me()["balance"] == before, what="the budget to come back")
    report = shop.client.request("GET", f"/v1/campaigns/{campaign['id']}")
    assert (report["returned_to_funder"], report["budget_left"]) == (BUDGET, 0)
    assert shop.client.me()["balance"] == before  # once, not fifty times


def test_fifty_concurrent_resumes_and_ends_end_it_with_one_return(server: Server) -> None:
    shop, campaign, before = funded_campaign(server)
    base = f"/v1/campaigns/{campaign['id']}"
    paused = at_once(server, shop, [base + "/pause"] * 50)
    assert Counter((a.status_code, a.json()["state"]) for a in paused) == {(200, "paused"): 50}
    payer = new_consumer(server, balance=5_000)
    order = shop.client.create_order("PAUSED-" + secrets.token_hex(3), 2_000)
    assert payer.client.preview(order["qr_payload"])["offer"] is None

    answers = at_once(server, shop, [base + "/resume", base + "/end"] * 25)
    ends, resumes = answers[1::2], answers[0::2]
    assert Counter(a.status_code for a in ends) == {200: 25}, [a.text for a in ends]
    for resumed in resumes:  # before the end it resumed; after it, it is refused in words
        if resumed.status_code == 200:
            assert resumed.json()["state"] in ("active", "ended")
        else:
            assert resumed.status_code == 409, resumed.text
            assert resumed.headers["content-type"].startswith("application/problem+json")
            assert resumed.json()["type"].rsplit("/", 1)[-1] in (
                "campaign-ended",
                "campaign-changed",
            )
    assert shop.client.request("GET", base)["state"] == "ended"
    wait_for(lambda: shop.client.me()["balance"] == before, what="the budget to come back")
    assert shop.client.request("GET", base)["returned_to_funder"] == BUDGET
    later = shop.client.create_order("ENDED-" + secrets.token_hex(3), 2_000)
    assert payer.client.preview(later["qr_payload"])["offer"] is None


def test_another_merchants_campaign_is_not_found_and_bad_input_is_a_problem(
    server: Server,
) -> None:
    shop, campaign, _ = funded_campaign(server)
    other = new_merchant(server)
    for action in ("pause", "resume", "end"):
        refused = call(server, other, "POST", f"/v1/campaigns/{campaign['id']}/{action}")
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    missing = call(server, shop, "POST", "/v1/campaigns/cmp_nothing_here/pause")
    assert missing.status_code == 404 and missing.json()["type"].endswith("/not-found")
    assert shop.client.request("GET", f"/v1/campaigns/{campaign['id']}")["state"] == "active"

    balance = shop.client.me()["balance"]
    for body, field in (
        ({"name": "x", "kind": "amount_off", "amount_off": 100, "budget": "lots"}, "budget"),
        ({"name": "x", "kind": "amount_off", "amount_off": 0, "budget": 100}, "amount_off"),
        ({"name": "", "kind": "amount_off", "amount_off": 100, "budget": 100}, "name"),
        ({"name": "x", "kind": "free_lunch", "budget": 100}, "kind"),
    ):
        bad = call(server, shop, "POST", "/v1/campaigns", body)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["field"] == field
    assert shop.client.me()["balance"] == balance
    assert len(shop.client.request("GET", "/v1/campaigns")["data"]) == 1


def payer_named(server: Server, name: str, balance: int) -> ConsumerClient:
    client = ConsumerClient(server.url)
    client.sign_up(f"+86137{secrets.randbelow(10**8):08d}", PASSWORD, name)
    client.set_pin(PIN, password=PASSWORD)
    client.top_up(balance)
    wait_for(lambda: client.me()["balance"] == balance, what="the top-up to settle")
    return client


def test_payments_are_found_by_amount_and_by_payer(server: Server) -> None:
    shop = new_merchant(server)
    zhang = payer_named(server, "张敏", 10_000)
    wang = payer_named(server, "Wang Fang", 10_000)
    zhang.pay_static(shop.id, 3_500, PIN)
    wang.pay_static(shop.id, 3_500, PIN)
    wang.pay_static(shop.id, 1_200, PIN)

    def found(**params: Any) -> list[tuple[int, str]]:
        page = call(server, shop, "GET", "/v1/merchant/payments?" + str(httpx.QueryParams(params)))
        assert page.status_code == 200, page.text
        return [(p["amount"], p["payer"]) for p in page.json()["data"]]

    assert found(amount=3_500) == [(3_500, "*Fang"), (3_500, "*敏")]
    assert found(payer="*敏") == [(3_500, "*敏")]
    assert found(payer="fang") == [(1_200, "*Fang"), (3_500, "*Fang")]
    assert found(payer="*Fang", amount=1_200) == [(1_200, "*Fang")]
    assert found(amount=999) == []
    for params, field in (({"amount": "12.5"}, "amount"), ({"amount": 0}, "amount")):
        bad = call(server, shop, "GET", "/v1/merchant/payments?" + str(httpx.QueryParams(params)))
        assert bad.status_code == 422 and bad.json()["field"] == field, bad.text
    bad = call(server, shop, "GET", "/v1/merchant/payments?payer=*")
    assert bad.status_code == 422 and bad.json()["field"] == "payer", bad.text
    other = new_merchant(server)
    assert call(server, other, "GET", "/v1/merchant/payments?payer=fang").json()["data"] == []
