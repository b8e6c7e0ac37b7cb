"""Mini-programs over HTTP on both databases: registration, the operator's approval, the payer's
code exchanged once for a token, the token's scopes, revocation, and the wallet's previews."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from saoma import signing
from saoma.client import SaomaError
from support import Payer, Server, Shop, new_consumer, new_merchant, verify_login

from .conftest import approve, register

RACERS = 50
SHENZHEN = ZoneInfo("Asia/Shanghai")


def origin() -> str:
    return f"http://127.0.0.1:{20000 + secrets.randbelow(40000)}"


def approved_service(server: Server, shop: Shop, **fields: Any) -> dict[str, Any]:
    registered = register(shop, origin(), **fields)
    done = approve(server, registered["id"])
    assert done.returncode == 0, done.stdout + done.stderr
    return registered


def refusal(call: Any) -> tuple[int, str, str | None]:
    with pytest.raises(SaomaError) as refused:
        call()
    problem = refused.value.problem
    return refused.value.status, refused.value.slug, problem.get("field")


def code_for(payer: Payer, service: dict[str, Any], scopes: list[str]) -> str:
    path = f"/v1/me/mini-programs/{service['id']}/authorizations"
    given: dict[str, Any] = payer.client.request("POST", path, {"scopes": scopes})
    assert given["expires_in"] == 60
    return str(given["code"])


def exchange(shop: Shop, code: str) -> dict[str, Any]:
    body = {"grant_type": "authorization_code", "code": code}
    result: dict[str, Any] = shop.client.request("POST", "/v1/mini/tokens", body)
    return result


def userinfo(shop: Shop, token: str) -> httpx.Response:
    """The service's server reads the profile: a signed request carrying the token."""
    path = "/v1/mini/userinfo"
    headers = signing.sign_request(
        shop.client.private_key, shop.client.key_id, "GET", path, b"", timestamp=int(time.time())
    )
    return shop.client.http.get(path, headers=headers | {"authorization": f"Bearer {token}"})


def test_registration_refuses_what_the_wallet_could_not_trust(local_server: Server) -> None:
    shop = new_merchant(local_server)
    cases = {
        "origin": {"origin": "https://bike.example.cn/app"},
        "icon": {"icon": "https://bike.example.cn/icon.png"},
        "scopes": {"scopes": ["profile.email"]},
        "name": {"name": ""},
    }
    for field, fields in cases.items():
        wanted = fields.pop("origin", origin())
        status, slug, named = refusal(lambda o=wanted, f=fields: register(shop, o, **f))
        assert (status, slug, named) == (422, "invalid-request", field)
    assert register(shop, "HTTP://127.0.0.1:8001/")["origin"] == "http://127.0.0.1:8001"
    status, slug, named = refusal(
        lambda: register(new_merchant(local_server), "http://127.0.0.1:8001")
    )
    assert (status, slug, named) == (409, "conflict", "origin")  # one origin, one service
    unsigned = httpx.post(local_server.url + "/v1/mini-programs", json={"name": "x"})
    assert unsigned.status_code == 401
    mine = shop.client.request("GET", "/v1/merchant/mini-programs")["data"]
    assert [m["state"] for m in mine] == ["pending"]


def test_the_wallet_lists_and_frames_only_what_an_operator_approved(local_server: Server) -> None:
    shop = new_merchant(local_server)
    payer = new_consumer(local_server)
    registered = register(shop, origin())
    listed = lambda: [m["id"] for m in payer.client.request("GET", "/v1/mini-programs")["data"]]  # noqa: E731
    csp = lambda: httpx.get(local_server.url + "/wallet").headers["content-security-policy"]  # noqa: E731
    assert registered["id"] not in listed()
    assert registered["origin"] not in csp()
    status, slug, _ = refusal(lambda: code_for(payer, registered, []))
    assert (status, slug) == (404, "not-found")  # no consent can be asked for it yet

    done = approve(local_server, registered["id"])
    assert done.returncode == 0, done.stderr
    assert registered["id"] in done.stdout and "approved" in done.stdout
    assert registered["id"] in listed()
    assert f"frame-src {registered['origin']}" in csp() or f" {registered['origin']}" in csp()
    assert approve(local_server, registered["id"]).returncode == 0  # again: nothing changes
    unknown = approve(local_server, "mp_nosuchthing")
    assert unknown.returncode == 1
    assert "mp_nosuchthing" in unknown.stdout


def test_a_code_becomes_one_token_that_reads_only_the_scopes_granted(
    local_server: Server,
) -> None:
    shop, other = new_merchant(local_server), new_merchant(local_server)
    service = approved_service(local_server, shop, scopes=["profile.masked_name", "profile.phone"])
    payer = new_consumer(local_server)
    code = code_for(payer, service, ["profile.masked_name"])
    # Another merchant's server cannot redeem it, and trying does not use it up.
    assert refusal(lambda: exchange(other, code))[:2] == (400, "invalid-grant")
    token = exchange(shop, code)
    assert token["token_type"] == "Bearer" and token["scope"] == "profile.masked_name"
    assert refusal(lambda: exchange(shop, code))[:2] == (400, "invalid-grant")  # single use

    read = userinfo(shop, token["access_token"])
    assert read.status_code == 200, read.text
    assert read.json() == {
        "sub": token["sub"],
        "masked_name": "*Wei",
        "scope": "profile.masked_name",
    }
    assert userinfo(other, token["access_token"]).json()["type"].endswith("/access-token-invalid")

    verify_login(local_server, payer.client, payer.login)
    both = exchange(shop, code_for(payer, service, ["profile.phone", "profile.masked_name"]))
    profile = userinfo(shop, both["access_token"]).json()
    assert (profile["phone"], profile["masked_name"]) == (payer.login, "*Wei")
    assert profile["sub"] == token["sub"]  # one payer is one id to this service

    narrow = approved_service(local_server, shop)  # may ask for the masked name only
    status, slug, field = refusal(lambda: code_for(payer, narrow, ["profile.phone"]))
    assert (status, slug, field) == (422, "invalid-request", "scopes")
    other_sub = exchange(shop, code_for(payer, narrow, []))["sub"]
    assert other_sub != token["sub"]  # two services cannot match their users up


def test_fifty_concurrent_exchanges_of_one_code_make_exactly_one_token(
    local_server: Server,
) -> None:
    shop = new_merchant(local_server)
    service = approved_service(local_server, shop)
    code = code_for(new_consumer(local_server), service, ["profile.masked_name"])

    def attempt(_: int) -> int:
        response = httpx.post(
            local_server.url + "/v1/mini/tokens",
            content=(body := f'{{"grant_type": "authorization_code", "code": "{code}"}}'.encode()),
            headers=signing.sign_request(
                shop.client.private_key,
                shop.client.key_id,
                "POST",
                "/v1/mini/tokens",
                body,
                timestamp=int(time.time()),
            )
            | {"content-type": "application/json"},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = list(pool.map(attempt, range(RACERS)))
    assert sorted(statuses) == [200] + [400] * (RACERS - 1)


def test_fifty_registrations_at_once_stop_at_a_merchants_twenty(local_server: Server) -> None:
    shop = new_merchant(local_server)
    origins = [f"http://127.0.0.1:{30000 + i}" for i in range(RACERS)]

    def attempt(at: str) -> tuple[int, str]:
        try:
            return 201, register(shop, at)["id"]
        except SaomaError as exc:
            return exc.status, exc.slug + ": " + exc.problem.get("detail", "")

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(attempt, origins))
    made = [said for status, said in outcomes if status == 201]
    assert len(made) == 20
    assert {said for status, said in outcomes if status != 201} == {
        "invalid-request: name: a merchant registers 20 mini-programs at most"
    }
    listed = shop.client.request("GET", "/v1/merchant/mini-programs")["data"]
    assert sorted(m["id"] for m in listed) == sorted(made)


def test_a_revoked_token_is_refused_at_once(local_server: Server) -> None:
    shop = new_merchant(local_server)
    service = approved_service(local_server, shop)
    payer = new_consumer(local_server)
    token = exchange(shop, code_for(payer, service, ["profile.masked_name"]))["access_token"]
    waiting = code_for(payer, service, ["profile.masked_name"])  # agreed, not yet exchanged
    assert userinfo(shop, token).status_code == 200
    grants = payer.client.request("GET", "/v1/me/mini-program-grants")["data"]
    assert [(g["id"], g["granted_scopes"]) for g in grants] == [
        (service["id"], ["profile.masked_name"])
    ]

    payer.client.request("DELETE", f"/v1/me/mini-program-grants/{service['id']}")
    refused = userinfo(shop, token)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/access-token-invalid")
    assert refusal(lambda: exchange(shop, waiting))[:2] == (400, "invalid-grant")
    assert payer.client.request("GET", "/v1/me/mini-program-grants")["data"] == []


def test_the_wallet_previews_only_the_services_own_orders_and_holds(
    local_server: Server,
) -> None:
    shop, other = new_merchant(local_server), new_merchant(local_server)
    service = approved_service(local_server, shop)
    payer = new_consumer(local_server)
    base = f"/v1/me/mini-programs/{service['id']}"
    mine = shop.client.create_order(f"T-{secrets.token_hex(4)}", 500)
    theirs = other.client.create_order(f"T-{secrets.token_hex(4)}", 500)
    hold = shop.client.create_hold(f"RIDE-{secrets.token_hex(4)}", 9_900)

    preview = payer.client.request("GET", f"{base}/orders/{mine['id']}")
    assert (preview["kind"], preview["amount"], preview["merchant"]["id"]) == (
        "order",
        500,
        shop.id,
    )
    assert payer.client.request("GET", f"{base}/holds/{hold['id']}")["kind"] == "hold"
    for path, field in ((f"orders/{theirs['id']}", "order_id"), ("holds/h_nothing", "hold_id")):
        status, slug, named = refusal(lambda p=path: payer.client.request("GET", f"{base}/{p}"))
        assert (status, slug, named) == (403, "order-not-of-service", field)
    pending = register(shop, origin())
    status, slug, _ = refusal(
        lambda: payer.client.request(
            "GET", f"/v1/me/mini-programs/{pending['id']}/orders/{mine['id']}"
        )
    )
    assert (status, slug) == (404, "not-found")
    # The other shop's order is still there to pay, by scanning its own code.
    assert other.client.get_order(theirs["id"])["state"] == "created"


def _days(days: int) -> str:
    """A calendar day in the server's zone (SAOMA_TIMEZONE's default), ``days`` from today."""
    return (datetime.now(SHENZHEN).date() + timedelta(days=days)).isoformat()


def ask_mandate(shop: Shop, payer: str | None, token: str | None = None) -> dict[str, Any]:
    return shop.client.request_mandate(
        payer,
        f"PASS-{secrets.token_hex(4)}",
        purpose="Metro monthly pass",
        amount_max=15_000,
        frequency="monthly",
        start_on=_days(0),
        end_on=_days(365),
        access_token=token,
    )


def test_a_services_server_asks_a_mandate_of_the_payer_its_token_names(
    local_server: Server,
) -> None:
    shop, other = new_merchant(local_server), new_merchant(local_server)
    service = approved_service(local_server, shop)
    theirs = approved_service(local_server, other)
    payer = new_consumer(local_server)
    token = exchange(shop, code_for(payer, service, ["profile.masked_name"]))["access_token"]

    asked = ask_mandate(shop, None, token)
    assert (asked["state"], asked["payer"], asked["amount_max"]) == ("requested", "*Wei", 15_000)
    (listed,) = payer.client.request("GET", "/v1/me/mandates")["data"]
    assert (listed["id"], listed["merchant"]["id"]) == (asked["id"], shop.id)

    their_token = exchange(other, code_for(payer, theirs, []))["access_token"]
    cases = {
        "both": (lambda: ask_mandate(shop, payer.id, token), (422, "invalid-request", "payer")),
        "neither": (lambda: ask_mandate(shop, None), (422, "invalid-request", "payer")),
        # Another merchant's service's token names nobody to this shop.
        "theirs": (lambda: ask_mandate(shop, None, their_token), (401, "access-token-invalid")),
        "unknown": (lambda: ask_mandate(shop, None, "mat_nothing"), (401, "access-token-invalid")),
    }
    for name, (call, expected) in cases.items():
        assert refusal(call)[: len(expected)] == expected, name
    payer.client.request("DELETE", f"/v1/me/mini-program-grants/{service['id']}")
    assert refusal(lambda: ask_mandate(shop, None, token))[:2] == (401, "access-token-invalid")
    assert [m["id"] for m in payer.client.request("GET", "/v1/me/mandates")["data"]] == [
        asked["id"]
    ]


def test_the_wallet_previews_only_the_services_own_mandates_for_this_payer(
    local_server: Server,
) -> None:
    shop, other = new_merchant(local_server), new_merchant(local_server)
    service = approved_service(local_server, shop)
    payer, someone = new_consumer(local_server), new_consumer(local_server)
    base = f"/v1/me/mini-programs/{service['id']}/mandates"
    mine = ask_mandate(shop, payer.id)
    preview = payer.client.request("GET", f"{base}/{mine['id']}")
    assert (preview["purpose"], preview["amount_max"], preview["frequency"]) == (
        "Metro monthly pass",
        15_000,
        "monthly",
    )
    assert (preview["merchant"]["id"], preview["state"]) == (shop.id, "requested")

    theirs = ask_mandate(other, payer.id)
    status, slug, named = refusal(lambda: payer.client.request("GET", f"{base}/{theirs['id']}"))
    assert (status, slug, named) == (403, "mandate-not-of-service", "mandate_id")
    not_mine = ask_mandate(shop, someone.id)
    status, slug, _ = refusal(lambda: payer.client.request("GET", f"{base}/{not_mine['id']}"))
    assert (status, slug) == (404, "not-found")
    # Refused previews changed nothing: both still wait for their payers.
    assert other.client.get_mandate(theirs["id"])["state"] == "requested"
    assert shop.client.get_mandate(not_mine["id"])["state"] == "requested"
