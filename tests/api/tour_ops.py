"""The operators' part of the response-contract tour: sign in with a TOTP code, find, open a
consumer's and a merchant's page, read the log, and the people's access logs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from saoma.client import ConsumerClient, MerchantClient, SaomaError, _Base
from saoma.db import make_engine
from saoma.operators import totp
from saoma.operators.service import Operators
from support import PASSWORD, Server


class OpsClient(_Base):
    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.token = ""
        self.reason = ""

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        found = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.reason:
            found["Saoma-Reason"] = quote(self.reason, safe="")
        return found


def tour_ops(watch: Any, server: Server, payer: ConsumerClient, shop: MerchantClient) -> None:
    engine = make_engine(server.database_url)
    try:
        added = Operators(engine).add("tour-admin@ops.example", PASSWORD, "admin", "Tour")
    finally:
        engine.dispose()
    ops = watch(OpsClient(server.url))
    with pytest.raises(SaomaError):
        ops.request(
            "POST", "/v1/ops/sessions", {"login": "x@ops.example", "password": "p", "code": "1"}
        )
    body = {
        "login": "tour-admin@ops.example",
        "password": PASSWORD,
        "code": totp.code(added.secret),
    }
    ops.token = ops.request("POST", "/v1/ops/sessions", body)["token"]
    ops.request("GET", "/v1/ops/me")
    payer_id = payer.request("GET", "/v1/me")["id"]
    shop_id = shop.request("GET", "/v1/merchant")["id"]
    ops.request("GET", "/v1/ops/search", params={"q": payer_id})
    with pytest.raises(SaomaError):  # no reason typed
        ops.request("GET", f"/v1/ops/consumers/{payer_id}")
    ops.reason = "Tour ticket 1"
    ops.request("GET", f"/v1/ops/consumers/{payer_id}")
    ops.request("GET", f"/v1/ops/merchants/{shop_id}")
    ops.reason = ""
    ops.request("GET", "/v1/ops/audit", params={"limit": 2})
    listed = ops.request("GET", "/v1/ops/operators")["operators"]
    assert ("tour-admin@ops.example", "admin", False) in [
        (o["login"], o["role"], o["disabled"]) for o in listed
    ]
    assert payer.request("GET", "/v1/me/access-log")["entries"][0]["reason"] == "Tour ticket 1"
    shop.request("GET", "/v1/merchant/access-log")
    ops.request("DELETE", "/v1/ops/sessions/current")
