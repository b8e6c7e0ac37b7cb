"""Strict parsing at the edge, over real HTTP on SQLite and PostgreSQL: headers, payment codes,
cursors and JSON bodies that are not in their format get a 4xx problem naming what is wrong,
never a 500, and the connection they came on keeps serving.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from saoma import signing
from support import PIN, Payer, Server, Shop, new_consumer, new_merchant

TYPE_BASE = "https://saoma.dev/problems/"


def problem_of(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"].startswith(TYPE_BASE) and problem["status"] == status, problem
    assert problem.get("field") == field, problem
    assert field.lower() in problem["detail"].lower(), problem
    return problem


def signed(shop: Shop, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    headers: dict[str, str] = signing.sign_request(
        shop.client.private_key, shop.client.key_id, method, path, body, timestamp=int(time.time())
    )
    return headers


def local_port(response: httpx.Response) -> int:
    """The client's port: the same one for two responses means the same connection."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


@pytest.fixture(scope="module")
def shop(server: Server) -> Shop:
    return new_merchant(server)


@pytest.fixture(scope="module")
def payer(server: Server) -> Payer:
    return new_consumer(server, balance=10_000)


# --- signature headers --------------------------------------------------------------------------

BAD_TIMESTAMPS = [
    b"\xb2",  # "²" in Latin-1, as a header carries it: str.isdigit() says yes, int() says no
    b"17000000\xb2\xb3",
    "١٧٠٠٠٠٠٠٠٠".encode(),  # Arabic-Indic digits, in UTF-8
    b"9" * 5_000,  # past the 4,300 digits int() converts
    b"-1700000000",
    b"+1700000000",
    b"1.7e9",
    b"0x65",
]


@pytest.mark.parametrize("raw", BAD_TIMESTAMPS, ids=range(len(BAD_TIMESTAMPS)))
def test_a_timestamp_not_in_ascii_digits_is_refused_and_the_connection_keeps_serving(
    server: Server, shop: Shop, raw: bytes
) -> None:
    with httpx.Client(base_url=server.url, timeout=15) as client:
        for method, path, body in [
            ("GET", "/v1/merchant", b""),
            ("POST", "/v1/orders", json.dumps({"merchant_order_no": "T-1", "amount": 1}).encode()),
        ]:
            headers: dict[str | bytes, str | bytes] = {**signed(shop, method, path, body)}
            headers[signing.TIMESTAMP] = raw
            headers["content-type"] = "application/json"
            refused = client.request(method, path, content=body, headers=headers)
            problem = problem_of(refused, 401, signing.TIMESTAMP)
            assert problem["type"] == TYPE_BASE + "signature-invalid"
            fine = client.get("/v1/merchant", headers=signed(shop, "GET", "/v1/merchant"))
            assert fine.status_code == 200, fine.text
            assert local_port(fine) == local_port(refused)  # kept alive, not reset


@pytest.mark.parametrize(
    ("header", "raw"),
    [
        (signing.KEY_ID, b"k_\xb2"),
        (signing.KEY_ID, b"k" * 65),
        (signing.NONCE, "ノンスノンスノンスノンス".encode()),
        (signing.NONCE, b"n" * 65),
        (signing.NONCE, b"short"),
        (signing.SIGNATURE, b"\xff" * 88),
        (signing.SIGNATURE, b"A" * 5_000),
    ],
)
def test_signature_headers_out_of_their_format_are_refused_naming_them(
    server: Server, shop: Shop, header: str, raw: bytes
) -> None:
    headers: dict[str | bytes, str | bytes] = {**signed(shop, "GET", "/v1/merchant")}
    headers[header] = raw
    response = httpx.get(server.url + "/v1/merchant", headers=headers, timeout=15)
    assert problem_of(response, 401, header)["type"] == TYPE_BASE + "signature-invalid"


@pytest.mark.parametrize("raw", [b"caf\xe9", "ключ".encode(), b"k" * 256, b"tab\there", b""])
def test_an_idempotency_key_not_printable_ascii_is_refused_and_moves_nothing(
    server: Server, payer: Payer, raw: bytes
) -> None:
    before = payer.client.me()["balance"]
    shop_id = new_merchant(server).id
    response = httpx.post(
        f"{server.url}/v1/merchants/{shop_id}/pay",
        json={"amount": 10, "currency": "CNY", "pin": PIN},
        headers={
            b"authorization": f"Bearer {payer.client.token}".encode(),
            b"idempotency-key": raw,
        },
        timeout=15,
    )
    problem_of(response, 422, "Idempotency-Key")
    assert payer.client.me()["balance"] == before


def test_non_ascii_bearer_tokens_and_cookies_are_unauthenticated(server: Server) -> None:
    for headers in (
        {b"authorization": b"Bearer st_\xb2\xff"},
        {b"authorization": "Bearer st_١٢٣".encode()},
        {b"authorization": b"Bearer st_" + b"x" * 8_000},
        {b"cookie": b"saoma_session=st_\xb2\xff"},
    ):
        response = httpx.get(server.url + "/v1/me", headers=headers, timeout=15)
        assert response.status_code == 401, response.text


# --- payment codes ------------------------------------------------------------------------------


def test_a_payment_code_with_non_ascii_digits_is_refused_naming_code(
    server: Server, shop: Shop, payer: Payer
) -> None:
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    handle = device["handles"][0]
    before = payer.client.me()["balance"]
    for mac in ("١٢٣٤٥٦", "12345²", "１２３４５６"):
        body = json.dumps(
            {
                "code": "28" + handle + mac,
                "amount": 100,
                "merchant_order_no": f"T-{secrets.token_hex(4)}",
            }
        ).encode()
        headers = signed(shop, "POST", "/v1/charges", body)
        headers |= {"content-type": "application/json", "idempotency-key": secrets.token_hex(8)}
        response = httpx.post(server.url + "/v1/charges", content=body, headers=headers, timeout=15)
        assert problem_of(response, 422, "code")["type"] == TYPE_BASE + "code-malformed"
    assert payer.client.me()["balance"] == before


# --- cursors and page sizes ---------------------------------------------------------------------

BAD_PAGES = [
    ("cursor", "%C2%B2"),
    ("cursor", "%D9%A1%D9%A2"),
    ("cursor", "999999999999999999999999999999"),
    ("cursor", "9223372036854775808"),
    ("cursor", "-1"),
    ("cursor", "1" * 10_000),
    ("limit", "0"),
    ("limit", "101"),
    ("limit", "-1"),
    ("limit", "%C2%B2"),
    ("limit", "ten"),
    ("limit", "1e2"),
    ("limit", "99999999999999999999999999999"),
]


@pytest.mark.parametrize(("name", "value"), BAD_PAGES)
def test_a_bad_cursor_or_limit_is_refused_naming_it(
    server: Server, shop: Shop, payer: Payer, name: str, value: str
) -> None:
    path = f"/v1/me/payments?{name}={value}"
    mine = httpx.get(
        server.url + path, headers={"authorization": f"Bearer {payer.client.token}"}, timeout=15
    )
    problem_of(mine, 422, name)
    path = f"/v1/merchant/payments?{name}={value}"
    theirs = httpx.get(server.url + path, headers=signed(shop, "GET", path), timeout=15)
    problem_of(theirs, 422, name)


# --- JSON bodies --------------------------------------------------------------------------------


def test_a_duplicated_key_is_refused_on_every_kind_of_route(
    server: Server, shop: Shop, payer: Payer
) -> None:
    before = (payer.client.me()["balance"], shop.client.me()["balance"])
    consumer = {"authorization": f"Bearer {payer.client.token}"}
    cases: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("POST", "/v1/me/top-ups", b'{"amount": 1, "amount": 2}', consumer),
        (
            "POST",
            f"/v1/merchants/{shop.id}/pay",
            f'{{"amount": 100, "pin": "{PIN}", "currency": "CNY", "amount": 1}}'.encode(),
            consumer,
        ),
        ("PUT", "/v1/me/pin", b'{"pin": "111111", "old_pin": "1", "pin": "222222"}', consumer),
        ("POST", "/v1/sessions", b'{"login": "a", "password": "b", "login": "c"}', {}),
        ("POST", "/v1/orders", b'{"merchant_order_no": "D-1", "amount": 5, "amount": 6}', {}),
    ]
    for method, path, body, auth in cases:
        headers = auth or signed(shop, method, path, body)
        headers = {**headers, "content-type": "application/json", "idempotency-key": "dup-1"}
        response = httpx.request(method, server.url + path, content=body, headers=headers)
        name = next(k for k in ("amount", "pin", "login") if body.count(f'"{k}"'.encode()) == 2)
        problem = problem_of(response, 422, name)
        assert "twice" in problem["detail"], problem
    assert (payer.client.me()["balance"], shop.client.me()["balance"]) == before
    lookup = "/v1/orders?merchant_order_no=D-1"
    assert httpx.get(server.url + lookup, headers=signed(shop, "GET", lookup)).status_code == 404


def test_a_duplicated_key_in_a_nested_object_is_refused_too(server: Server, payer: Payer) -> None:
    response = httpx.post(
        server.url + "/v1/me/top-ups",
        content=b'{"amount": 1, "currency": "CNY", "x": {"y": 1, "y": 2}}',
        headers={
            "authorization": f"Bearer {payer.client.token}",
            "content-type": "application/vnd.api+json",  # FastAPI reads any +json as JSON
            "idempotency-key": secrets.token_hex(8),
        },
        timeout=15,
    )
    problem_of(response, 422, "y")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"amount": "\xff\xfe"}', "not UTF-8"),
        ('{"amount": 1}'.encode("utf-16"), "not UTF-8"),
        (b'{"amount": 1', "not a JSON document"),
        (b"amount=1", "not a JSON document"),
        (b'{"amount": 1} {"amount": 2}', "not a JSON document"),
        (b'{"amount": NaN}', None),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deep"),
        (b'{"amount": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "nested too deep"),
    ],
    ids=["latin1", "utf16", "cut", "form", "two", "nan", "deep", "deep-field"],
)
def test_a_body_that_is_not_strict_json_is_refused(
    server: Server, payer: Payer, body: bytes, words: str | None
) -> None:
    before = payer.client.me()["balance"]
    response = httpx.post(
        server.url + "/v1/me/top-ups",
        content=body,
        headers={
            "authorization": f"Bearer {payer.client.token}",
            "content-type": "application/json",
            "idempotency-key": secrets.token_hex(8),
        },
        timeout=15,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    if words is not None:
        assert problem["field"] == "body" and words in problem["detail"], problem
    assert payer.client.me()["balance"] == before


def test_a_huge_body_is_refused_before_it_is_parsed(server: Server, payer: Payer) -> None:
    body = b'{"amount": 1, "pad": "' + b"x" * 1_000_000 + b'"}'
    response = httpx.post(
        server.url + "/v1/me/top-ups",
        content=body,
        headers={
            "authorization": f"Bearer {payer.client.token}",
            "content-type": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 413, response.text


@pytest.mark.parametrize("length", [b"\xb2", b"9" * 5_000, b"-1", b"1e3"])
def test_a_content_length_not_in_ascii_digits_is_refused(server: Server, length: bytes) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    request = (
        b"POST /v1/sessions HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + length + b"\r\n"
        b"Connection: close\r\n\r\n{}"
    )
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]


# --- formats matched to the end -----------------------------------------------------------------


def test_a_trailing_newline_is_no_part_of_a_format(server: Server, shop: Shop) -> None:
    """``$`` in a pattern also matches before a final newline: "5814\\n" passed as a category
    code and "135790\\n" was set as a PIN nobody could type."""
    response = httpx.post(
        server.url + "/v1/merchants",
        json={
            "login": f"{secrets.token_hex(4)}@example.cn",
            "password": "correct horse battery",
            "name": "Noodles",
            "city": "Shenzhen",
            "category_code": "5814\n",
        },
        timeout=15,
    )
    problem_of(response, 422, "category_code")
    payer = new_consumer(server)
    response = httpx.put(
        server.url + "/v1/me/pin",
        json={"pin": "135790\n", "old_pin": PIN},
        headers={"authorization": f"Bearer {payer.client.token}"},
        timeout=15,
    )
    problem_of(response, 422, "pin")
    for day in ("20261101", "2026-W44-7", "2026-11-0١"):
        path = f"/v1/merchant/statement.csv?from={quote(day)}&to=2026-11-30"
        response = httpx.get(server.url + path, headers=signed(shop, "GET", path), timeout=15)
        problem_of(response, 422, "from")


# --- values at the ends of their range ----------------------------------------------------------


def test_a_header_sent_twice_is_refused_naming_it(server: Server, payer: Payer) -> None:
    """Two Content-Types: a layer reading the last (text/plain) skipped the strict JSON check
    the route reading the first (JSON) relied on, so a key given twice got through."""
    before = payer.client.me()["balance"]
    body = b'{"amount": 100, "amount": 100000}'
    for twice in ("content-type", "idempotency-key"):
        headers = [
            ("authorization", f"Bearer {payer.client.token}"),
            ("content-type", "application/json"),
            ("idempotency-key", secrets.token_hex(8)),
            (twice, "text/plain" if twice == "content-type" else secrets.token_hex(8)),
        ]
        response = httpx.post(
            server.url + "/v1/me/top-ups", content=body, headers=headers, timeout=15
        )
        field = "Content-Type" if twice == "content-type" else "Idempotency-Key"
        problem = problem_of(response, 422, field)
        assert "twice" in problem["detail"], problem
    assert payer.client.me()["balance"] == before


def test_a_login_longer_once_in_lower_case_is_refused_naming_it(server: Server) -> None:
    """ "İ" is two characters in lower case: 205 characters as typed, 405 as stored."""
    login = "a@" + "\u0130" * 200 + ".cn"
    for path, extra in (
        ("/v1/consumers", {"display_name": "Li Wei"}),
        ("/web/consumers", {}),
        ("/v1/merchants", {"name": "Noodles", "city": "Shenzhen"}),
    ):
        body = {"login": login, "password": "correct horse battery", **extra}
        response = httpx.post(server.url + path, json=body, timeout=15)
        problem_of(response, 422, "login")


def test_a_long_e_mail_login_signs_up_without_a_name(server: Server) -> None:
    """From the browser without a display name, the login is the name: cut to a name's 64."""
    login = "a" * 60 + "@" + "b" * 60 + ".example.cn"
    body = {"login": login, "password": "correct horse battery"}
    response = httpx.post(server.url + "/web/consumers", json=body, timeout=15)
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == login[:64]


def test_dates_and_months_at_the_end_of_the_calendar_are_refused_naming_them(
    server: Server, shop: Shop, payer: Payer
) -> None:
    for first, last, field in (
        ("9999-12-31", "9999-12-31", "from"),
        ("2026-12-01", "9999-12-31", "to"),
        ("0001-01-01", "0001-01-02", "from"),
    ):
        path = f"/v1/merchant/statement.csv?from={first}&to={last}"
        problem_of(httpx.get(server.url + path, headers=signed(shop, "GET", path)), 422, field)
    consumer = {"authorization": f"Bearer {payer.client.token}"}
    for month in ("9999-12", "9999-01"):
        response = httpx.get(server.url + f"/v1/me/bills?month={month}", headers=consumer)
        problem_of(response, 422, "month")


def test_a_static_name_too_long_for_the_file_system_is_not_found(server: Server) -> None:
    for name in ("a" * 300, "a/" * 3000 + "x", "%00.js"):
        response = httpx.get(server.url + "/static/" + name, timeout=15)
        assert response.status_code == 404, (name[:20], response.status_code, response.text)
