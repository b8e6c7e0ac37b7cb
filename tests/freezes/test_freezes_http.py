"""Freezes over HTTP, as the people involved see them: a frozen wallet cannot pay, be charged,
hold, transfer, send a red packet or withdraw, and still gets its refund; a frozen merchant takes
no payment and is not paid out, and can still refund; each sees why and how to appeal; the
operator's reason is in the audit log; a lift restores everything; roles are checked."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from saoma.client import SaomaError
from saoma.db import make_engine
from saoma.paycode import codes
from support import PIN, Server, new_consumer, new_merchant, server
from support_ops import OpsUser, operator_at

__all__ = ["server"]


def operator(srv: Server, role: str) -> OpsUser:
    return operator_at(srv.database_url, role)


def ops(srv: Server, who: OpsUser, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        srv.url + path, json=body, headers=who.headers(reason="ticket T-77 stolen phone")
    )


def refused(call: Any, cause: str) -> None:
    with pytest.raises(SaomaError) as caught:
        call()
    # The problem names its slug; which freeze it was (the cause) the detail says in words.
    words = {"wallet-frozen": "this wallet is frozen", "merchant-frozen": "merchant is frozen"}
    assert (caught.value.status, caught.value.slug) == (403, "frozen")
    assert words[cause] in caught.value.problem["detail"], caught.value.problem


def balances(srv: Server) -> dict[int, tuple[int, int, int, int]]:
    engine = make_engine(srv.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted"
                    " FROM accounts"
                )
            ).all()
    finally:
        engine.dispose()
    return {r[0]: tuple(r[1:]) for r in rows if any(r[1:])}  # an account opened empty is no move


def audit(srv: Server, subject_id: str) -> list[tuple[str, str, str, str]]:
    engine = make_engine(srv.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT action, role, what, reason FROM audit_log WHERE subject_id = :s"
                    " ORDER BY seq"
                ),
                {"s": subject_id},
            ).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


def test_a_frozen_wallet_cannot_move_money_out_but_gets_its_refund(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=50_000)
    friend = new_consumer(server)
    payer.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 5_000, "per_day": 10_000, "pin": PIN}
    )
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    paid = payer.client.pay_order(
        shop.client.create_order(f"F-{secrets.token_hex(4)}", 2_000)["id"], PIN
    )
    hold = shop.client.create_hold(f"H-{secrets.token_hex(4)}", 1_000)
    support, risk = operator(server, "support"), operator(server, "risk")

    before = balances(server)
    frozen = ops(
        server,
        support,
        f"/v1/ops/consumers/{payer.id}/freeze",
        {"reason_shown": "Your phone was reported stolen."},
    )
    assert frozen.status_code == 201, frozen.text
    assert balances(server) == before  # a freeze moves no money
    seen = payer.client.me()["freeze"]
    assert seen["reason"] == "Your phone was reported stolen." and seen["appeal"] and seen["since"]

    order = shop.client.create_order(f"F-{secrets.token_hex(4)}", 500)
    refused(lambda: payer.client.pay_order(order["id"], PIN), "wallet-frozen")
    refused(lambda: payer.client.pay_static(shop.id, 500, PIN), "wallet-frozen")
    refused(lambda: payer.client.consent_hold(hold["id"], PIN), "wallet-frozen")
    refused(lambda: payer.client.send_money(friend.id, 500, PIN), "wallet-frozen")
    refused(lambda: payer.client.create_red_packet(600, 2, PIN), "wallet-frozen")
    refused(
        lambda: payer.client.request("POST", "/v1/me/withdrawals", {"amount": 500, "pin": PIN}),
        "wallet-frozen",
    )
    secret = base64.b64decode(device["secret"])
    code = codes.generate(secret, device["handles"][0], time.time())
    refused(lambda: shop.client.create_charge(code, 300, "TILL-F"), "wallet-frozen")
    assert balances(server) == before

    shop.client.refund(paid["id"], 700, f"R-{secrets.token_hex(4)}")
    assert payer.client.me()["balance"] == 50_000 - 2_000 + 700

    lifted = ops(server, risk, f"/v1/ops/consumers/{payer.id}/unfreeze", {"note": "found it"})
    assert lifted.status_code == 200 and lifted.json()["lifted_at"], lifted.text
    assert payer.client.me()["freeze"] is None
    again = shop.client.create_order(f"F-{secrets.token_hex(4)}", 500)
    payer.client.pay_order(again["id"], PIN)
    assert payer.client.me()["balance"] == 50_000 - 2_000 + 700 - 500
    assert audit(server, payer.id) == [
        (
            "consumer.freeze",
            "support",
            "freeze: Your phone was reported stolen.",
            "ticket T-77 stolen phone",
        ),
        ("consumer.unfreeze", "risk", "unfreeze: found it", "ticket T-77 stolen phone"),
    ]


def test_a_frozen_merchant_takes_no_payment_and_is_not_paid_but_refunds(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=50_000)
    paid = payer.client.pay_order(
        shop.client.create_order(f"M-{secrets.token_hex(4)}", 3_000)["id"], PIN
    )
    hold = shop.client.create_hold(f"H-{secrets.token_hex(4)}", 1_000)
    payer.client.consent_hold(hold["id"], PIN)
    support, risk = operator(server, "support"), operator(server, "risk")

    before = balances(server)
    made = ops(
        server,
        support,
        f"/v1/ops/merchants/{shop.id}/freeze",
        {"reason_shown": "We are checking your business licence.", "appeal": "Call 400-1."},
    )
    assert made.status_code == 201, made.text
    assert balances(server) == before
    assert shop.client.me()["freeze"]["appeal"] == "Call 400-1."

    order = shop.client.create_order(f"M-{secrets.token_hex(4)}", 500)
    refused(lambda: payer.client.pay_order(order["id"], PIN), "merchant-frozen")
    refused(lambda: payer.client.pay_static(shop.id, 500, PIN), "merchant-frozen")
    refused(lambda: shop.client.capture_hold(hold["id"], 1_000), "merchant-frozen")
    refused(lambda: shop.client.request("POST", "/v1/settlements/instant"), "merchant-frozen")
    assert balances(server) == before

    shop.client.refund(paid["id"], 1_000, f"R-{secrets.token_hex(4)}")
    me = payer.client.me()
    assert (me["balance"], me["held"]) == (50_000 - 3_000 + 1_000, 1_000)  # the hold still held

    assert ops(server, risk, f"/v1/ops/merchants/{shop.id}/unfreeze", {}).status_code == 200
    assert shop.client.me()["freeze"] is None
    assert shop.client.capture_hold(hold["id"], 1_000)["state"] == "captured"
    assert [a for a, *_ in audit(server, shop.id)] == ["merchant.freeze", "merchant.unfreeze"]


def test_who_may_freeze_and_lift(server: Server) -> None:
    payer = new_consumer(server)
    finance, support = operator(server, "finance"), operator(server, "support")
    path = f"/v1/ops/consumers/{payer.id}"
    body = {"reason_shown": "Checks"}
    assert (
        ops(server, finance, path + "/freeze", body).json()["type"].endswith("operator-forbidden")
    )
    unknown = ops(server, support, "/v1/ops/consumers/c_nobody00000000/freeze", body)
    assert unknown.status_code == 404
    no_reason = httpx.post(server.url + path + "/freeze", json=body, headers=support.headers())
    assert no_reason.status_code == 422
    not_frozen = ops(server, operator(server, "risk"), path + "/unfreeze", {})
    assert (not_frozen.status_code, not_frozen.json()["detail"]) == (
        409,
        f"{payer.id} is not frozen",
    )
    assert ops(server, support, path + "/freeze", body).status_code == 201
    twice = ops(server, support, path + "/freeze", body)
    assert twice.status_code == 409 and "frozen already" in twice.json()["detail"]
    assert ops(server, support, path + "/unfreeze", {}).status_code == 403
    assert payer.client.me()["freeze"]["reason"] == "Checks"
