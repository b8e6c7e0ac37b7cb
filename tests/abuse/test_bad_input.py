"""Bad input against the routes that move money, over real HTTP, on SQLite and PostgreSQL.

Amounts that are not a positive whole number of fen, currencies that are not the wallet's,
unicode in every text field, bodies too large (with and without Content-Length), replayed
Idempotency-Keys with another body, stale or forged merchant signatures and reused nonces, PIN
guessing and a double spend raced by twenty threads. Each is refused with a problem document
naming the field at fault, or accepted intact, never a 5xx; and a refusal moves nothing.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from saoma import signing
from saoma.core.money import rate_of
from saoma.db import make_engine
from support import (
    PIN,
    Payer,
    Server,
    Shop,
    fresh_key,
    new_consumer,
    new_merchant,
    signed_headers,
    wait_until,
)

TYPE_BASE = "https://saoma.dev/problems/"
BODY_MAX = 64 * 1024


# --- requests -----------------------------------------------------------------------------------


def _encode(body: dict[str, Any] | str) -> bytes:
    """A dict as JSON; a str is sent as it is (for NaN, Infinity and other raw tokens)."""
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def as_consumer(
    server: Server,
    payer: Payer,
    method: str,
    path: str,
    body: dict[str, Any] | str | None = None,
    *,
    key: str | None = None,
) -> httpx.Response:
    headers = {"authorization": f"Bearer {payer.client.token}"}
    if method == "POST":
        headers["idempotency-key"] = key or secrets.token_hex(8)
    content = b""
    if body is not None:
        content = _encode(body)
        headers["content-type"] = "application/json"
    return httpx.request(method, server.url + path, content=content, headers=headers, timeout=15)


def as_merchant(
    server: Server,
    shop: Shop,
    method: str,
    path: str,
    body: dict[str, Any] | str | None = None,
    *,
    key: str | None = None,
) -> httpx.Response:
    content = b"" if body is None else _encode(body)
    headers = signed_headers(shop.client, method, path, content)
    if body is not None:
        headers["content-type"] = "application/json"
    if method == "POST":
        headers["idempotency-key"] = key or secrets.token_hex(8)
    return httpx.request(method, server.url + path, content=content, headers=headers, timeout=15)


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None
) -> dict[str, Any]:
    """A problem document with a stable type; with ``field``, one that names it."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    problem: dict[str, Any] = response.json()
    assert problem["type"].startswith(TYPE_BASE) and problem["status"] == status, problem
    assert problem["title"] and problem["detail"], problem
    if field is not None:
        assert problem.get("field") == field, problem
        assert field.lower() in problem["detail"].lower(), problem
    return problem


# --- the scene ----------------------------------------------------------------------------------


@dataclass
class Scene:
    server: Server
    shop: Shop
    payer: Payer
    friend: Payer
    order_id: str
    payment_id: str

    def balances(self) -> tuple[int, int, int]:
        return (
            self.payer.client.me()["balance"],
            self.shop.client.me()["balance"],
            self.friend.client.me()["balance"],
        )


@pytest.fixture(scope="module")
def scene(server: Server) -> Scene:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=200_000)
    friend = new_consumer(server)
    paid = shop.client.create_order(f"PAID-{secrets.token_hex(4)}", 20_000)
    payment = payer.client.pay_order(paid["id"], PIN)
    order = shop.client.create_order(f"OPEN-{secrets.token_hex(4)}", 500)
    return Scene(server, shop, payer, friend, order["id"], payment["id"])


def _no() -> str:
    return f"N-{secrets.token_hex(6)}"


# Each money-moving route: who calls it, where, and a valid body (amount 100 fen).
Route = Callable[[Scene], tuple[str, str, dict[str, Any]]]
MONEY_ROUTES: dict[str, Route] = {
    "pay-order": lambda s: ("consumer", f"/v1/orders/{s.order_id}/pay", {"pin": PIN}),
    "static-pay": lambda s: (
        "consumer",
        f"/v1/merchants/{s.shop.id}/pay",
        {"amount": 100, "currency": "CNY", "pin": PIN},
    ),
    "top-up": lambda s: ("consumer", "/v1/me/top-ups", {"amount": 100, "currency": "CNY"}),
    "withdraw": lambda s: (
        "consumer",
        "/v1/me/withdrawals",
        {"amount": 100, "currency": "CNY", "pin": PIN},
    ),
    "transfer": lambda s: (
        "consumer",
        "/v1/transfers",
        {"to": s.friend.id, "amount": 100, "currency": "CNY", "pin": PIN},
    ),
    "red-packet": lambda s: (
        "consumer",
        "/v1/red-packets",
        {"amount": 100, "shares": 2, "mode": "equal", "currency": "CNY", "pin": PIN},
    ),
    "refund": lambda s: (
        "merchant",
        f"/v1/payments/{s.payment_id}/refunds",
        {"amount": 100, "merchant_refund_no": _no()},
    ),
    "create-order": lambda s: (
        "merchant",
        "/v1/orders",
        {"merchant_order_no": _no(), "amount": 100, "currency": "CNY"},
    ),
}


def send(scene: Scene, route: str, body: dict[str, Any] | str, *, key: str | None = None) -> Any:
    caller, path, _ = MONEY_ROUTES[route](scene)
    if caller == "consumer":
        return as_consumer(scene.server, scene.payer, "POST", path, body, key=key)
    return as_merchant(scene.server, scene.shop, "POST", path, body, key=key)


def with_raw(body: dict[str, Any], name: str, raw: str) -> str:
    """The body as JSON text with ``name`` set to a raw JSON token."""
    marker = "@@raw@@"
    return json.dumps({**body, name: marker}).replace(json.dumps(marker), raw)


# --- amounts and currencies ---------------------------------------------------------------------

BAD_AMOUNTS = [
    "0",
    "-0",
    "-1",
    "-100",
    str(-(2**63)),
    str(2**63),
    str(2**64 + 1),
    "1" + "0" * 40,
    "1000000000000001",  # one fen above the most one transfer may carry
    "12.5",
    "100.0",
    "1e2",
    "1e400",
    "NaN",
    "Infinity",
    '"12"',
    '"100"',
    "true",
    "null",
    "[100]",
    '{"fen": 100}',
]


@pytest.mark.parametrize("raw", BAD_AMOUNTS)
@pytest.mark.parametrize("route", list(MONEY_ROUTES))
def test_bad_amounts_are_refused_and_move_nothing(scene: Scene, route: str, raw: str) -> None:
    _, _, body = MONEY_ROUTES[route](scene)
    before = scene.balances()
    response = send(scene, route, with_raw(body, "amount", raw))
    assert_problem(response, 422, "amount")
    assert scene.balances() == before
    if route == "create-order":
        number = body["merchant_order_no"]
        lookup = as_merchant(
            scene.server, scene.shop, "GET", f"/v1/orders?merchant_order_no={number}"
        )
        assert lookup.status_code == 404


BAD_CURRENCIES = ['"USD"', '"JPY"', '"XXX"', '"cny"', '" CNY"', '""', '"人民币"', "156", "null"]


@pytest.mark.parametrize("raw", BAD_CURRENCIES)
@pytest.mark.parametrize("route", list(MONEY_ROUTES))
def test_wrong_currencies_are_refused_and_move_nothing(scene: Scene, route: str, raw: str) -> None:
    _, _, body = MONEY_ROUTES[route](scene)
    before = scene.balances()
    response = send(scene, route, with_raw(body, "currency", raw))
    assert_problem(response, 422, "currency")
    assert scene.balances() == before


# --- unicode in every text field ----------------------------------------------------------------

TEXTS = {
    "emoji": "🍜🧧💰 加油 👨‍👩‍👧",
    "cjk": "老陈面馆 牛肉面 ラーメン 냉면",
    "rtl": "مرحبا بالعالم שלום",
    "bidi-override": "abc\u202edcba\u202c",
    "combining": "Cafe\u0301 n\u0303",
    "zero-width": "a\u200bb\ufeffc",
    "nul": "noodles\x00beef",
    "control": "line\nbreak\ttab",
    "lone-surrogate": "\ud83d half an emoji",
    "private-use": "\ue000\U000f0000",
}


@dataclass(frozen=True)
class TextField:
    """A text field of a request, and where the answer echoes it (None: not echoed)."""

    caller: str
    method: str
    path: Callable[[Scene], str]
    body: Callable[[Scene, str], dict[str, Any]]
    field: str
    echo: Callable[[Scene, dict[str, Any]], Any] | None


def _money(extra: dict[str, Any]) -> dict[str, Any]:
    return {"amount": 1, "currency": "CNY", **extra}


TEXT_FIELDS: dict[str, TextField] = {
    "sign-up.display_name": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/consumers",
        lambda s, t: {
            "login": f"+86137{secrets.randbelow(10**8):08d}",
            "password": "correct horse battery",
            "display_name": t,
        },
        "display_name",
        lambda s, r: r["consumer"]["display_name"],
    ),
    "sign-up.login": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/consumers",
        lambda s, t: {"login": t, "password": "correct horse battery"},
        "login",
        lambda s, r: r["consumer"]["login"],
    ),
    "sign-up.password": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/consumers",
        lambda s, t: {
            "login": f"+86137{secrets.randbelow(10**8):08d}",
            "password": t + " long enough",
        },
        "password",
        None,
    ),
    "sign-in.login": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/sessions",
        lambda s, t: {"login": t, "password": "correct horse battery"},
        "login",
        None,
    ),
    "merchant.name": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/merchants",
        lambda s, t: {
            "login": f"{secrets.token_hex(4)}@example.cn",
            "password": "correct horse battery",
            "name": t,
            "city": "Shenzhen",
        },
        "name",
        lambda s, r: r["merchant"]["name"],
    ),
    "merchant.name_zh": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/merchants",
        lambda s, t: {
            "login": f"{secrets.token_hex(4)}@example.cn",
            "password": "correct horse battery",
            "name": "Noodles",
            "name_zh": t,
            "city": "Shenzhen",
        },
        "name_zh",
        lambda s, r: r["merchant"]["name_zh"],
    ),
    "merchant.city": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/merchants",
        lambda s, t: {
            "login": f"{secrets.token_hex(4)}@example.cn",
            "password": "correct horse battery",
            "name": "Noodles",
            "city": t,
        },
        "city",
        lambda s, r: r["merchant"]["city"],
    ),
    "merchant.category_code": TextField(
        "anyone",
        "POST",
        lambda s: "/v1/merchants",
        lambda s, t: {
            "login": f"{secrets.token_hex(4)}@example.cn",
            "password": "correct horse battery",
            "name": "Noodles",
            "city": "Shenzhen",
            "category_code": t,
        },
        "category_code",
        lambda s, r: r["merchant"]["category_code"],
    ),
    "merchant.webhook_url": TextField(
        "merchant",
        "PUT",
        lambda s: "/v1/merchant/webhook",
        lambda s, t: {"url": f"http://127.0.0.1:9/{t}"},
        "url",
        lambda s, r: r["webhook_url"],
    ),
    "order.merchant_order_no": TextField(
        "merchant",
        "POST",
        lambda s: "/v1/orders",
        lambda s, t: {"merchant_order_no": t + _no(), "amount": 100},
        "merchant_order_no",
        lambda s, r: r["merchant_order_no"],
    ),
    "order.description": TextField(
        "merchant",
        "POST",
        lambda s: "/v1/orders",
        lambda s, t: {"merchant_order_no": _no(), "amount": 100, "description": t},
        "description",
        lambda s, r: r["description"],
    ),
    "static-pay.note": TextField(
        "consumer",
        "POST",
        lambda s: f"/v1/merchants/{s.shop.id}/pay",
        lambda s, t: _money({"pin": PIN, "note": t}),
        "note",
        lambda s, r: r["note"],
    ),
    "pay.pin": TextField(
        "consumer",
        "POST",
        lambda s: f"/v1/merchants/{s.shop.id}/pay",
        lambda s, t: _money({"pin": t}),
        "pin",
        None,
    ),
    "pay.offer_id": TextField(
        "consumer",
        "POST",
        lambda s: f"/v1/merchants/{s.shop.id}/pay",
        lambda s, t: _money({"pin": PIN, "offer_id": t}),
        "offer_id",
        None,
    ),
    "transfer.note": TextField(
        "consumer",
        "POST",
        lambda s: "/v1/transfers",
        lambda s, t: _money({"to": s.friend.id, "pin": PIN, "note": t}),
        "note",
        lambda s, r: r["note"],
    ),
    "transfer.to": TextField(
        "consumer",
        "POST",
        lambda s: "/v1/transfers",
        lambda s, t: _money({"to": t, "pin": PIN}),
        "to",
        None,
    ),
    "red-packet.greeting": TextField(
        "consumer",
        "POST",
        lambda s: "/v1/red-packets",
        lambda s, t: _money({"shares": 1, "mode": "equal", "pin": PIN, "greeting": t}),
        "greeting",
        lambda s, r: r["greeting"],
    ),
    "red-packet.mode": TextField(
        "consumer",
        "POST",
        lambda s: "/v1/red-packets",
        lambda s, t: _money({"shares": 1, "mode": t, "pin": PIN}),
        "mode",
        None,
    ),
    "refund.merchant_refund_no": TextField(
        "merchant",
        "POST",
        lambda s: f"/v1/payments/{s.payment_id}/refunds",
        lambda s, t: {"amount": 1, "merchant_refund_no": t + _no()},
        "merchant_refund_no",
        lambda s, r: r["merchant_refund_no"],
    ),
    "refund.reason": TextField(
        "merchant",
        "POST",
        lambda s: f"/v1/payments/{s.payment_id}/refunds",
        lambda s, t: {"amount": 1, "merchant_refund_no": _no(), "reason": t},
        "reason",
        lambda s, r: r["reason"],
    ),
    "hold.merchant_ref": TextField(
        "merchant",
        "POST",
        lambda s: "/v1/holds",
        lambda s, t: {"merchant_ref": t + _no(), "amount": 100},
        "merchant_ref",
        lambda s, r: r["merchant_ref"],
    ),
    "hold.description": TextField(
        "merchant",
        "POST",
        lambda s: "/v1/holds",
        lambda s, t: {"merchant_ref": _no(), "amount": 100, "description": t},
        "description",
        lambda s, r: r["description"],
    ),
    "preview.payload": TextField(
        "consumer",
        "POST",
        lambda s: "/v1/codes/preview",
        lambda s, t: {"payload": t},
        "payload",
        None,
    ),
    "device.label": TextField(
        "consumer",
        "POST",
        lambda s: "/v1/me/devices",
        lambda s, t: {"label": t},
        "label",
        lambda s, r: next(
            d["label"]
            for d in as_consumer(s.server, s.payer, "GET", "/v1/me/devices").json()["data"]
            if d["id"] == r["device_id"]
        ),
    ),
    "campaign.name": TextField(
        "merchant",
        "POST",
        lambda s: "/v1/campaigns",
        lambda s, t: {"name": t, "kind": "amount_off", "budget": 10, "amount_off": 1},
        "name",
        lambda s, r: r["name"],
    ),
    "charge.terminal_id": TextField(
        "merchant",
        "POST",
        lambda s: "/v1/charges",
        lambda s, t: {
            "code": "281234567890123456",
            "amount": 100,
            "merchant_order_no": _no(),
            "terminal_id": t,
        },
        "terminal_id",
        None,
    ),
    "orders.lookup": TextField(
        "merchant",
        "GET",
        lambda s: "/v1/orders",
        lambda s, t: {},
        "merchant_order_no",
        None,
    ),
}


def _sent_text(spec: TextField, body: dict[str, Any]) -> str:
    value = body.get(spec.field)
    if isinstance(value, str):
        return value
    return ""


@pytest.mark.parametrize("text", list(TEXTS))
@pytest.mark.parametrize("name", list(TEXT_FIELDS))
def test_unicode_in_text_fields_is_kept_intact_or_refused_clearly(
    scene: Scene, name: str, text: str
) -> None:
    spec = TEXT_FIELDS[name]
    value = TEXTS[text]
    body = spec.body(scene, value)
    path = spec.path(scene)
    if name == "orders.lookup":  # the text goes in the query string
        path += "?merchant_order_no=" + quote(value.encode("utf-8", "surrogatepass"))
        body_or_none: dict[str, Any] | None = None
    else:
        body_or_none = body
    if spec.caller == "merchant":
        response = as_merchant(scene.server, scene.shop, spec.method, path, body_or_none)
    elif spec.caller == "consumer":
        response = as_consumer(scene.server, scene.payer, spec.method, path, body_or_none)
    else:
        response = httpx.request(
            spec.method,
            scene.server.url + path,
            content=_encode(body),
            headers={"content-type": "application/json"},
            timeout=15,
        )
    assert response.status_code < 500, response.text
    if response.status_code < 300:
        if spec.echo is not None:
            assert spec.echo(scene, response.json()) == _sent_text(spec, body), "changed"
        return
    problem = assert_problem(response, response.status_code)
    if response.status_code == 422 and problem["type"].endswith("/invalid-request"):
        blamed = {spec.field, "body"}
        assert problem.get("field") in blamed, problem
    if spec.field == "pin":  # a wrong PIN counts as a try: pay with the right one to reset
        paid = as_consumer(scene.server, scene.payer, "POST", path, _money({"pin": PIN}))
        assert paid.status_code == 201, paid.text


def test_a_bad_recipient_is_blamed_on_to(scene: Scene) -> None:
    body = {"to": "nobody", "amount": 1, "pin": PIN}
    assert_problem(send(scene, "transfer", body), 422, "to")


def test_a_nul_in_the_url_is_refused_not_crashed(scene: Scene) -> None:
    """PostgreSQL cannot even compare a text column with a NUL: it never gets that far."""
    for path in ("/v1/orders/ord_%00", "/v1/people/c_%00x/code.svg", "/v1/holds/%00"):
        assert_problem(as_merchant(scene.server, scene.shop, "GET", path), 404)
    for path in ("/v1/me/payments/pay_%00", "/v1/red-packets/rp_%00"):
        assert_problem(as_consumer(scene.server, scene.payer, "GET", path), 404)
    lookup = as_merchant(scene.server, scene.shop, "GET", "/v1/orders?merchant_order_no=a%00")
    assert_problem(lookup, 422, "merchant_order_no")
    page = as_consumer(scene.server, scene.payer, "GET", "/v1/me/payments?cursor=%00&limit=5")
    assert_problem(page, 422, "cursor")


# --- bodies too large ---------------------------------------------------------------------------


def _chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _padded(body: dict[str, Any], total: int) -> bytes:
    """``body`` with an unknown field padding it to exactly ``total`` bytes of JSON."""
    bare = json.dumps({**body, "pad": ""}).encode()
    return json.dumps({**body, "pad": "x" * (total - len(bare))}).encode()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", ["static-pay", "top-up", "transfer", "refund", "create-order"])
def test_bodies_over_64_kib_get_413_and_move_nothing(
    scene: Scene, route: str, chunked: bool
) -> None:
    caller, path, body = MONEY_ROUTES[route](scene)
    before = scene.balances()
    for size in (BODY_MAX + 1, 200_000, 5_000_000):
        content = _padded(body, size)
        assert len(content) == size
        if caller == "consumer":
            headers = {"authorization": f"Bearer {scene.payer.client.token}"}
        else:
            headers = signed_headers(scene.shop.client, "POST", path, content)
        headers |= {"content-type": "application/json", "idempotency-key": secrets.token_hex(8)}
        sent: bytes | Iterator[bytes] = _chunks(content) if chunked else content
        response = httpx.post(scene.server.url + path, content=sent, headers=headers, timeout=30)
        assert response.status_code == 413, (size, response.status_code, response.text[:300])
        assert_problem(response, 413)
        assert response.json()["type"] == TYPE_BASE + "body-too-large"
    assert scene.balances() == before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_64_kib_is_read(scene: Scene, chunked: bool) -> None:
    """The limit is inclusive, and a chunked body within it reaches the route intact."""
    _, path, body = MONEY_ROUTES["top-up"](scene)
    content = _padded(body, BODY_MAX)
    headers = {
        "authorization": f"Bearer {scene.payer.client.token}",
        "content-type": "application/json",
        "idempotency-key": secrets.token_hex(8),
    }
    sent: bytes | Iterator[bytes] = _chunks(content) if chunked else content
    response = httpx.post(scene.server.url + path, content=sent, headers=headers, timeout=30)
    assert_problem(response, 422, "pad")  # read and parsed: only the padding field is unknown


def test_chunked_requests_within_the_limit_work_signed_and_unsigned(scene: Scene) -> None:
    before_payer, before_shop, _ = scene.balances()
    body = json.dumps({"amount": 321, "currency": "CNY", "pin": PIN}).encode()
    paid = httpx.post(
        f"{scene.server.url}/v1/merchants/{scene.shop.id}/pay",
        content=_chunks(body, 7),
        headers={
            "authorization": f"Bearer {scene.payer.client.token}",
            "content-type": "application/json",
            "idempotency-key": secrets.token_hex(8),
        },
        timeout=15,
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount"] == 321
    order = json.dumps({"merchant_order_no": _no(), "amount": 250}).encode()
    headers = signed_headers(scene.shop.client, "POST", "/v1/orders", order)
    headers["content-type"] = "application/json"
    created = httpx.post(
        scene.server.url + "/v1/orders", content=_chunks(order, 5), headers=headers, timeout=15
    )
    assert created.status_code == 201, created.text  # the signature covers the whole body
    assert created.json()["amount"] == 250
    payer, shop, _ = scene.balances()
    fee = rate_of(321, scene.shop.client.me()["fee_ppm"])
    assert (payer, shop) == (before_payer - 321, before_shop + 321 - fee)


def test_a_content_length_that_is_not_a_number_is_refused(scene: Scene) -> None:
    host, port = scene.server.url.removeprefix("http://").split(":")
    request = (
        f"POST /v1/me/top-ups HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {scene.payer.client.token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1e9\r\nConnection: close\r\n\r\n"
    ).encode()
    before = scene.balances()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    assert scene.balances() == before


# --- Idempotency-Key replayed with another body -------------------------------------------------


def _settled(scene: Scene) -> tuple[int, int, int]:
    """Balances once the sandbox bank has answered every instruction of the payer's."""
    engine = make_engine(scene.server.database_url)

    def answered() -> bool:
        with engine.connect() as conn:
            return not conn.execute(
                text("SELECT 1 FROM bank_transfers WHERE consumer_id = :c AND state = 'pending'"),
                {"c": scene.payer.id},
            ).first()

    try:
        wait_until(answered, timeout_s=10, what="the bank to answer the payer's instructions")
    finally:
        engine.dispose()
    return scene.balances()


@pytest.mark.parametrize(
    "route", ["static-pay", "top-up", "withdraw", "transfer", "red-packet", "refund"]
)
def test_a_reused_idempotency_key_with_another_body_is_refused_and_moves_nothing(
    scene: Scene, route: str
) -> None:
    _, _, body = MONEY_ROUTES[route](scene)
    key = secrets.token_hex(12)
    before = _settled(scene)
    first = send(scene, route, body, key=key)
    assert first.status_code in (201, 202), first.text
    after_first = _settled(scene)
    assert after_first != before  # the first request did move money

    same = send(scene, route, body, key=key)
    assert same.status_code == first.status_code and same.json()["id"] == first.json()["id"]
    assert same.headers.get("idempotent-replayed") == "true"
    if route != "red-packet":  # see test_a_replayed_red_packet_answers_the_first_response
        assert same.json() == first.json()

    for other in ({**body, "amount": 101}, {**body, "amount": 100_000}, {**body, "extra": 1}):
        refused = send(scene, route, other, key=key)
        if refused.status_code == 422 and refused.json().get("field") == "extra":
            continue  # refused before the key was even looked at
        problem = assert_problem(refused, 422, "Idempotency-Key")
        assert problem["type"] == TYPE_BASE + "idempotency-key-reused"
    assert _settled(scene) == after_first


def test_a_replayed_red_packet_answers_the_first_response(scene: Scene) -> None:
    _, _, body = MONEY_ROUTES["red-packet"](scene)
    key = secrets.token_hex(12)
    first = send(scene, "red-packet", body, key=key)
    assert first.status_code == 201, first.text
    same = send(scene, "red-packet", body, key=key)
    assert same.headers.get("idempotent-replayed") == "true"
    assert same.json() == first.json()


def test_a_key_refused_for_bad_input_moves_nothing_and_is_free_again(scene: Scene) -> None:
    key = secrets.token_hex(12)
    before = scene.balances()
    bad = send(scene, "static-pay", {"amount": 0, "currency": "CNY", "pin": PIN}, key=key)
    assert_problem(bad, 422, "amount")
    poor = send(scene, "static-pay", {"amount": 10**12, "currency": "CNY", "pin": PIN}, key=key)
    assert_problem(poor, 402, "amount")
    assert scene.balances() == before
    good = send(scene, "static-pay", {"amount": 77, "currency": "CNY", "pin": PIN}, key=key)
    assert good.status_code == 201, good.text
    assert scene.balances()[0] == before[0] - 77


def test_the_same_key_on_another_route_is_refused(scene: Scene) -> None:
    key = secrets.token_hex(12)
    first = send(scene, "static-pay", {"amount": 55, "currency": "CNY", "pin": PIN}, key=key)
    assert first.status_code == 201
    after = scene.balances()
    other = send(scene, "transfer", {"to": scene.friend.id, "amount": 55, "pin": PIN}, key=key)
    assert_problem(other, 422, "Idempotency-Key")
    assert scene.balances() == after


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there", "ключ"])
def test_malformed_idempotency_keys_are_refused(scene: Scene, key: str) -> None:
    before = scene.balances()
    response = httpx.post(
        f"{scene.server.url}/v1/merchants/{scene.shop.id}/pay",
        json={"amount": 10, "currency": "CNY", "pin": PIN},
        headers={
            b"authorization": f"Bearer {scene.payer.client.token}".encode(),
            b"idempotency-key": key.encode(),
        },
        timeout=15,
    )
    assert response.status_code < 500, response.text
    if response.status_code != 201:  # a UTF-8 key reads as Latin-1: printable, so it may pass
        assert_problem(response, 422, "Idempotency-Key")
        assert scene.balances() == before


# --- merchant signatures ------------------------------------------------------------------------


def _refund_body() -> bytes:
    return json.dumps({"amount": 1, "merchant_refund_no": _no()}).encode()


def _post_signed(scene: Scene, path: str, content: bytes, headers: dict[str, str]) -> Any:
    headers = {"content-type": "application/json", **fresh_key(), **headers}
    return httpx.post(scene.server.url + path, content=content, headers=headers, timeout=15)


@pytest.mark.parametrize("skew", [-360, -330, 330, 360, -(10**6), 10**6])
def test_a_stale_or_future_signature_is_refused(scene: Scene, skew: int) -> None:
    path = f"/v1/payments/{scene.payment_id}/refunds"
    content = _refund_body()
    before = scene.balances()
    headers = signed_headers(
        scene.shop.client, "POST", path, content, timestamp=int(time.time()) + skew
    )
    problem = assert_problem(_post_signed(scene, path, content, headers), 401)
    assert problem["type"] == TYPE_BASE + "timestamp-out-of-range"
    assert scene.balances() == before


def test_a_signature_four_minutes_old_is_still_good(scene: Scene) -> None:
    path = f"/v1/payments/{scene.payment_id}/refunds"
    content = _refund_body()
    headers = signed_headers(
        scene.shop.client, "POST", path, content, timestamp=int(time.time()) - 240
    )
    assert _post_signed(scene, path, content, headers).status_code == 201


def test_forged_and_tampered_signatures_are_refused(scene: Scene) -> None:
    path = f"/v1/payments/{scene.payment_id}/refunds"
    content = _refund_body()
    before = scene.balances()
    stranger = signing.new_private_key()
    forged = signed_headers(scene.shop.client, "POST", path, content, key=stranger)
    tampered = signed_headers(scene.shop.client, "POST", path, content)
    other_path = signed_headers(
        scene.shop.client, "POST", f"/v1/payments/{scene.payment_id}", content
    )
    as_get = signed_headers(scene.shop.client, "GET", path, content)
    garbage = {**signed_headers(scene.shop.client, "POST", path, content), "Saoma-Signature": "@@@"}
    cases = [
        (forged, content, "signature-invalid"),
        (tampered, content.replace(b'"amount": 1', b'"amount": 9999'), "signature-invalid"),
        (other_path, content, "signature-invalid"),
        (as_get, content, "signature-invalid"),
        (garbage, content, "signature-invalid"),
        ({**tampered, "Saoma-Key-Id": "k_nobody"}, content, "key-unknown"),
        ({"Saoma-Key-Id": scene.shop.client.key_id}, content, "signature-missing"),
        ({}, content, "signature-missing"),
    ]
    for headers, sent, slug in cases:
        problem = assert_problem(_post_signed(scene, path, sent, headers), 401)
        assert problem["type"] == TYPE_BASE + slug, (slug, problem)
    assert scene.balances() == before


def test_a_reused_nonce_is_refused(scene: Scene) -> None:
    path = f"/v1/payments/{scene.payment_id}/refunds"
    content = _refund_body()
    nonce = secrets.token_urlsafe(16)
    headers = signed_headers(scene.shop.client, "POST", path, content, nonce=nonce)
    first = _post_signed(scene, path, content, headers)
    assert first.status_code == 201, first.text
    after = scene.balances()

    replayed = _post_signed(scene, path, content, headers)  # the very same request again
    assert assert_problem(replayed, 401)["type"] == TYPE_BASE + "nonce-reused"
    fresh = _refund_body()  # another request, freshly signed, with the same nonce
    again = signed_headers(scene.shop.client, "POST", path, fresh, nonce=nonce)
    assert assert_problem(_post_signed(scene, path, fresh, again), 401)["type"] == (
        TYPE_BASE + "nonce-reused"
    )
    assert scene.balances() == after


# --- PIN guessing -------------------------------------------------------------------------------


def test_pin_guessing_locks_out_after_five_tries_on_every_route(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=5_000)
    friend = new_consumer(server)
    order = shop.client.create_order(_no(), 300)
    routes: list[tuple[str, dict[str, Any]]] = [
        (f"/v1/merchants/{shop.id}/pay", {"amount": 100, "currency": "CNY"}),
        ("/v1/me/withdrawals", {"amount": 100, "currency": "CNY"}),
        ("/v1/transfers", {"to": friend.id, "amount": 100}),
        (f"/v1/orders/{order['id']}/pay", {}),
        ("/v1/red-packets", {"amount": 100, "shares": 1}),
    ]
    # The wrong tries count across routes: one per route, five in all.
    for n, (path, body) in enumerate(routes):
        response = as_consumer(server, payer, "POST", path, {**body, "pin": f"{n:06d}"})
        if n < 4:
            problem = assert_problem(response, 401, "pin")
            assert problem["type"] == TYPE_BASE + "pin-wrong"
            assert problem["tries_left"] == 4 - n
        else:
            assert assert_problem(response, 423, "pin")["type"] == TYPE_BASE + "pin-locked"
    for path, body in routes:  # now even the right PIN waits out the lock
        response = as_consumer(server, payer, "POST", path, {**body, "pin": PIN})
        assert assert_problem(response, 423, "pin")["type"] == TYPE_BASE + "pin-locked"
    assert payer.client.me()["balance"] == 5_000
    assert friend.client.me()["balance"] == 0
    assert shop.client.me()["balance"] == 0
    assert shop.client.get_order(order["id"])["state"] == "created"


def test_malformed_pins_are_refused_clearly(server: Server) -> None:
    """Each is refused naming the PIN (and counts as a wrong try); the right PIN still pays."""
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    path = f"/v1/merchants/{shop.id}/pay"
    raw_pins = [
        json.dumps(p) for p in ["12345", "1234567", "abcdef", "１２３４５６", " 246810", ""]
    ]
    raw_pins += ['"24681\\u0000"', "246810", "null", "[]", '{"pin": "246810"}']
    for raw in raw_pins:
        response = as_consumer(server, payer, "POST", path, with_raw(_money({}), "pin", raw))
        assert response.status_code in (401, 422), (raw, response.text)
        assert_problem(response, response.status_code, "pin")
        paid = as_consumer(server, payer, "POST", path, _money({"pin": PIN}))
        assert paid.status_code == 201, paid.text  # the right PIN resets the count
    assert payer.client.me()["balance"] == 1_000 - len(raw_pins)


# --- double spend -------------------------------------------------------------------------------


def _race(calls: Sequence[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | BaseException] = [RuntimeError("not run")] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    responses = [r for r in results if isinstance(r, httpx.Response)]
    assert len(responses) == len(calls), [r for r in results if not isinstance(r, httpx.Response)]
    return responses


def test_twenty_threads_paying_one_order_pay_it_once(server: Server) -> None:
    shop = new_merchant(server)
    with ThreadPoolExecutor(4) as pool:
        payers = list(pool.map(lambda _: new_consumer(server, balance=1_000), range(20)))
    order = shop.client.create_order(_no(), 800)
    path = f"/v1/orders/{order['id']}/pay"
    calls = [partial(as_consumer, server, p, "POST", path, {"pin": PIN}) for p in payers]
    responses = _race(calls)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    won = [r for r in responses if r.status_code == 201]
    assert len(won) == 1, [r.text for r in responses]
    for r in responses:
        if r.status_code != 201:
            assert assert_problem(r, 409)["type"] == TYPE_BASE + "order-already-paid"
    assert sorted(p.client.me()["balance"] for p in payers) == [200] + [1_000] * 19
    assert shop.client.get_order(order["id"])["state"] == "paid"
    assert shop.client.me()["balance"] == 800 - rate_of(800, shop.client.me()["fee_ppm"])


def test_one_payer_racing_itself_on_one_order_pays_once(server: Server) -> None:
    """Paying an order one already paid answers with that payment: never a second one."""
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    order = shop.client.create_order(_no(), 300)
    path = f"/v1/orders/{order['id']}/pay"
    responses = _race([lambda: as_consumer(server, payer, "POST", path, {"pin": PIN})] * 20)
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    assert payer.client.me()["balance"] == 700


def test_twenty_threads_spending_the_whole_balance_spend_it_once(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    friend = new_consumer(server)
    everything = _money({"amount": 1_000, "pin": PIN})

    def pay() -> httpx.Response:
        return as_consumer(server, payer, "POST", f"/v1/merchants/{shop.id}/pay", everything)

    def give() -> httpx.Response:
        return as_consumer(server, payer, "POST", "/v1/transfers", {**everything, "to": friend.id})

    calls = [pay, give] * 10
    responses = _race(calls)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    won = [r for r in responses if r.status_code == 201]
    assert len(won) == 1, [r.text for r in responses]
    for r in responses:
        if r.status_code != 201:
            assert assert_problem(r, 402, "amount")["type"] == TYPE_BASE + "insufficient-funds"
    assert payer.client.me()["balance"] == 0
    fee = rate_of(1_000, shop.client.me()["fee_ppm"])
    assert shop.client.me()["balance"] + friend.client.me()["balance"] in (1_000 - fee, 1_000)


def test_twenty_threads_replaying_one_key_move_money_once(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    key = secrets.token_hex(12)
    pay = f"/v1/merchants/{shop.id}/pay"
    body = _money({"amount": 600, "pin": PIN})
    responses = _race([lambda: as_consumer(server, payer, "POST", pay, body, key=key)] * 20)
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert r.json()["type"] == TYPE_BASE + "request-in-progress"
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    assert payer.client.me()["balance"] == 400
