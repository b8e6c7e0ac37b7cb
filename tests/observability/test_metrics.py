"""What an operator watching a server sees: /metrics moves by exactly what was done, one JSON log
line per request, and the request id carried into the webhook and the bank instruction it caused.
Over a real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import httpx
from sqlalchemy import text

from observability.scrape import TIMEOUT_S, scrape, value
from support import (
    PIN,
    Receiver,
    Server,
    engine_of,
    fresh_key,
    new_consumer,
    new_merchant,
    wait_until,
)

PAY_ROUTE = "/v1/orders/{order_id}/pay"
SECONDS = "saoma_http_request_duration_seconds_count"
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS")


def post(server: Server, path: str, token: str, body: dict[str, Any], request_id: str) -> Any:
    headers = {"authorization": f"Bearer {token}", "x-request-id": request_id, **fresh_key()}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=TIMEOUT_S)


def log_lines(server: Server, request_id: str) -> list[dict[str, Any]]:
    found = []
    for line in server.log.read_text().splitlines():
        if request_id in line and line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_a_payment_and_a_refusal_move_the_counters_by_exactly_that(
    server: Server, receiver: Receiver
) -> None:
    shop = new_merchant(server, webhook_url=receiver.url)
    payer = new_consumer(server, balance=3_000)
    paid, refused = shop.client.create_order("M-1", 2_500), shop.client.create_order("M-2", 900)
    before = scrape(server.url)

    request_id = f"pay-{secrets.token_hex(6)}"
    answer = post(
        server, f"/v1/orders/{paid['id']}/pay", payer.client.token, {"pin": PIN}, request_id
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == request_id
    no_money = post(
        server, f"/v1/orders/{refused['id']}/pay", payer.client.token, {"pin": PIN}, "short-1"
    )
    assert no_money.status_code == 402 and no_money.json()["type"].endswith("/insufficient-funds")

    after = scrape(server.url)
    moved = {
        "order payments": value(after, "saoma_payments_succeeded_total", flow="order")
        - value(before, "saoma_payments_succeeded_total", flow="order"),
        "refusals": value(after, "saoma_problems_total", type="insufficient-funds")
        - value(before, "saoma_problems_total", type="insufficient-funds"),
        "paid requests": value(after, SECONDS, route=PAY_ROUTE, method="POST", status="2xx")
        - value(before, SECONDS, route=PAY_ROUTE, method="POST", status="2xx"),
        "refused requests": value(after, SECONDS, route=PAY_ROUTE, method="POST", status="4xx")
        - value(before, SECONDS, route=PAY_ROUTE, method="POST", status="4xx"),
    }
    assert moved == {
        "order payments": 1,
        "refusals": 1,
        "paid requests": 1,
        "refused requests": 1,
    }
    # No label holds a raw path: the order's id appears nowhere in the metrics.
    assert not any(paid["id"] in str(labels) for _name, labels in after)

    # The webhook the payment caused carries its request id, and its lag is observed.
    wait_until(lambda: receiver.bodies("payment.succeeded"), what="the webhook")
    delivery = next(d for d in receiver.deliveries if b"payment.succeeded" in d["body"])
    assert delivery["headers"]["saoma-request-id"] == request_id
    lag_before = value(before, "saoma_webhook_lag_seconds_count")
    wait_until(
        lambda: (
            value(scrape(server.url), "saoma_webhook_lag_seconds_count")
            == lag_before + len(receiver.bodies())
        ),
        what="the delivery's lag in the metrics",
    )
    with engine_of(server.database_url).connect() as conn:
        attempts = conn.execute(
            text("SELECT request_id FROM webhook_attempts WHERE merchant_id = :m"), {"m": shop.id}
        ).scalars()
        assert request_id in list(attempts)


def test_one_json_line_per_request_with_its_id_and_who_sent_it(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    order = shop.client.create_order("L-1", 700)
    request_id = f"log-{secrets.token_hex(6)}"
    answer = post(
        server, f"/v1/orders/{order['id']}/pay", payer.client.token, {"pin": PIN}, request_id
    )
    assert answer.status_code == 201, answer.text

    wait_until(lambda: log_lines(server, request_id), what="the request's log line")
    (line,) = log_lines(server, request_id)
    assert {k: line[k] for k in ("method", "route", "status", "request_id", "consumer_id")} == {
        "method": "POST",
        "route": PAY_ROUTE,
        "status": 201,
        "request_id": request_id,
        "consumer_id": payer.id,
    }
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    said = json.dumps(line)
    for secret in (PIN, payer.client.token, payer.login, "Li Wei", order["id"]):
        assert secret not in said

    signed = shop.client.request("GET", "/v1/merchant")
    merchant_id = shop.client.last_response.headers["x-request-id"]  # type: ignore[union-attr]
    assert signed["id"] == shop.id
    wait_until(lambda: log_lines(server, merchant_id), what="the merchant's log line")
    assert log_lines(server, merchant_id)[0]["merchant_id"] == shop.id


def test_a_withdrawal_instruction_keeps_the_request_id(server: Server) -> None:
    payer = new_consumer(server, balance=2_000)
    request_id = f"wd-{secrets.token_hex(6)}"
    answer = post(
        server, "/v1/me/withdrawals", payer.client.token, {"amount": 500, "pin": PIN}, request_id
    )
    assert answer.status_code == 202, answer.text
    with engine_of(server.database_url).connect() as conn:
        kept = conn.execute(
            text("SELECT request_id FROM bank_transfers WHERE id = :id"),
            {"id": answer.json()["id"]},
        ).scalar_one()
    assert kept == request_id
    samples = scrape(server.url)
    assert value(samples, "saoma_database_up") == 1
    assert ("saoma_bank_instructions_pending", frozenset({("kind", "withdraw")})) in samples
    assert (
        value(samples, "saoma_ledger_transfers_total")
        >= value(samples, "saoma_ledger_batches_total")
        > 0
    )
    assert value(samples, "saoma_db_pool_size") > 0


def test_an_id_that_is_not_sane_is_replaced_by_a_new_one(server: Server) -> None:
    for sent in (b"a b", b"x" * 65, b"../etc", b"-dash-first", "ünï".encode(), b""):
        answer = httpx.get(
            server.url + "/healthz", headers={"x-request-id": sent}, timeout=TIMEOUT_S
        )
        assert answer.status_code == 200
        assert re.fullmatch(r"req_[0-9a-f]{20}", answer.headers["x-request-id"]), sent
    kept = httpx.get(
        server.url + "/healthz", headers={"x-request-id": "lb-01:2f.a_b"}, timeout=TIMEOUT_S
    )
    assert kept.headers["x-request-id"] == "lb-01:2f.a_b"


def test_no_input_to_metrics_or_readyz_is_a_5xx(server: Server) -> None:
    odd_headers: list[dict[str, bytes]] = [
        {"authorization": b"Bearer " + b"x" * 5000},
        {"authorization": b"Basic Zm9vOmJhcg=="},
        {"x-request-id": b"\x7f" * 80},
        {"x-request-id": "ünï".encode()},
        {"accept": b"application/openmetrics-text; version=1.0.0"},
        {"accept-encoding": b"gzip"},
        {"content-type": b"application/json", "idempotency-key": b"k"},
    ]
    queries = ["", "?name[]=x", "?%00=1", "?a=%ff", "?" + "q=1&" * 500, "?debug=1"]
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as http:
        for path in ("/metrics", "/readyz"):
            tried = [(method, query, {}) for method in METHODS for query in queries]
            tried += [("GET", "", headers) for headers in odd_headers]
            for method, query, headers in tried:
                answer = http.request(method, path + query, headers=headers)
                assert answer.status_code < 500, (method, path, query, headers, answer.text)
        assert http.get("/readyz").json() == {"status": "ready"}
        assert "/metrics" not in http.get("/openapi.json").json()["paths"]
