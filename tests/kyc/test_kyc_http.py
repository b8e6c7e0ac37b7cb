"""Onboarding and the books over HTTP: the merchant's form, risk's decision, finance's books."""

from __future__ import annotations

import base64
import secrets

import httpx
import pytest

from kyc.ops_client import OpsClient
from saoma import signing
from saoma.client import MerchantClient, SaomaError
from support import PASSWORD, PIN, Server, engine_of, new_consumer, server
from support_ops import signed_in_operator

__all__ = ["server"]

DETAILS = {
    "legal_name": "深圳市老陈餐饮有限公司",
    "licence_number": "91440300MA5EXAMPL6",
    "category": "5814",
    "owner_id_number": "11010519491231002X",
}


def unapproved_shop(server: Server) -> tuple[MerchantClient, str]:
    """A merchant signed up over the API and left unverified (``new_merchant`` approves)."""
    key = signing.new_private_key()
    body = httpx.post(
        server.url + "/v1/merchants",
        json={
            "login": f"shop-{secrets.token_hex(4)}@example.cn",
            "password": PASSWORD,
            "name": "New Tea",
            "city": "Shenzhen",
            "public_key": base64.b64encode(signing.public_key_bytes(key)).decode(),
        },
    ).json()
    return MerchantClient(server.url, key_id=body["key_id"], private_key=key), body["merchant"][
        "id"
    ]


def ops(server: Server, role: str, reason: str | None = "ticket 42") -> OpsClient:
    return OpsClient(server.url, signed_in_operator(engine_of(server.database_url), role), reason)


def test_submit_pay_reject_resubmit_approve(server: Server) -> None:
    shop, shop_id = unapproved_shop(server)
    with pytest.raises(SaomaError) as bad:
        shop.request("PUT", "/v1/merchant/kyc", DETAILS | {"category": "12"})
    assert bad.value.status == 422 and bad.value.problem["field"] == "category"
    shown = shop.request("PUT", "/v1/merchant/kyc", DETAILS)
    assert shown["state"] == "pending" and shown["owner_id"] == "**************002X"
    assert "11010519491231002X" not in str(shop.request("GET", "/v1/merchant/kyc"))
    payer = new_consumer(server, balance=300_000)
    payer.client.request(
        "POST",
        f"/v1/merchants/{shop_id}/pay",
        {"amount": 200_000, "pin": PIN},
        idempotency_key=secrets.token_hex(8),
    )
    with pytest.raises(SaomaError) as over:
        payer.client.request(
            "POST",
            f"/v1/merchants/{shop_id}/pay",
            {"amount": 100, "pin": PIN},
            idempotency_key=secrets.token_hex(8),
        )
    assert over.value.status == 403 and over.value.slug == "merchant-not-verified"

    for role in ("support", "finance"):
        with pytest.raises(SaomaError) as forbidden:
            ops(server, role).request("POST", f"/v1/ops/kyc/{shop_id}/approve", {})
        assert forbidden.value.status == 403
    risk = ops(server, "risk")
    queue = ops(server, "risk", None).request("GET", "/v1/ops/kyc", params={"state": "pending"})
    assert {"merchant_id": shop_id}.items() <= next(
        q for q in queue["data"] if q["merchant_id"] == shop_id
    ).items()
    detail = risk.request("GET", f"/v1/ops/kyc/{shop_id}")
    assert (
        detail["owner_id"] == "**************002X" and detail["legal_name"] == DETAILS["legal_name"]
    )
    risk.request("POST", f"/v1/ops/kyc/{shop_id}/reject", {"message": "Licence unreadable."})
    seen = shop.request("GET", "/v1/merchant/kyc")
    assert (seen["state"], seen["reason"]) == ("rejected", "Licence unreadable.")
    with pytest.raises(SaomaError) as twice:
        risk.request("POST", f"/v1/ops/kyc/{shop_id}/approve", {})
    assert twice.value.status == 409
    shop.request("PUT", "/v1/merchant/kyc", DETAILS)
    risk.request("POST", f"/v1/ops/kyc/{shop_id}/approve", {})
    assert shop.request("GET", "/v1/merchant/kyc")["state"] == "approved"
    payer.client.request(
        "POST",
        f"/v1/merchants/{shop_id}/pay",
        {"amount": 100, "pin": PIN},
        idempotency_key=secrets.token_hex(8),
    )


def test_books_for_finance_only(server: Server) -> None:
    books = ops(server, "finance", None).request("GET", "/v1/ops/books")
    assert books["currency"] == "CNY" and books["fees"]["income"] >= 0
    with pytest.raises(SaomaError) as forbidden:
        ops(server, "support", None).request("GET", "/v1/ops/books")
    assert forbidden.value.status == 403
