"""Every answer the API gives matches the operation's documented schema, with no member more.

Routes document their success body with an ``*Out`` model but send the service's view as it is
(``saoma.api.responses.answer``): nothing at run time would notice a member the model lacks, a
null it forbids or a wrong type. This tour drives every JSON operation of the API over HTTP
against a real server (SQLite and PostgreSQL), idempotent replays (stored bytes) included, and
checks each answer, success or problem, as it arrives: its status must be documented for the
operation and its body must match the schema of ``/openapi.json`` with every object closed
(``additionalProperties: false``). It fails if an operation was never answered with success.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.openapi_strict import JSON_MEDIA, StrictDocument
from api.tour_ops import tour_ops
from kyc.ops_client import OpsClient
from saoma import signing
from saoma.client import ConsumerClient, MerchantClient, SaomaError, _Base
from saoma.db import make_engine
from saoma.paycode import codes
from support import (
    PASSWORD,
    PIN,
    Server,
    engine_of,
    free_port,
    sandbox_server,
    wait_for,
)
from support_ops import operator_at, signed_in_operator

__all__ = ["sandbox_server"]

# A one-pixel PNG, for a dispute's photo.
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)

UNREACHABLE = "http://127.0.0.1:9/hooks"  # nothing listens there: deliveries fail and are kept


class Contract:
    """Checks each answer against the document; records the operations answered with success."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.strict = StrictDocument(document)
        self.succeeded: set[tuple[str, str]] = set()

    def watch(self, client: _Base) -> _Base:
        client.http.event_hooks = {"response": [self.check]}
        return client

    def check(self, response: httpx.Response) -> None:
        response.read()
        method, path = response.request.method.lower(), response.request.url.path
        template = self.strict.template(path)
        if template is None or method not in self.strict.document["paths"][template]:
            return  # /healthz, /openapi.json, the pages
        where = f"{method.upper()} {template} -> {response.status_code}"
        documented = self.strict.document["paths"][template][method]["responses"]
        assert str(response.status_code) in documented, f"{where}: status not documented"
        content = documented[str(response.status_code)].get("content", {})
        media = response.headers.get("content-type", "").split(";")[0]
        if not content:
            assert response.content == b"", f"{where}: a body where none is documented"
        else:
            assert media in content, f"{where}: {media} not documented"
            if media in JSON_MEDIA:
                errors = self.strict.errors(content[media]["schema"], response.json())
                assert errors == [], f"{where}: {errors}\n{response.text}"
        if response.is_success:
            self.succeeded.add((method.upper(), template))

    def json_operations(self) -> set[tuple[str, str]]:
        return {
            (method.upper(), path)
            for path, methods in self.strict.document["paths"].items()
            for method, operation in methods.items()
            for status, answer in operation["responses"].items()
            if status.startswith("2") and "application/json" in answer.get("content", {})
        }


@pytest.fixture(scope="module")
def server(sandbox_server: Server) -> Server:
    """A server whose sandbox messages are readable over the API (as in demo mode)."""
    return sandbox_server


@pytest.fixture
def contract(server: Server) -> Contract:
    return Contract(httpx.get(server.url + "/openapi.json").json())


def consumer(contract: Contract, server: Server, balance: int = 0) -> ConsumerClient:
    client = ConsumerClient(server.url)
    contract.watch(client)
    login = f"+86139{secrets.randbelow(10**8):08d}"
    client.login = login  # type: ignore[attr-defined]
    body = client.request("POST", "/v1/consumers", {"login": login, "password": PASSWORD})
    client.token = body["token"]
    client.request("PUT", "/v1/me/pin", {"pin": PIN, "password": PASSWORD})
    if balance:
        client.request("POST", "/v1/me/top-ups", {"amount": balance})
        wait_for(lambda: client.request("GET", "/v1/me")["balance"] == balance, what="top-up")
    return client


def merchant(contract: Contract, server: Server) -> tuple[MerchantClient, dict[str, Any]]:
    key = signing.new_private_key()
    anonymous = contract.watch(ConsumerClient(server.url))
    body = anonymous.request(
        "POST",
        "/v1/merchants",
        {
            "login": f"shop-{secrets.token_hex(4)}@example.cn",
            "password": PASSWORD,
            "name": "Old Chen Noodles",
            "name_zh": "老陈面馆",
            "city": "Shenzhen",
            "webhook_url": UNREACHABLE,
            "public_key": base64.b64encode(signing.public_key_bytes(key)).decode(),
        },
    )
    shop = MerchantClient(server.url, key_id=body["key_id"], private_key=key)
    contract.watch(shop)
    return shop, body


def tour_onboarding(contract: Contract, server: Server, shop: MerchantClient) -> None:
    """The merchant's details, risk's queue, review and decisions, and finance's books."""
    details = {
        "legal_name": "深圳市老陈餐饮有限公司",
        "licence_number": "91440300MA5EXAMPL6",
        "category": "5814",
        "owner_id_number": "11010519491231002X",
    }
    shop.request("GET", "/v1/merchant/kyc")
    shop.request("PUT", "/v1/merchant/kyc", details)
    other, _ = merchant(contract, server)
    other.request("PUT", "/v1/merchant/kyc", details)
    engine = engine_of(server.database_url)
    risk = contract.watch(OpsClient(server.url, signed_in_operator(engine, "risk"), "ticket 7"))
    queue = risk.request("GET", "/v1/ops/kyc", params={"state": "pending"})["data"]
    first, second = (row["merchant_id"] for row in queue[:2])
    risk.request("GET", f"/v1/ops/kyc/{first}")
    risk.request("POST", f"/v1/ops/kyc/{first}/approve", {})
    risk.request("POST", f"/v1/ops/kyc/{second}/reject", {"message": "Licence unreadable."})
    finance = contract.watch(OpsClient(server.url, signed_in_operator(engine, "finance")))
    finance.request("GET", "/v1/ops/books")


def tour_settlement(shop: MerchantClient) -> None:
    """A bank account verified by the sandbox bank, the schedule, an instant payout of the
    tour's takings, and its statement."""
    body = {
        "holder_name": "Chen Jianguo",
        "account_number": "6222 0210 0111 8812",
        "manager_pin": "135790",
    }
    shop.request("POST", "/v1/settlement/bank-accounts", body)
    wait_for(
        lambda: shop.request("GET", "/v1/settlement/bank-accounts")["current"] is not None,
        what="the bank's verification",
    )
    shop.request("GET", "/v1/settlement/terms")
    shop.request("PUT", "/v1/settlement/terms", {"schedule": "weekly", "weekday": "friday"})
    paid = shop.request("POST", "/v1/settlements/instant")
    shop.request("GET", "/v1/settlements")
    shop.request("GET", f"/v1/settlements/{paid['id']}")
    lines = shop.request("GET", f"/v1/settlements/{paid['id']}/lines", params={"limit": 2})
    assert lines["data"]


def test_every_json_answer_matches_its_documented_schema(
    server: Server, contract: Contract
) -> None:
    payer = consumer(contract, server, balance=200_000)
    friend = consumer(contract, server)
    shop, signed_up = merchant(contract, server)
    paid = tour_wallet_and_orders(server, contract, payer, shop)
    tour_merchant(server, contract, shop, signed_up, paid)
    tour_holds_and_charges(shop, payer)
    tour_people(server, payer, friend)
    tour_promotions(server, shop, payer)
    tour_identifiers(server, payer)
    tour_settlement(shop)
    tour_bank_statement(payer)
    tour_splits(contract, server, shop, payer)
    tour_disputes(contract, server, shop, payer)
    tour_mandates(server, shop, payer)
    tour_mini_programs(server, shop, payer)
    tour_ops(contract.watch, server, payer, shop)
    tour_freezes(contract, server, shop, payer)
    tour_onboarding(contract, server, shop)
    tour_bills(payer)
    tour_sessions(contract, server, friend)
    payer.request("GET", "/v1/problems")  # the error catalogue, for clients and the pages
    payer.request("DELETE", "/v1/sessions/current")
    missing = contract.json_operations() - contract.succeeded
    assert missing == set(), f"never answered with success: {sorted(missing)}"


def tour_sessions(contract: Contract, server: Server, friend: ConsumerClient) -> None:
    """New passwords, and every session ended: a wallet's, and a shop's from a signed request."""
    change = {"current_password": PASSWORD, "new_password": "another horse battery"}
    friend.request("PUT", "/v1/me/password", change)
    friend.request("DELETE", "/v1/sessions")
    shop, _ = merchant(contract, server)
    shop.request("PUT", "/v1/merchant/password", change)
    shop.request("DELETE", "/v1/merchant-sessions")


def tour_wallet_and_orders(
    server: Server, contract: Contract, payer: ConsumerClient, shop: MerchantClient
) -> dict[str, Any]:
    payer.request("GET", "/v1/me")
    payer.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 2_000, "per_day": 5_000, "pin": PIN}
    )
    again = contract.watch(ConsumerClient(server.url))
    again.request("POST", "/v1/sessions", {"login": payer.login, "password": PASSWORD})  # type: ignore[attr-defined]
    with pytest.raises(SaomaError):  # a problem document is checked too
        again.request("POST", "/v1/sessions", {"login": payer.login, "password": "wrong"})  # type: ignore[attr-defined]
    key = secrets.token_hex(8)
    top_up = payer.request("POST", "/v1/me/top-ups", {"amount": 1_000}, idempotency_key=key)
    assert payer.request("POST", "/v1/me/top-ups", {"amount": 1_000}, idempotency_key=key) == top_up
    payer.request("GET", f"/v1/me/bank-transfers/{top_up['id']}")
    payer.request("POST", "/v1/me/withdrawals", {"amount": 500, "pin": PIN})
    payer.request("GET", "/v1/me/bank-transfers", params={"limit": 5})
    order = shop.request("POST", "/v1/orders", {"merchant_order_no": "C-1", "amount": 2_500})
    assert shop.request("POST", "/v1/orders", {"merchant_order_no": "C-1", "amount": 2_500})
    shop.request("GET", "/v1/orders", params={"merchant_order_no": "C-1"})
    payer.request("POST", "/v1/codes/preview", {"payload": order["qr_payload"]})
    key = secrets.token_hex(8)
    paid = payer.request("POST", f"/v1/orders/{order['id']}/pay", {"pin": PIN}, idempotency_key=key)
    replay = payer.request(
        "POST", f"/v1/orders/{order['id']}/pay", {"pin": PIN}, idempotency_key=key
    )
    assert replay == paid and payer.last_response is not None
    assert payer.last_response.headers.get("idempotent-replayed") == "true"
    shop.request("GET", f"/v1/orders/{order['id']}")
    closed = shop.request("POST", "/v1/orders", {"merchant_order_no": "C-2", "amount": 100})
    shop.request("POST", f"/v1/orders/{closed['id']}/close")
    static = shop.request("GET", "/v1/merchant")["static_code"]["qr_payload"]
    payer.request("POST", "/v1/codes/preview", {"payload": static})
    payer.request("POST", "/v1/codes/preview", {"payload": static, "amount": 1_500})
    merchant_id = order["merchant_id"]
    payer.request(
        "POST", f"/v1/merchants/{merchant_id}/pay", {"amount": 1_500, "pin": PIN, "note": "tea"}
    )
    payer.request("GET", "/v1/me/payments")
    payer.request("GET", f"/v1/me/payments/{paid['id']}")
    return paid


def tour_merchant(
    server: Server,
    contract: Contract,
    shop: MerchantClient,
    signed_up: dict[str, Any],
    paid: dict[str, Any],
) -> None:
    session = contract.watch(ConsumerClient(server.url, signed_up["token"]))
    login = signed_up["merchant"]["login"]
    session.request("POST", "/v1/merchant-sessions", {"login": login, "password": PASSWORD})
    shop.request("PUT", "/v1/merchant/webhook", {"url": UNREACHABLE})
    shop.request("GET", "/v1/merchant/webhook-secret")
    shop.request("POST", "/v1/merchant/webhook-secret")
    shop.request("GET", "/v1/merchant/webhook-secret")  # with the previous secret, in overlap
    session.request("PUT", "/v1/merchant/manager-pin", {"pin": "135790", "password": PASSWORD})
    added = shop.request(
        "POST",
        "/v1/merchant/keys",
        {
            "public_key": base64.b64encode(
                signing.public_key_bytes(signing.new_private_key())
            ).decode()
        },
    )
    shop.request("GET", "/v1/merchant/keys")
    shop.request("DELETE", f"/v1/merchant/keys/{added['id']}")
    shop.request("GET", "/v1/merchant/payments")
    shop.request("GET", "/v1/merchant/payments", params={"kind": "static", "q": "tea"})
    shop.request("GET", "/v1/merchant/summary", params={"days": 3})
    key = secrets.token_hex(8)
    body = {"amount": 500, "merchant_refund_no": "R-1", "reason": "cold"}
    refund = shop.request("POST", f"/v1/payments/{paid['id']}/refunds", body, idempotency_key=key)
    again = shop.request("POST", f"/v1/payments/{paid['id']}/refunds", body, idempotency_key=key)
    assert again == refund
    shop.request("GET", f"/v1/merchant/payments/{paid['id']}")
    shop.request("GET", "/v1/merchant/refunds", params={"payment_id": paid["id"]})
    shop.request("GET", "/v1/merchant/refunds/by-no/R-1")
    wait_for(
        lambda: shop.request("GET", "/v1/merchant/webhook-deliveries")["data"][-1]["attempts"],
        what="a delivery attempt",
    )
    event = shop.request("GET", "/v1/merchant/webhook-deliveries")["data"][0]
    shop.request("POST", f"/v1/merchant/webhook-deliveries/{event['id']}/replay")


def tour_holds_and_charges(shop: MerchantClient, payer: ConsumerClient) -> None:
    hold = shop.request(
        "POST", "/v1/holds", {"merchant_ref": "bike-1", "amount": 9_900, "expires_in_s": 3600}
    )
    payer.request("POST", "/v1/codes/preview", {"payload": hold["qr_payload"]})
    payer.request("POST", f"/v1/holds/{hold['id']}/consent", {"pin": PIN})
    payer.request("GET", "/v1/me/holds")
    shop.request("GET", f"/v1/holds/{hold['id']}")
    shop.request("POST", f"/v1/holds/{hold['id']}/capture", {"amount": 150})
    other = shop.request("POST", "/v1/holds", {"merchant_ref": "bike-2", "amount": 500})
    shop.request("POST", f"/v1/holds/{other['id']}/void")
    shop.request("GET", "/v1/merchant/holds", params={"state": "captured"})
    device = payer.request("POST", "/v1/me/devices", {"label": "phone"})
    payer.request("GET", "/v1/me/devices")
    secret, handles = base64.b64decode(device["secret"]), device["handles"]
    small = codes.generate(secret, handles[0], time.time())
    shop.request(
        "POST", "/v1/charges", {"code": small, "amount": 1_000, "merchant_order_no": "T-1"}
    )
    large = codes.generate(secret, handles[1], time.time())
    charge = shop.request(
        "POST", "/v1/charges", {"code": large, "amount": 3_000, "merchant_order_no": "T-2"}
    )
    assert charge["state"] == "waiting_for_payer"
    payer.request("GET", "/v1/me/charges")
    payer.request("POST", f"/v1/me/charges/{charge['id']}/answer", {"pin": PIN})
    shop.request("GET", f"/v1/charges/{charge['id']}")
    payer.request("POST", f"/v1/me/devices/{device['device_id']}/handles")
    payer.request("DELETE", f"/v1/me/devices/{device['device_id']}")


def tour_people(server: Server, payer: ConsumerClient, friend: ConsumerClient) -> None:
    code = payer.request("GET", "/v1/me/code")
    friend.request("POST", "/v1/codes/preview", {"payload": code["qr_payload"]})
    friend_id = friend.request("GET", "/v1/me")["id"]
    payer.request("POST", "/v1/transfers/recipient", {"to": friend_id})
    payer.request("POST", "/v1/transfers", {"to": friend_id, "amount": 300, "pin": PIN})
    payer.request("POST", "/v1/transfers", {"to": "+8613700000001", "amount": 200, "pin": PIN})
    payer.request("GET", "/v1/me/transfers")
    packet = payer.request(
        "POST",
        "/v1/red-packets",
        {"amount": 1_000, "shares": 2, "greeting": "恭喜发财", "pin": PIN},
    )
    friend.request("POST", f"/v1/red-packets/{packet['id']}/claim")
    payer.request("POST", f"/v1/red-packets/{packet['id']}/claim")
    friend.request("GET", f"/v1/red-packets/{packet['id']}")  # emptied: with the luckiest


def tour_promotions(server: Server, shop: MerchantClient, payer: ConsumerClient) -> None:
    spec = {"name": "Lunch", "kind": "amount_off", "budget": 1_000, "amount_off": 100}
    campaign = shop.request("POST", "/v1/campaigns", spec)
    coupons = shop.request("POST", "/v1/campaigns", spec | {"name": "Club", "needs_coupon": True})
    shop.request("GET", "/v1/campaigns")
    shop.request("POST", f"/v1/campaigns/{campaign['id']}/pause")
    shop.request("POST", f"/v1/campaigns/{campaign['id']}/resume")
    collect_coupon(server, payer, coupons["id"])
    payer.request("GET", "/v1/me/coupons")
    payer.request("GET", f"/v1/coupons/{coupons['id']}")  # the offer, as the shop shared it
    static = shop.request("GET", "/v1/merchant")["static_code"]["qr_payload"]
    preview = payer.request("POST", "/v1/codes/preview", {"payload": static, "amount": 900})
    assert preview["offer"] is not None
    merchant_id = preview["merchant"]["id"]
    payer.request(
        "POST",
        f"/v1/merchants/{merchant_id}/pay",
        {"amount": 900, "pin": PIN, "offer_id": preview["offer"]["offer_id"]},
    )
    shop.request("GET", f"/v1/campaigns/{campaign['id']}")
    shop.request("POST", f"/v1/campaigns/{campaign['id']}/end")


def tour_identifiers(server: Server, payer: ConsumerClient) -> None:
    email = f"li-{secrets.token_hex(3)}@example.cn"
    payer.request("POST", "/v1/me/identifiers", {"identifier": email})
    engine = make_engine(server.database_url)
    try:  # a minute has passed, as far as the resend rule knows
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE identifiers SET code_sent_at_us = 0 WHERE value = :v"), {"v": email}
            )
    finally:
        engine.dispose()
    payer.request("POST", "/v1/me/identifiers/code", {"identifier": email})
    sent = payer.request("GET", "/v1/sandbox/messages", params={"to": email, "limit": "1"})
    code = sent["data"][0]["body"].split("code is ")[1][:6]
    payer.request("POST", "/v1/me/identifiers/verify", {"identifier": email, "code": code})
    payer.request("GET", "/v1/me/identifiers")


def tour_bank_statement(payer: ConsumerClient) -> None:
    """Not JSON: the sandbox bank's camt.053 statement, checked for its status and media type."""
    statement = payer.http.get("/v1/sandbox/bank-statement", params={"faults": "unknown"})
    assert statement.status_code == 200 and b"camt.053.001.08" in statement.content
    refused = payer.http.get("/v1/sandbox/bank-statement", params={"faults": "lost"})
    assert refused.status_code == 422 and refused.json()["field"] == "faults"
    payer.request("POST", "/v1/sandbox/settle", {"at": "2026-12-06T00:05:00+08:00"})


def collect_coupon(server: Server, payer: ConsumerClient, campaign_id: str) -> None:
    """Collecting a coupon stores the state "collected" (nine letters), on both databases."""
    payer.request("POST", f"/v1/campaigns/{campaign_id}/coupons")


def tour_splits(
    contract: Contract, server: Server, shop: MerchantClient, payer: ConsumerClient
) -> None:
    court, signed_up = merchant(contract, server)
    court_id = signed_up["merchant"]["id"]
    offer = {"receiver_id": court_id, "share_ppm": 80_000, "cap": 500}
    agreement = shop.request("POST", "/v1/split-agreements", offer)
    court.request("POST", f"/v1/split-agreements/{agreement['id']}/accept")
    declined = shop.request("POST", "/v1/split-agreements", offer | {"standing": True})
    court.request("POST", f"/v1/split-agreements/{declined['id']}/decline")
    court.request("GET", "/v1/split-agreements")
    shop_id = shop.request("GET", "/v1/merchant")["id"]
    paid = payer.request("POST", f"/v1/merchants/{shop_id}/pay", {"amount": 2_000, "pin": PIN})
    body = {"agreement_id": agreement["id"]}
    shop.request("POST", f"/v1/payments/{paid['id']}/splits", body)
    key = secrets.token_hex(8)
    first = shop.request("POST", f"/v1/payments/{paid['id']}/splits", body, idempotency_key=key)
    again = shop.request("POST", f"/v1/payments/{paid['id']}/splits", body, idempotency_key=key)
    assert again == first
    shop.request("GET", f"/v1/payments/{paid['id']}/splits")
    with pytest.raises(SaomaError):  # a problem document is checked too
        shop.request("POST", f"/v1/payments/{paid['id']}/splits", {"agreement_id": "sa_none"})
    shop.request("POST", f"/v1/split-agreements/{agreement['id']}/end")


class _Operator(_Base):
    """An operator of ``role`` (written straight into the tables), typing ``reason``."""

    def __init__(self, server: Server, role: str, reason: str) -> None:
        super().__init__(server.url)
        self.headers = operator_at(server.database_url, role).headers(reason)

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return dict(self.headers)


def tour_disputes(
    contract: Contract, server: Server, shop: MerchantClient, payer: ConsumerClient
) -> None:
    """A dispute with a photo contested and decided by support; another refunded by the merchant,
    a third withdrawn."""
    photo = {"content_type": "image/png", "data": PNG_1PX}
    opened = []
    for n in range(3):
        paid = payer.pay_static(shop.me()["id"], 1_000 + n, PIN)
        body = {"payment_id": paid["id"], "reason": "other", "text": f"Case {n}", "photo": photo}
        opened.append(payer.request("POST", "/v1/me/disputes", body)["id"])
    with pytest.raises(SaomaError):  # one dispute per payment: 409
        payer.request("POST", "/v1/me/disputes", body)
    first, refunded, withdrawn = opened
    seen = payer.request("GET", f"/v1/me/disputes/{first}")
    file_id = seen["timeline"][0]["file_id"]
    assert payer.request("GET", f"/v1/me/disputes/{first}/files/{file_id}").startswith(b"\xff\xd8")
    payer.request("GET", "/v1/me/disputes")
    payer.request("POST", f"/v1/me/disputes/{withdrawn}/withdraw")
    shop.request("GET", "/v1/merchant/disputes", params={"state": "open"})
    shop.request("GET", f"/v1/merchant/disputes/{first}")
    shop.request("GET", f"/v1/merchant/disputes/{first}/files/{file_id}")
    shop.request("POST", f"/v1/merchant/disputes/{first}/contest", {"text": "Served hot"})
    key = secrets.token_hex(8)
    for _ in range(2):  # the replay is the stored answer
        shop.request("POST", f"/v1/merchant/disputes/{refunded}/refund", idempotency_key=key)
    agent = contract.watch(_Operator(server, "support", "ticket 12"))
    agent.request("GET", "/v1/ops/disputes", params={"state": "contested"})
    agent.request("GET", f"/v1/ops/disputes/{first}")
    agent.request("GET", f"/v1/ops/disputes/{first}/files/{file_id}")
    agent.request("POST", f"/v1/ops/disputes/{first}/decide", {"for": "merchant", "note": "Hot"})
    finance = contract.watch(_Operator(server, "finance", "ticket 12"))
    with pytest.raises(SaomaError) as forbidden:
        finance.request("POST", f"/v1/ops/disputes/{first}/decide", {"for": "payer", "note": "x"})
    assert forbidden.value.status == 403


def tour_freezes(
    contract: Contract, server: Server, shop: MerchantClient, payer: ConsumerClient
) -> None:
    """A support operator freezes the wallet and the merchant, each sees it, a risk officer lifts
    both; freezing twice is a conflict."""
    freezer = contract.watch(_Operator(server, "support", "ticket T-1"))
    lifter = contract.watch(_Operator(server, "risk", "ticket T-1"))
    me = payer.request("GET", "/v1/me")
    shop_id = shop.request("GET", "/v1/merchant")["id"]
    for kind, subject in (("consumers", me["id"]), ("merchants", shop_id)):
        freezer.request("POST", f"/v1/ops/{kind}/{subject}/freeze", {"reason_shown": "Checks"})
        with pytest.raises(SaomaError) as twice:
            freezer.request("POST", f"/v1/ops/{kind}/{subject}/freeze", {"reason_shown": "Again"})
        assert twice.value.status == 409
    assert payer.request("GET", "/v1/me")["freeze"]["reason"] == "Checks"
    assert shop.request("GET", "/v1/merchant")["freeze"]["reason"] == "Checks"
    for kind, subject in (("consumers", me["id"]), ("merchants", shop_id)):
        lifter.request("POST", f"/v1/ops/{kind}/{subject}/unfreeze", {"note": "cleared"})


def tour_mandates(server: Server, shop: MerchantClient, payer: ConsumerClient) -> None:
    """A monthly mandate asked, agreed with the PIN, debited on a notice dated a day back (the
    server keeps the real clock), paused, resumed, a second notice objected to, then revoked."""
    asked = shop.request_mandate(
        payer.request("GET", "/v1/me")["id"],
        f"M-{secrets.token_hex(4)}",
        purpose="Gym membership",
        amount_max=5_000,
        frequency="monthly",
        start_on=time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86_400)),
        end_on=time.strftime("%Y-%m-%d", time.gmtime(time.time() + 90 * 86_400)),
    )
    payer.request("GET", "/v1/me/mandates")
    payer.agree_mandate(asked["id"], PIN)
    notice = shop.announce_debit(asked["id"], 3_900)
    with engine_of(server.database_url).begin() as conn:
        conn.execute(
            text(
                "UPDATE mandate_notices SET created_at_us = created_at_us - :d,"
                " due_at_us = due_at_us - :d WHERE id = :id"
            ),
            {"d": 25 * 3600 * 1_000_000, "id": notice["id"]},
        )
    key = secrets.token_hex(8)
    for _ in range(2):  # the replay is the stored answer
        shop.debit_mandate(asked["id"], notice["id"], 3_900, idempotency_key=key)
    shop.get_mandate(asked["id"])
    assert shop.mandates(state="active")["data"][0]["id"] == asked["id"]
    payer.request("GET", f"/v1/me/mandates/{asked['id']}")
    for action in ("pause", "resume"):
        payer.change_mandate(asked["id"], action)
    second = shop.announce_debit(asked["id"], 1_000)
    payer.object_to_notice(asked["id"], second["id"])
    payer.change_mandate(asked["id"], "revoke")


def tour_mini_programs(server: Server, shop: MerchantClient, payer: ConsumerClient) -> None:
    """A service registered, approved by the operator's command, listed in the wallet; the payer
    signs in to it, its server exchanges the code and reads the profile; the wallet previews the
    service's order and hold; the payer sees the grant and revokes it."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle r="4"/></svg>'
    service = shop.request(
        "POST",
        "/v1/mini-programs",
        {
            "name": "Shekou Bikes",
            "name_zh": "蛇口共享单车",
            "icon": "data:image/svg+xml;base64," + base64.b64encode(svg).decode(),
            "origin": f"http://127.0.0.1:{free_port()}",
            "scopes": ["profile.masked_name"],
        },
    )
    shop.request("GET", "/v1/merchant/mini-programs")
    approved = subprocess.run(
        [sys.executable, "-m", "saoma.cli", "approve-mini-program", service["id"]],
        env=server.env | {"SAOMA_DATABASE_URL": server.database_url},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert approved.returncode == 0, approved.stdout + approved.stderr
    payer.request("GET", "/v1/mini-programs")
    base = f"/v1/me/mini-programs/{service['id']}"
    code = payer.request("POST", f"{base}/authorizations", {"scopes": ["profile.masked_name"]})
    token = shop.request(
        "POST", "/v1/mini/tokens", {"grant_type": "authorization_code", "code": code["code"]}
    )
    path = "/v1/mini/userinfo"
    signed = signing.sign_request(
        shop.private_key, shop.key_id, "GET", path, b"", timestamp=int(time.time())
    )
    bearer = {"authorization": f"Bearer {token['access_token']}"}
    assert shop.http.get(path, headers=signed | bearer).status_code == 200
    order = shop.create_order(f"MP-{secrets.token_hex(4)}", 500)
    payer.request("GET", f"{base}/orders/{order['id']}")
    hold = shop.create_hold(f"RIDE-{secrets.token_hex(4)}", 9_900)
    payer.request("GET", f"{base}/holds/{hold['id']}")
    # The service's server asks a mandate of the payer its token names; the wallet previews it.
    asked = shop.request_mandate(
        None,
        f"PASS-{secrets.token_hex(4)}",
        purpose="Metro monthly pass",
        amount_max=15_000,
        frequency="monthly",
        start_on=time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400)),
        end_on=time.strftime("%Y-%m-%d", time.gmtime(time.time() + 90 * 86_400)),
        access_token=token["access_token"],
    )
    payer.request("GET", f"{base}/mandates/{asked['id']}")
    payer.request("GET", "/v1/me/mini-program-grants")
    payer.request("DELETE", f"/v1/me/mini-program-grants/{service['id']}")


def tour_bills(payer: ConsumerClient) -> None:
    """The wallet's bills after the tour's day: a page filtered by kind, the next, a receipt."""
    first = payer.request("GET", "/v1/me/bills", params={"limit": 2})
    payer.request("GET", "/v1/me/bills", params={"cursor": first["next_cursor"], "limit": 2})
    payer.request("GET", "/v1/me/bills", params={"kind": "transfer", "month": "2001-01"})
    payer.request("GET", f"/v1/me/bills/{first['data'][0]['id']}")
