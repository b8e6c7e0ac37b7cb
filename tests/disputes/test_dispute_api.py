"""Disputes over HTTP, on a real server (both databases): who may do what, and what is refused
in words naming the field; operators' reads and decisions are in the audit log."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from saoma.client import SaomaError
from saoma.db import make_engine
from support import PASSWORD, PIN, Payer, Server, Shop, new_consumer, new_merchant
from support_ops import OpsUser, operator_at

from .conftest import jpeg_b64

MANAGER_PIN = "135790"


def operator(server: Server, role: str) -> OpsUser:
    return operator_at(server.database_url, role)


def audit_actions(server: Server, subject_id: str) -> list[str]:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT action FROM audit_log WHERE subject_id = :s ORDER BY seq"),
                {"s": subject_id},
            ).all()
        return [r.action for r in rows]
    finally:
        engine.dispose()


def opened(payer: Payer, shop: Shop, amount: int = 1_200, **extra: Any) -> dict[str, Any]:
    paid = payer.client.pay_static(shop.id, amount, PIN)
    body = {"payment_id": paid["id"], "reason": "not_received", "text": "Never came"} | extra
    result: dict[str, Any] = payer.client.request("POST", "/v1/me/disputes", body)
    return result


def test_a_payer_disputes_only_their_own_payment_once(server: Server) -> None:
    shop, alice, bob = (
        new_merchant(server),
        new_consumer(server, balance=5_000),
        new_consumer(server),
    )
    paid = alice.client.pay_static(shop.id, 900, PIN)
    body = {"payment_id": paid["id"], "reason": "other", "text": "Wrong dish"}
    with pytest.raises(SaomaError) as hidden:
        bob.client.request("POST", "/v1/me/disputes", body)
    assert (hidden.value.status, hidden.value.slug) == (404, "not-found")
    # A photo is looked at only for the payer's own payment: another's is not found first.
    bogus = {"content_type": "image/jpeg", "data": base64.b64encode(b"no").decode()}
    with pytest.raises(SaomaError) as hidden:
        bob.client.request("POST", "/v1/me/disputes", body | {"photo": bogus})
    assert (hidden.value.status, hidden.value.slug) == (404, "not-found")
    # A few kilobytes of PNG (one colour, 3000 x 3000) are too many pixels to decode.
    blank = io.BytesIO()
    Image.new("1", (3000, 3000)).save(blank, "PNG", optimize=True)
    assert len(blank.getvalue()) < 45 * 1024
    huge = {"content_type": "image/png", "data": base64.b64encode(blank.getvalue()).decode()}
    with pytest.raises(SaomaError) as refused:
        alice.client.request("POST", "/v1/me/disputes", body | {"photo": huge})
    assert refused.value.status == 422 and refused.value.problem["field"] == "photo.data"
    assert "pixels" in refused.value.problem["detail"]
    for bad, field in (
        (body | {"reason": "bored"}, "reason"),
        (body | {"text": ""}, "text"),
        (
            body
            | {"photo": {"content_type": "image/jpeg", "data": base64.b64encode(b"no").decode()}},
            "photo.data",
        ),
        (body | {"photo": {"content_type": "image/gif", "data": jpeg_b64()}}, "photo.content_type"),
    ):
        with pytest.raises(SaomaError) as refused:
            alice.client.request("POST", "/v1/me/disputes", bad)
        assert refused.value.status == 422 and refused.value.problem["field"].endswith(field)
    first = alice.client.request(
        "POST",
        "/v1/me/disputes",
        body | {"photo": {"content_type": "image/jpeg", "data": jpeg_b64()}},
    )
    with pytest.raises(SaomaError) as twice:
        alice.client.request("POST", "/v1/me/disputes", body)
    assert (twice.value.status, twice.value.slug) == (409, "dispute-refused")
    with pytest.raises(SaomaError) as other:
        bob.client.request("GET", f"/v1/me/disputes/{first['id']}")
    assert other.value.status == 404
    photo = shop.client.request(
        "GET", f"/v1/merchant/disputes/{first['id']}/files/{first['timeline'][0]['file_id']}"
    )
    assert photo.startswith(b"\xff\xd8\xff")
    assert [d["id"] for d in alice.client.request("GET", "/v1/me/disputes")["disputes"]] == [
        first["id"]
    ]


def test_a_dashboard_refund_needs_the_manager_pin(server: Server) -> None:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    dispute = opened(payer, shop)
    session = {"authorization": f"Bearer {shop.token}", "idempotency-key": "k-1"}
    path = f"{server.url}/v1/merchant/disputes/{dispute['id']}/refund"
    refused = httpx.post(path, json={}, headers=session)
    assert (refused.status_code, refused.json()["field"]) == (422, "manager_pin")
    shop.client.request(
        "PUT", "/v1/merchant/manager-pin", {"pin": MANAGER_PIN, "password": PASSWORD}
    )
    done = httpx.post(
        path, json={"manager_pin": MANAGER_PIN}, headers=session | {"idempotency-key": "k-2"}
    )
    assert (done.status_code, done.json()["state"]) == (200, "refunded")
    assert payer.client.me()["balance"] == 5_000


def test_operators_roles_reasons_and_the_audit_log(server: Server) -> None:
    shop, payer = new_merchant(server), new_consumer(server, balance=5_000)
    dispute = opened(payer, shop)
    shop.client.request("POST", f"/v1/merchant/disputes/{dispute['id']}/contest", {"text": "Sent"})
    agent, finance = operator(server, "support"), operator(server, "finance")
    base = f"{server.url}/v1/ops/disputes/{dispute['id']}"
    decide = {"for": "payer", "note": "No proof of delivery"}
    key = {"idempotency-key": "d-1"}
    forbidden = httpx.post(base + "/decide", json=decide, headers=finance.headers("t-1") | key)
    assert forbidden.status_code == 403
    no_reason = httpx.post(base + "/decide", json=decide, headers=agent.headers() | key)
    assert (no_reason.status_code, no_reason.json()["field"]) == (422, "Saoma-Reason")
    assert httpx.get(base, headers=agent.headers()).status_code == 422
    seen = httpx.get(base, headers=agent.headers("ticket 9"))
    assert seen.json()["consumer_id"] == payer.id
    assert audit_actions(server, payer.id) == ["dispute.view"]
    queue = f"{server.url}/v1/ops/disputes"
    # The queue by state shows what a dispute is about, never the parties' words or the payer.
    by_state = httpx.get(queue, params={"state": "contested"}, headers=agent.headers())
    (queued,) = [d for d in by_state.json()["disputes"] if d["id"] == dispute["id"]]
    assert queued["amount"] == dispute["amount"] and queued["merchant_id"] == shop.id
    assert not {"text", "timeline", "consumer_id"} & set(queued)
    assert "Sent" not in by_state.text and payer.id not in by_state.text
    assert audit_actions(server, payer.id) == ["dispute.view"]
    # A person's disputes are their data: the reason first, and the look is on their record.
    unexplained = httpx.get(queue, params={"merchant_id": shop.id}, headers=agent.headers())
    assert (unexplained.status_code, unexplained.json()["field"]) == (422, "Saoma-Reason")
    assert audit_actions(server, shop.id) == []
    listed = httpx.get(queue, params={"merchant_id": shop.id}, headers=agent.headers("ticket 9"))
    assert [d["id"] for d in listed.json()["disputes"]] == [dispute["id"]]
    assert audit_actions(server, shop.id) == ["disputes.view"]
    done = httpx.post(base + "/decide", json=decide, headers=agent.headers("ticket 9") | key)
    assert (done.status_code, done.json()["state"]) == (200, "decided_for_payer")
    assert audit_actions(server, payer.id) == ["dispute.view", "dispute.decide"]
    assert audit_actions(server, shop.id) == ["disputes.view", "dispute.decide"]
    assert payer.client.me()["balance"] == 5_000
    with pytest.raises(SaomaError) as consumer_token:
        payer.client.request("GET", "/v1/ops/disputes")
    assert consumer_token.value.status == 401
