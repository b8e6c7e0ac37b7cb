"""Idempotency-Key on every request that moves or reserves money, over real HTTP on both databases.

Without a key such a request is refused (422 naming the header) and moves nothing; with one, a
replay gets exactly the first response back, status and body bytes; a till's order number or a
captured hold asked again for something else is a conflict, not the first answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from saoma.client import SaomaError
from saoma.core.keyfile import load_or_make, rotate
from saoma.paycode import codes
from saoma.payments import idempotency
from support import (
    PIN,
    Payer,
    Server,
    Shop,
    _database,
    assert_books_hold,
    engine_of,
    new_consumer,
    new_merchant,
    start_server,
    wait_for,
)
from support_ops import operator_at

TYPE_BASE = "https://saoma.dev/problems/"


@dataclass
class Call:
    """One request that moves or reserves money, ready to send; ``moved`` reads what it moves."""

    send: Callable[[str | None], httpx.Response]
    status: int
    moved: Callable[[], Any]


def as_consumer(server: Server, payer: Payer, path: str, body: dict[str, Any] | None) -> Callable:
    def send(key: str | None) -> httpx.Response:
        headers = {"authorization": f"Bearer {payer.client.token}"}
        if key is not None:
            headers["idempotency-key"] = key
        return httpx.post(server.url + path, json=body, headers=headers, timeout=30)

    return send


def as_shop(server: Server, shop: Shop, path: str, body: dict[str, Any]) -> Callable:
    def send(key: str | None) -> httpx.Response:
        content = json.dumps(body).encode()
        headers = shop.client._headers("POST", path, content)
        headers["content-type"] = "application/json"
        if key is not None:
            headers["idempotency-key"] = key
        return httpx.post(server.url + path, content=content, headers=headers, timeout=30)

    return send


def _wallets(*people: Payer) -> Callable[[], Any]:
    # What can be spent: a withdrawal takes it at once, a top-up once the bank has paid.
    return lambda: [p.client.me()["available"] for p in people]


def _with_shop(shop: Shop, *people: Payer) -> Callable[[], Any]:
    return lambda: ([shop.client.me()["balance"]], _wallets(*people)())


def _device(server: Server, payer: Payer, no_pin: int) -> tuple[bytes, list[str]]:
    payer.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": no_pin, "per_day": no_pin * 3, "pin": PIN}
    )
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    return base64.b64decode(device["secret"]), device["handles"]


def pay_order(server: Server) -> Call:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    order = shop.client.create_order(f"T-{secrets.token_hex(4)}", 1_200)
    send = as_consumer(server, payer, f"/v1/orders/{order['id']}/pay", {"pin": PIN})
    return Call(send, 201, _with_shop(shop, payer))


def pay_static(server: Server) -> Call:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    body = {"amount": 800, "currency": "CNY", "pin": PIN, "note": "茶"}
    return Call(
        as_consumer(server, payer, f"/v1/merchants/{shop.id}/pay", body),
        201,
        _with_shop(shop, payer),
    )


def charge(server: Server) -> Call:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    secret, handles = _device(server, payer, 2_000)
    body = {
        "code": codes.generate(secret, handles[0], time.time()),
        "amount": 1_500,
        "currency": "CNY",
        "merchant_order_no": "TILL-1",
        "terminal_id": "till-1",
    }
    return Call(as_shop(server, shop, "/v1/charges", body), 201, _with_shop(shop, payer))


def answer_charge(server: Server) -> Call:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    secret, handles = _device(server, payer, 100)
    waiting = shop.client.create_charge(
        codes.generate(secret, handles[0], time.time()), 1_500, "TILL-2"
    )
    assert waiting["state"] == "waiting_for_payer"
    path = f"/v1/me/charges/{waiting['id']}/answer"
    return Call(as_consumer(server, payer, path, {"pin": PIN}), 200, _with_shop(shop, payer))


def refund(server: Server) -> Call:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    paid = payer.client.pay_static(shop.id, 2_227, PIN)
    body = {"amount": 1_113, "merchant_refund_no": "R-1", "reason": "cold"}
    path = f"/v1/payments/{paid['id']}/refunds"
    return Call(as_shop(server, shop, path, body), 201, _with_shop(shop, payer))


def transfer(server: Server) -> Call:
    alice, bob = new_consumer(server, balance=5_000), new_consumer(server)
    body = {"to": bob.id, "amount": 700, "note": "dinner", "pin": PIN}
    return Call(as_consumer(server, alice, "/v1/transfers", body), 201, _wallets(alice, bob))


def red_packet(server: Server) -> Call:
    sender = new_consumer(server, balance=5_000)
    body = {"amount": 888, "shares": 2, "mode": "equal", "greeting": "恭喜发财", "pin": PIN}
    return Call(as_consumer(server, sender, "/v1/red-packets", body), 201, _wallets(sender))


def red_packet_claim(server: Server) -> Call:
    sender, friend = new_consumer(server, balance=5_000), new_consumer(server)
    packet = sender.client.request(
        "POST", "/v1/red-packets", {"amount": 888, "shares": 2, "mode": "equal", "pin": PIN}
    )
    path = f"/v1/red-packets/{packet['id']}/claim"
    return Call(as_consumer(server, friend, path, None), 201, _wallets(friend))


def top_up(server: Server) -> Call:
    payer = new_consumer(server)
    body = {"amount": 3_000, "currency": "CNY"}

    return Call(as_consumer(server, payer, "/v1/me/top-ups", body), 202, _wallets(payer))


def withdraw(server: Server) -> Call:
    payer = new_consumer(server, balance=5_000)
    body = {"amount": 1_000, "currency": "CNY", "pin": PIN}
    return Call(as_consumer(server, payer, "/v1/me/withdrawals", body), 202, _wallets(payer))


def consent(server: Server) -> Call:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    hold = shop.client.create_hold("bike-1", 2_000)
    path = f"/v1/holds/{hold['id']}/consent"

    def moved() -> Any:
        state = shop.client.request("GET", f"/v1/holds/{hold['id']}")["state"]
        return payer.client.me()["available"], state

    return Call(as_consumer(server, payer, path, {"pin": PIN}), 201, moved)


def capture(server: Server) -> Call:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    hold = shop.client.create_hold("bike-2", 2_000)
    payer.client.consent_hold(hold["id"], PIN)
    path = f"/v1/holds/{hold['id']}/capture"
    return Call(as_shop(server, shop, path, {"amount": 1_500}), 200, _with_shop(shop, payer))


def campaign(server: Server) -> Call:
    shop = new_merchant(server)
    new_consumer(server, balance=5_000).client.pay_static(shop.id, 3_000, PIN)  # takings
    body = {"name": "¥1 off", "kind": "amount_off", "amount_off": 100, "budget": 1_000}
    return Call(as_shop(server, shop, "/v1/campaigns", body), 201, _with_shop(shop))


def _dispute(server: Server) -> tuple[Shop, Payer, str]:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    paid = payer.client.pay_static(shop.id, 1_800, PIN)
    body = {"payment_id": paid["id"], "reason": "not_received", "text": "Never came"}
    return shop, payer, payer.client.request("POST", "/v1/me/disputes", body)["id"]


def dispute_refund(server: Server) -> Call:
    shop, payer, dispute_id = _dispute(server)
    path = f"/v1/merchant/disputes/{dispute_id}/refund"
    return Call(as_shop(server, shop, path, {}), 200, _with_shop(shop, payer))


def dispute_decide(server: Server) -> Call:
    shop, payer, dispute_id = _dispute(server)
    shop.client.request("POST", f"/v1/merchant/disputes/{dispute_id}/contest", {"text": "Sent"})
    agent = operator_at(server.database_url, "support")
    path = f"/v1/ops/disputes/{dispute_id}/decide"
    body = {"for": "payer", "note": "No proof of delivery"}

    def send(key: str | None) -> httpx.Response:
        headers = agent.headers("ticket 12")
        if key is not None:
            headers["idempotency-key"] = key
        return httpx.post(server.url + path, json=body, headers=headers, timeout=30)

    return Call(send, 200, _with_shop(shop, payer))


def mandate_debit(server: Server) -> Call:
    """A monthly mandate agreed with the PIN and a notice sent a day ago (dated back in the
    database: the server keeps the real clock), debited."""
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 60 * 86_400))
    asked = shop.client.request_mandate(
        payer.id,
        "M-1",
        purpose="Gym",
        amount_max=900,
        frequency="monthly",
        start_on=today,
        end_on=later,
    )
    payer.client.agree_mandate(asked["id"], PIN)
    notice = shop.client.announce_debit(asked["id"], 900)
    with engine_of(server.database_url).begin() as conn:
        conn.execute(
            text(
                "UPDATE mandate_notices SET created_at_us = created_at_us - :d,"
                " due_at_us = due_at_us - :d WHERE id = :id"
            ),
            {"d": 25 * 3600 * 1_000_000, "id": notice["id"]},
        )
    body = {"notice_id": notice["id"], "amount": 900, "currency": "CNY"}
    path = f"/v1/mandates/{asked['id']}/debits"
    return Call(as_shop(server, shop, path, body), 201, _with_shop(shop, payer))


CALLS = {
    f.__name__: f
    for f in (
        pay_order,
        pay_static,
        charge,
        answer_charge,
        refund,
        transfer,
        red_packet,
        red_packet_claim,
        top_up,
        withdraw,
        consent,
        capture,
        campaign,
        dispute_refund,
        dispute_decide,
        mandate_debit,
    )
}
# The other POST routes move and reserve no money, or return it once by a change of state:
# signing up and in, keys, devices, orders (paid later, with a key), holds (reserved at consent,
# with a key), closing and voiding, a campaign's pause and end, previews, webhook replays.
KEYLESS = {
    "/v1/consumers",
    "/v1/sessions",
    "/v1/merchants",
    "/v1/merchant-sessions",
    "/v1/merchant/keys",
    "/v1/me/devices",
    "/v1/me/devices/{device_id}/handles",
    "/v1/orders",
    "/v1/orders/{order_id}/close",
    "/v1/holds",
    "/v1/holds/{hold_id}/void",
    "/v1/codes/preview",
    "/v1/merchant/webhook-deliveries/{event_id}/replay",
    "/v1/campaigns/{campaign_id}/pause",
    "/v1/campaigns/{campaign_id}/resume",
    "/v1/campaigns/{campaign_id}/end",
    "/v1/campaigns/{campaign_id}/coupons",
    "/v1/merchant/webhook-secret",
    "/v1/me/identifiers",
    "/v1/me/identifiers/code",
    "/v1/me/identifiers/verify",
    # Split agreements and bank accounts move no money.
    "/v1/split-agreements",
    "/v1/split-agreements/{agreement_id}/accept",
    "/v1/split-agreements/{agreement_id}/decline",
    "/v1/split-agreements/{agreement_id}/end",
    "/v1/settlement/bank-accounts",
    # Freezes move no money: a freeze asked twice is a conflict, as is a lift of no freeze.
    "/v1/ops/consumers/{consumer_id}/freeze",
    "/v1/ops/consumers/{consumer_id}/unfreeze",
    "/v1/ops/merchants/{merchant_id}/freeze",
    "/v1/ops/merchants/{merchant_id}/unfreeze",
    # Money that moves once by its own key: a split once per payment and agreement (asked again,
    # the same split is answered), an instant payout once per movement of the merchant's account
    # (asked again, nothing is left to pay: 409), a sandbox run once per merchant and cut-off.
    "/v1/payments/{payment_id}/splits",
    "/v1/settlements/instant",
    "/v1/sandbox/settle",
    # A dispute's steps that move no money; its refund and support's decision are keyed.
    "/v1/me/disputes",
    "/v1/me/disputes/{dispute_id}/withdraw",
    "/v1/merchant/disputes/{dispute_id}/contest",
    # An operator's sign-in moves no money.
    "/v1/ops/sessions",
    # Onboarding decisions move no money; a second decision is refused (409).
    "/v1/ops/kyc/{merchant_id}/approve",
    "/v1/ops/kyc/{merchant_id}/reject",
    # Looking up who gets money moves none (each lookup counts against the wallet's limit).
    "/v1/transfers/recipient",
    # A mandate's request (one per merchant's mandate number), its notices and the payer's
    # decisions move no money; its debits are keyed.
    "/v1/mandates",
    "/v1/mandates/{mandate_id}/notices",
    "/v1/me/mandates/{mandate_id}/agree",
    "/v1/me/mandates/{mandate_id}/pause",
    "/v1/me/mandates/{mandate_id}/resume",
    "/v1/me/mandates/{mandate_id}/revoke",
    "/v1/me/mandates/{mandate_id}/notices/{notice_id}/object",
    # Mini-programs: registering, a payer's sign-in code and its exchange move no money.
    "/v1/mini-programs",
    "/v1/me/mini-programs/{mini_program_id}/authorizations",
    "/v1/mini/tokens",
}


def test_every_post_route_is_either_keyed_here_or_moves_no_money(server: Server) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    posts = {path for path, ops in spec["paths"].items() if "post" in ops}
    assert len(CALLS) == 16
    assert posts - KEYLESS == {
        "/v1/orders/{order_id}/pay",
        "/v1/merchants/{merchant_id}/pay",
        "/v1/charges",
        "/v1/me/charges/{charge_id}/answer",
        "/v1/payments/{payment_id}/refunds",
        "/v1/transfers",
        "/v1/red-packets",
        "/v1/red-packets/{packet_id}/claim",
        "/v1/me/top-ups",
        "/v1/me/withdrawals",
        "/v1/holds/{hold_id}/consent",
        "/v1/holds/{hold_id}/capture",
        "/v1/campaigns",
        "/v1/merchant/disputes/{dispute_id}/refund",
        "/v1/ops/disputes/{dispute_id}/decide",
        "/v1/mandates/{mandate_id}/debits",
    }


# What the same request sent again after its key was purged meets, where it is not the first
# answer: the mandate's notice it used.
ALREADY_DONE = {"mandate_debit": "mandate-notice-used"}


def purge_after_two_days(server: Server, key: str) -> None:
    """Idempotency-Key ``key`` dated back past the two days keys are kept, and purged as the
    server's maintenance purges them."""
    engine = engine_of(server.database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE idempotency_keys SET created_at_us = created_at_us - :d WHERE key = :k"),
            {"d": 49 * 3600 * 1_000_000, "k": key},
        )
    assert idempotency.purge(engine) == 1


@pytest.mark.parametrize("name", list(CALLS))
def test_without_a_key_nothing_moves_and_a_replay_is_the_first_response_byte_for_byte(
    server: Server, name: str
) -> None:
    call = CALLS[name](server)
    before = call.moved()
    refused = call.send(None)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == TYPE_BASE + "idempotency-key-required"
    assert problem["field"] == "Idempotency-Key" and "Idempotency-Key" in problem["detail"]
    assert call.moved() == before

    key = secrets.token_hex(16)
    first = call.send(key)
    assert first.status_code == call.status, first.text
    wait_for(lambda: call.moved() != before, what=f"{name} to move money")
    after = call.moved()
    for _ in range(2):
        again = call.send(key)
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers["idempotent-replayed"] == "true"
    assert call.moved() == after

    # Two days on the key is forgotten; the same request sent late moves nothing again.
    purge_after_two_days(server, key)
    late = call.send(key)
    assert "idempotent-replayed" not in late.headers
    if name in ALREADY_DONE:
        assert (late.status_code, late.json()["type"]) == (409, TYPE_BASE + ALREADY_DONE[name])
    else:
        assert late.status_code == call.status, late.text
        assert late.json().get("id") == first.json().get("id")
    assert call.moved() == after


def test_a_tills_order_number_reused_for_another_code_or_amount_is_a_conflict(
    server: Server,
) -> None:
    shop = new_merchant(server)
    payer, other = new_consumer(server, balance=9_000), new_consumer(server, balance=9_000)
    secret, handles = _device(server, payer, 2_000)
    other_secret, other_handles = _device(server, other, 2_000)
    code = codes.generate(secret, handles[0], time.time())
    first = shop.client.create_charge(code, 1_000, "TILL-9")
    assert first["state"] == "succeeded"
    for reused_code, amount in (
        (codes.generate(other_secret, other_handles[0], time.time()), 1_000),
        (code, 1_001),
        (codes.generate(other_secret, other_handles[1], time.time()), 1_700),
    ):
        with pytest.raises(SaomaError) as reused:
            shop.client.create_charge(reused_code, amount, "TILL-9")
        assert (reused.value.status, reused.value.slug) == (409, "order-number-reused")
        assert reused.value.problem["field"] == "merchant_order_no"
    again = shop.client.create_charge(code, 1_000, "TILL-9")  # a retry with a new key
    assert again == first
    assert (payer.client.me()["balance"], other.client.me()["balance"]) == (8_000, 9_000)


def test_capturing_a_captured_hold_for_another_amount_is_a_conflict(server: Server) -> None:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    hold = shop.client.create_hold("bike-3", 2_000)
    payer.client.consent_hold(hold["id"], PIN)
    captured = shop.client.capture_hold(hold["id"], 1_500)
    assert (captured["state"], captured["captured"]) == ("captured", 1_500)
    with pytest.raises(SaomaError) as other:
        shop.client.capture_hold(hold["id"], 1_600)
    assert (other.value.status, other.value.slug) == (409, "hold-already-captured")
    assert shop.client.capture_hold(hold["id"], 1_500) == captured  # a retry with a new key
    wait_for(lambda: payer.client.me()["balance"] == 3_500, what="the capture")


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return call()
        except SaomaError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_fifty_captures_of_one_hold_for_different_amounts_capture_once(server: Server) -> None:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    hold = shop.client.create_hold("bike-4", 2_000)
    payer.client.consent_hold(hold["id"], PIN)
    outcomes = _race(
        [lambda a=amount: shop.client.capture_hold(hold["id"], a) for amount in range(951, 1_001)]
    )
    won = [o for o in outcomes if isinstance(o, dict)]
    assert len(won) == 1, outcomes
    refused = [o for o in outcomes if isinstance(o, SaomaError)]
    assert len(refused) == 49
    assert {(e.status, e.slug) for e in refused} <= {
        (409, "hold-already-captured"),
        (409, "hold-not-open"),
    }
    wait_for(lambda: payer.client.me()["balance"] == 5_000 - won[0]["captured"], what="the capture")


def test_fifty_charges_under_one_order_number_charge_once(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=100_000)
    secret, handles = _device(server, payer, 2_000)
    now = time.time()
    outcomes = _race(
        [
            lambda h=handle, n=n: shop.client.create_charge(
                codes.generate(secret, h, now), 100 + n, "TILL-RACE"
            )
            for n, handle in enumerate(handles[:50])
        ]
    )
    won = [o for o in outcomes if isinstance(o, dict)]
    assert len(won) == 1, outcomes
    refused = [o for o in outcomes if isinstance(o, SaomaError)]
    assert [(e.status, e.slug) for e in refused] == [(409, "order-number-reused")] * 49
    assert payer.client.me()["balance"] == 100_000 - won[0]["amount"]


def test_an_order_asked_again_under_its_key_or_its_number_is_one_order(server: Server) -> None:
    """An order is written with the answer its Idempotency-Key replays; a till asking again under
    a new key gets the same order, and fifty at once under one number make one order."""
    shop = new_merchant(server)
    body = {"merchant_order_no": "NOODLE-7", "amount": 1_800, "description": "Two bowls"}
    send = as_shop(server, shop, "/v1/orders", body)
    key = secrets.token_hex(16)
    first = send(key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = send(key)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"

    other_key = send(secrets.token_hex(16))
    assert other_key.status_code == 201 and "idempotent-replayed" not in other_key.headers
    assert other_key.json()["id"] == first.json()["id"]
    changed = as_shop(server, shop, "/v1/orders", body | {"amount": 1_900})(secrets.token_hex(16))
    assert changed.status_code == 409 and changed.json()["field"] == "merchant_order_no"

    raced = as_shop(server, shop, "/v1/orders", body | {"merchant_order_no": "NOODLE-8"})
    answers = _race([lambda: raced(secrets.token_hex(16)) for _ in range(50)])
    assert [a.status_code for a in answers] == [201] * 50
    assert len({a.json()["id"] for a in answers}) == 1
    with engine_of(server.database_url).connect() as conn:
        made = conn.execute(
            text(
                "SELECT merchant_order_no, count(*) FROM orders WHERE merchant_id = :m"
                " GROUP BY merchant_order_no ORDER BY 1"
            ),
            {"m": shop.id},
        ).all()
        keys = conn.execute(
            text("SELECT state, count(*) FROM idempotency_keys WHERE scope = :m GROUP BY state"),
            {"m": shop.id},
        ).all()
    assert [tuple(r) for r in made] == [("NOODLE-7", 1), ("NOODLE-8", 1)]
    assert [tuple(r) for r in keys] == [("done", 52)]  # the conflict (409) released its key


def test_a_purged_key_sent_with_another_request_is_refused_and_moves_nothing(
    server: Server,
) -> None:
    """Two days on, a key that moved money is still that request's: another payment, transfer,
    red packet, top-up, withdrawal or campaign sent under it is refused (422), moving nothing,
    rather than answered with what the key's first request made."""
    shop, friend = new_merchant(server), new_consumer(server)
    payer = new_consumer(server, balance=9_000)
    payer.client.pay_static(shop.id, 3_000, PIN)  # takings to fund a campaign with
    sends = {
        "payment": lambda amount, key: payer.client.pay_static(
            shop.id, amount, PIN, idempotency_key=key
        ),
        "transfer": lambda amount, key: payer.client.request(
            "POST",
            "/v1/transfers",
            {"to": friend.id, "amount": amount, "pin": PIN},
            idempotency_key=key,
        ),
        "red packet": lambda amount, key: payer.client.request(
            "POST",
            "/v1/red-packets",
            {"amount": amount, "shares": 2, "mode": "equal", "pin": PIN},
            idempotency_key=key,
        ),
        "top-up": lambda amount, key: payer.client.top_up(amount, idempotency_key=key),
        "withdrawal": lambda amount, key: payer.client.request(
            "POST",
            "/v1/me/withdrawals",
            {"amount": amount, "currency": "CNY", "pin": PIN},
            idempotency_key=key,
        ),
        "campaign": lambda amount, key: shop.client.request(
            "POST",
            "/v1/campaigns",
            {"name": "off", "kind": "amount_off", "amount_off": 10, "budget": amount},
            idempotency_key=key,
        ),
    }
    keys = {}
    for what, send in sends.items():
        key = keys[what] = secrets.token_hex(16)
        send(100, key)
        purge_after_two_days(server, key)
        with pytest.raises(SaomaError) as refused:
            send(102, key)
        assert (refused.value.status, refused.value.slug) == (422, "idempotency-key-reused"), what
        assert refused.value.problem["field"] == "Idempotency-Key"
    # The same sum to the same shop with another note is another payment too.
    with pytest.raises(SaomaError) as noted:
        payer.client.pay_static(shop.id, 100, PIN, note="other", idempotency_key=keys["payment"])
    assert (noted.value.status, noted.value.slug) == (422, "idempotency-key-reused")
    # Another kind of request under a purged key meets no id of the first: it is done.
    sends["withdrawal"](50, keys["top-up"])
    # 3,000 paid, then 100 paid, sent, put in a packet, withdrawn; 100 topped up; 50 withdrawn.
    wait_for(lambda: payer.client.me()["balance"] == 9_000 - 3_000 - 4 * 100 + 100 - 50)
    assert friend.client.me()["balance"] == 100
    assert shop.client.me()["balance"] == 3_000 + 100 - 18 - 1 - 100  # fees 0.6 %; a budget


def _stored_print(server: Server, key: str) -> str:
    with engine_of(server.database_url).connect() as conn:
        return str(
            conn.execute(
                text("SELECT request_hash FROM idempotency_keys WHERE key = :k"), {"k": key}
            ).scalar_one()
        )


def _pay_static(
    server: Server, payer: Payer, shop_id: str, key: str, amount: int
) -> httpx.Response:
    """A static payment with the PIN, its body bytes exactly ``_body(amount)``."""
    return httpx.post(
        f"{server.url}/v1/merchants/{shop_id}/pay",
        content=_body(amount, PIN),
        headers={
            "authorization": f"Bearer {payer.client.token}",
            "content-type": "application/json",
            "idempotency-key": key,
        },
        timeout=30,
    )


def _body(amount: int, pin: str) -> bytes:
    return b'{"amount":%d,"currency":"CNY","pin":"%s"}' % (amount, pin.encode())


def test_a_requests_stored_fingerprint_gives_no_pin_away(server: Server) -> None:
    """Whoever reads the database and knows a payment's body but its PIN cannot find the PIN by
    hashing the million bodies it could have been: the fingerprint is keyed."""
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    key = secrets.token_hex(16)
    assert _pay_static(server, payer, shop.id, key, 800).status_code == 201
    stored = _stored_print(server, key)
    prefix, suffix = _body(800, "@").split(b"@")
    start = hashlib.sha256(f"POST /v1/merchants/{shop.id}/pay\n".encode() + prefix)
    found = []
    for pin in range(1_000_000):
        tried = start.copy()
        tried.update(b"%06d" % pin + suffix)
        if tried.hexdigest() == stored:
            found.append(pin)
    assert found == []


def test_a_retry_after_the_pin_key_was_rotated_or_from_before_keyed_fingerprints_replays(
    tmp_path: Path,
) -> None:
    """A request claimed under the PIN key, retried after ``saoma rotate-pin-key`` and a
    restart, is recognised and replayed; so is one claimed before fingerprints were keyed.
    Another request under those keys is still a 422."""
    key_file = tmp_path / "pin.key"
    for database_url in _database("sqlite", tmp_path):
        server = start_server(database_url, tmp_path, SAOMA_PIN_KEY_FILE=str(key_file))
        try:
            shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
            before, unkeyed = secrets.token_hex(16), secrets.token_hex(16)
            first = _pay_static(server, payer, shop.id, before, 800)
            old = _pay_static(server, payer, shop.id, unkeyed, 900)
            assert (first.status_code, old.status_code) == (201, 201)
            (kid, secret), *_ = load_or_make(key_file)
            message = f"POST /v1/merchants/{shop.id}/pay\n".encode() + _body(800, PIN)
            assert _stored_print(server, before) == hmac.new(secret, message, "sha256").hexdigest()
            plain = f"POST /v1/merchants/{shop.id}/pay\n".encode() + _body(900, PIN)
            with engine_of(database_url).begin() as conn:  # as stored before the keyed form
                conn.execute(
                    text("UPDATE idempotency_keys SET request_hash = :h WHERE key = :k"),
                    {"h": hashlib.sha256(plain).hexdigest(), "k": unkeyed},
                )

            server.stop()
            assert rotate(key_file) != kid
            server.start()
            for key, amount, answer in ((before, 800, first), (unkeyed, 900, old)):
                again = _pay_static(server, payer, shop.id, key, amount)
                assert (again.status_code, again.content) == (201, answer.content)
                assert again.headers["idempotent-replayed"] == "true"
                other = _pay_static(server, payer, shop.id, key, amount + 1)
                assert other.status_code == 422, other.text
                assert other.json()["type"] == TYPE_BASE + "idempotency-key-reused"
            assert payer.client.me()["balance"] == 5_000 - 800 - 900
        finally:
            server.stop()
        assert_books_hold(database_url)
