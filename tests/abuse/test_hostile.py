"""A corpus of hostile values into every parameter of every route: never a 5xx.

For each operation of the server's own OpenAPI document, each parameter (path, query, header)
and each top-level field of the JSON body gets, in turn, each value of the corpus: digits that
are not ASCII, 10,000 characters, "-1", "0", NUL, half a surrogate pair, 2^63 and 10^30 (as text,
and as JSON numbers in bodies), the empty string, arrays and objects. Everything else in the
request is valid: a signed-up consumer's bearer token, a merchant's signed request (the
signature headers replaced one at a time by the hostile value), real ids in the path and a body
that would be accepted. No answer may be a 5xx; a value that no parameter accepts (too long,
NUL, a surrogate, a number past 2^63 - 1, a structure, text where a number belongs) must be
refused (4xx; an empty id in the path leaves a trailing slash, which redirects). One server per
database serves the whole corpus over one keep-alive connection.

Each charge names a terminal of its own, and the server allows its merchant many wrong codes a
minute (tests/abuse/conftest.py): every hostile charge then reaches the checks of its fields.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from saoma import signing
from support import (
    PASSWORD,
    PIN,
    Payer,
    Server,
    Shop,
    free_port,
    new_consumer,
    new_merchant,
    wait_for,
)

SURROGATE = "\ud800"
LONG = "1" * 10_000  # digits: int() of more than 4,300 digits raises, too
# (label, value): text, in any place a parameter can be
TEXTS: list[tuple[str, str]] = [
    ("superscript-two", "²"),
    ("arabic-indic-digits", "١٢٣"),
    ("overlong", LONG),
    ("minus-one", "-1"),
    ("zero", "0"),
    ("nul", "\x00"),
    ("lone-surrogate", SURROGATE),
    ("two-to-the-63", str(2**63)),
    ("ten-to-the-30", "1" + "0" * 30),
    ("empty", ""),
]
# (label, value): JSON values only a body can carry
JSON_ONLY: list[tuple[str, Any]] = [
    ("number-2^63", 2**63),
    ("number-10^30", 10**30),
    ("number-minus-2^63-1", -(2**63) - 1),
    ("array", ["x"]),
    ("empty-array", []),
    ("object", {"x": "y"}),
]
NEVER_VALID = {"overlong", "nul", "lone-surrogate", "array", "empty-array", "object"}
NEVER_VALID_NUMBERS = {"number-2^63", "number-10^30", "number-minus-2^63-1"}
SAFE_URL = "http://127.0.0.1:9/hooks"
DUMMY_ID = "x_0000000000000000"


# A one-pixel PNG, for a dispute's photo.
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)


@dataclass
class World:
    server: Server
    shop: Shop
    payer: Payer
    friend: Payer
    ids: dict[str, str]
    spec: dict[str, Any]


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=500_000)
    friend = new_consumer(server)
    paid = shop.client.create_order(f"H-{secrets.token_hex(4)}", 50_000)
    payment = payer.client.pay_order(paid["id"], PIN)
    order = shop.client.create_order(f"H-{secrets.token_hex(4)}", 300)
    hold = shop.client.create_hold(f"H-{secrets.token_hex(4)}", 500)
    top_up = payer.client.top_up(1_000)
    wait_for(lambda: payer.client.me()["balance"] == 451_000, what="the top-up to settle")
    campaign = shop.client.request(
        "POST", "/v1/campaigns", {"name": "H", "kind": "amount_off", "budget": 100, "amount_off": 1}
    )
    packet = payer.client.request(
        "POST",
        "/v1/red-packets",
        {"amount": 100, "shares": 2, "mode": "equal", "pin": PIN},
        idempotency_key=secrets.token_hex(8),
    )
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    refund = shop.client.refund(payment["id"], 1, f"HR-{secrets.token_hex(4)}")
    court = new_merchant(server, name="Futian Food Court")
    agreement = shop.client.request(
        "POST", "/v1/split-agreements", {"receiver_id": court.id, "share_ppm": 1_000}
    )
    account = {"holder_name": "Chen Jianguo", "account_number": "6222021001118812"}
    shop.client.request("POST", "/v1/settlement/bank-accounts", account)
    wait_for(
        lambda: shop.client.request("GET", "/v1/settlement/bank-accounts")["current"],
        what="the bank's verification",
    )
    settlement = shop.client.request("POST", "/v1/settlements/instant")
    disputed = payer.client.pay_static(shop.id, 700, PIN)
    dispute = payer.client.request(
        "POST",
        "/v1/me/disputes",
        {
            "payment_id": disputed["id"],
            "reason": "other",
            "text": "H",
            "photo": {"content_type": "image/png", "data": PNG_1PX},
        },
    )
    service = shop.client.request(
        "POST",
        "/v1/mini-programs",
        {
            "name": "Shekou Bikes",
            "name_zh": "蛇口共享单车",
            "icon": "data:image/svg+xml;base64,"
            + base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg"/>').decode(),
            "origin": f"http://127.0.0.1:{free_port()}",
            "scopes": ["profile.masked_name"],
        },
    )
    mandate = shop.client.request_mandate(
        payer.id,
        f"HM-{secrets.token_hex(4)}",
        purpose="Gym",
        amount_max=900,
        frequency="monthly",
        start_on=time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400)),
        end_on=time.strftime("%Y-%m-%d", time.gmtime(time.time() + 60 * 86_400)),
    )
    ids = {
        "mini_program_id": service["id"],
        "mandate_id": mandate["id"],
        "notice_id": DUMMY_ID,
        "order_id": order["id"],
        "payment_id": payment["id"],
        "merchant_id": shop.id,
        "consumer_id": payer.id,
        "hold_id": hold["id"],
        "transfer_id": top_up["id"],
        "campaign_id": campaign["id"],
        "packet_id": packet["id"],
        "device_id": device["device_id"],
        "merchant_refund_no": refund["merchant_refund_no"],
        "agreement_id": agreement["id"],
        "settlement_id": settlement["id"],
        "dispute_id": dispute["id"],
        "file_id": dispute["timeline"][0]["file_id"],
        "charge_id": DUMMY_ID,
        "event_id": DUMMY_ID,
        "key_id": DUMMY_ID,  # never a real key: revoking it would end the merchant's signing
    }
    spec = httpx.get(server.url + "/openapi.json", timeout=15).json()
    return World(server, shop, payer, friend, ids, spec)


def _fresh_login() -> str:
    return f"+86136{secrets.randbelow(10**8):08d}"


# Bodies that would be accepted, so that a hostile value in one field meets the code behind the
# others; an operation not listed gets one made from its schema's examples.
BASE_BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    # Logins taken or unknown: every field is checked, and no password is hashed (a slow hash
    # by design; thousands of them would take minutes).
    ("post", "/v1/consumers"): lambda w: {"login": w.payer.login, "password": PASSWORD},
    ("post", "/v1/sessions"): lambda w: {"login": _fresh_login(), "password": PASSWORD},
    ("post", "/v1/ops/sessions"): lambda w: {
        "login": f"{secrets.token_hex(4)}@ops.example",
        "password": PASSWORD,
        "code": "not a code",  # refused before any password is hashed
    },
    ("post", "/v1/merchant-sessions"): lambda w: {
        "login": f"{secrets.token_hex(4)}@example.cn",
        "password": PASSWORD,
    },
    ("post", "/v1/merchants"): lambda w: {
        "login": w.shop.login,
        "password": PASSWORD,
        "name": "Noodles",
        "city": "Shenzhen",
    },
    ("put", "/v1/me/pin"): lambda w: {"pin": PIN, "old_pin": PIN},
    ("put", "/v1/me/no-pin-limit"): lambda w: {"per_payment": 0, "per_day": 0, "pin": PIN},
    ("post", "/v1/me/top-ups"): lambda w: {"amount": 100, "currency": "CNY"},
    ("post", "/v1/me/withdrawals"): lambda w: {"amount": 100, "currency": "CNY", "pin": PIN},
    ("post", "/v1/codes/preview"): lambda w: {
        "payload": w.shop.client.me()["static_code"]["qr_payload"]
    },
    ("post", "/v1/orders/{order_id}/pay"): lambda w: {"pin": PIN},
    ("post", "/v1/merchants/{merchant_id}/pay"): lambda w: {
        "amount": 100,
        "currency": "CNY",
        "pin": PIN,
    },
    ("post", "/v1/holds/{hold_id}/consent"): lambda w: {"pin": PIN},
    ("put", "/v1/merchant/webhook"): lambda w: {"url": SAFE_URL},
    ("post", "/v1/orders"): lambda w: {
        "merchant_order_no": f"H-{secrets.token_hex(6)}",
        "amount": 100,
    },
    ("post", "/v1/payments/{payment_id}/refunds"): lambda w: {
        "amount": 1,
        "merchant_refund_no": f"R-{secrets.token_hex(6)}",
    },
    ("post", "/v1/holds"): lambda w: {"merchant_ref": f"H-{secrets.token_hex(6)}", "amount": 100},
    ("post", "/v1/holds/{hold_id}/capture"): lambda w: {"amount": 1},
    ("post", "/v1/campaigns"): lambda w: {
        "name": "H",
        "kind": "amount_off",
        "budget": 1,
        "amount_off": 1,
    },
    ("post", "/v1/transfers"): lambda w: {"to": w.friend.id, "amount": 1, "pin": PIN},
    ("post", "/v1/red-packets"): lambda w: {"amount": 2, "shares": 1, "pin": PIN},
    ("post", "/v1/charges"): lambda w: {
        "code": "281234567890123456",
        "amount": 100,
        "merchant_order_no": f"H-{secrets.token_hex(6)}",
        "terminal_id": f"H-{secrets.token_hex(6)}",
    },
    ("post", "/v1/me/charges/{charge_id}/answer"): lambda w: {"pin": PIN, "accept": False},
    ("post", "/v1/me/devices"): lambda w: {"label": "phone"},
}
QUERY_DEFAULTS = {"from": "2026-01-01", "to": "2026-01-02", "merchant_order_no": "none"}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    if "anyOf" in schema:
        return {t for s in schema["anyOf"] for t in _types(s)}
    return {schema.get("type", "string")}


def _body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(spec, content["application/json"]["schema"])


def _example_body(schema: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        types = _types(prop)
        if prop.get("examples"):
            body[name] = prop["examples"][0]
        else:
            body[name] = 1 if "integer" in types else False if "boolean" in types else "x"
    return body


@dataclass(frozen=True)
class Case:
    method: str
    template: str
    where: str  # path, query, header or body
    name: str
    label: str
    value: Any
    invalid: bool  # no parameter anywhere accepts it: a 4xx is due

    def describe(self) -> str:
        return f"{self.method.upper()} {self.template} {self.where} {self.name}={self.label}"


def _cases(world: World) -> Iterator[Case]:
    for template, operations in world.spec["paths"].items():
        if template.endswith("/events"):  # live streams never end
            continue
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where, name = parameter["in"], parameter["name"]
                for label, value in TEXTS:
                    if where == "header" and label == "nul":
                        continue  # no HTTP client can send it; the server never sees one
                    invalid = label in NEVER_VALID or (where == "path" and name.endswith("_id"))
                    invalid |= where == "header" and name.startswith("Saoma-")
                    invalid |= where == "header" and label in ("superscript-two", "empty")
                    invalid |= where == "header" and label == "arabic-indic-digits"
                    types = _types(parameter.get("schema", {}))
                    invalid |= "integer" in types and label not in ("zero", "minus-one", "empty")
                    yield Case(method, template, where, name, label, value, invalid)
            schema = _body_schema(world.spec, operation)
            for field, prop in (schema or {}).get("properties", {}).items():
                types = _types(_resolve(world.spec, prop))
                for label, value in [*TEXTS, *JSON_ONLY]:
                    invalid = label in NEVER_VALID or label in NEVER_VALID_NUMBERS
                    invalid |= isinstance(value, str) and bool(types & {"integer", "boolean"})
                    invalid |= isinstance(value, int) and "string" in types
                    yield Case(method, template, "body", field, label, value, invalid)


def _header_bytes(value: str) -> bytes:
    if value == SURROGATE:
        return b"\xed\xa0\x80"  # its UTF-8 form, which no valid UTF-8 holds
    try:
        return value.encode("latin-1")  # "²" as one byte: the form str.isdigit() takes
    except UnicodeEncodeError:
        return value.encode()


def _url_part(value: str) -> str:
    if value == SURROGATE:
        return "%ED%A0%80"
    return quote(value, safe="")


def _signed(operation: dict[str, Any]) -> bool:
    return signing.KEY_ID in {p["name"] for p in operation.get("parameters", [])}


def send(client: httpx.Client, world: World, case: Case) -> httpx.Response:
    operation = world.spec["paths"][case.template][case.method]
    path = case.template
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            pname = parameter["name"]
            value = _url_part(case.value) if case.name == pname else world.ids[pname]
            path = path.replace("{" + pname + "}", value)
    query: list[str] = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query":
            qname = parameter["name"]
            if case.where == "query" and case.name == qname:
                query.append(f"{qname}={_url_part(case.value)}")
            elif parameter.get("required"):
                query.append(f"{qname}={QUERY_DEFAULTS[qname]}")
    query_string = "&".join(query)
    content = b""
    schema = _body_schema(world.spec, operation)
    if schema is not None:
        make = BASE_BODIES.get((case.method, case.template))
        body = make(world) if make else _example_body(schema)
        if case.template == "/v1/merchants" and case.name not in ("category_code", "public_key"):
            body["category_code"] = "none"  # refused after every other check, before the hash
        if case.where == "body":
            body[case.name] = case.value
        content = json.dumps(body).encode()
    headers: dict[str, str | bytes] = {"content-type": "application/json"}
    if _signed(operation):
        seen_path = path + (f"?{query_string}" if query_string else "")  # signed as sent
        headers |= signing.sign_request(
            world.shop.client.private_key,
            world.shop.client.key_id,
            case.method,
            seen_path,
            content,
            timestamp=int(time.time()),
        )
    else:
        headers["authorization"] = f"Bearer {world.payer.client.token}"
    if case.method == "post":
        headers["idempotency-key"] = secrets.token_hex(8)
    if case.where == "header":
        headers = {k: v for k, v in headers.items() if k.lower() != case.name.lower()}
        headers[case.name] = _header_bytes(case.value)
    url = world.server.url + path + (f"?{query_string}" if query_string else "")
    return client.request(case.method.upper(), url, content=content, headers=headers)


def _pin_last(case: Case) -> bool:
    """Hostile PINs count as wrong tries and lock the wallet: send them after everything else."""
    return case.name in ("pin", "old_pin")


def test_no_hostile_value_in_any_parameter_gets_a_5xx(world: World) -> None:
    cases = sorted(_cases(world), key=_pin_last)
    started = time.monotonic()
    failures: list[str] = []
    with httpx.Client(timeout=30) as client:
        for case in cases:
            response = send(client, world, case)
            status = response.status_code
            if status >= 500 or (case.invalid and status < 300):
                failures.append(f"{case.describe()} -> {status} {response.text[:200]}")
    elapsed = time.monotonic() - started
    print(f"\n{len(cases)} hostile requests in {elapsed:.1f} s")
    assert len(cases) > 2_000, "the corpus lost its parameters"
    assert not failures, f"{len(failures)} of {len(cases)}:\n" + "\n".join(failures[:80])
