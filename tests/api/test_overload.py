"""A busy server says so at once: beyond the requests one process holds (SAOMA_MAX_IN_FLIGHT),
or when a request waited longer than SAOMA_QUEUE_WAIT_MS for one of the SAOMA_WORKING_MAX places
of work, it is answered 503 with Retry-After and nothing of it is done; sent again with its
Idempotency-Key after that, it goes through once."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import PIN, Server, new_consumer, new_merchant, serve_module

AT_ONCE = 50
LIMIT = 3


# Held at most: LIMIT requests. Or: two worked on at once, the others waiting 30 ms at most.
LIMITS = {
    "held": {"SAOMA_MAX_IN_FLIGHT": str(LIMIT), "SAOMA_WORKING_MAX": str(LIMIT)},
    "waited": {"SAOMA_MAX_IN_FLIGHT": "200", "SAOMA_WORKING_MAX": "2", "SAOMA_QUEUE_WAIT_MS": "30"},
}


@pytest.fixture(
    scope="module",
    params=[(db, limits) for db in ("sqlite", "postgres") for limits in LIMITS],
    ids=lambda p: "-".join(p),
)
def busy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    db, limits = request.param
    tmp: Path = tmp_path_factory.mktemp(f"busy-{db}-{limits}")
    yield from serve_module(request, tmp, db, **LIMITS[limits])


def test_fifty_payments_at_once_are_taken_or_refused_at_once_and_none_is_lost(busy: Server) -> None:
    shop = new_merchant(busy)
    payer = new_consumer(busy, balance=AT_ONCE * 100)
    orders = [
        shop.client.create_order(f"B-{secrets.token_hex(4)}", 100)["id"] for _ in range(AT_ONCE)
    ]
    start = threading.Barrier(AT_ONCE)
    auth = {"authorization": f"Bearer {payer.client.token}"}

    def pay(order_id: str, key: str, http: httpx.Client) -> httpx.Response:
        return http.post(
            f"{busy.url}/v1/orders/{order_id}/pay",
            json={"pin": PIN},
            headers=auth | {"idempotency-key": key},
        )

    def at_once(order_id: str) -> tuple[str, str, httpx.Response, float]:
        key = secrets.token_hex(8)
        with httpx.Client(timeout=30) as http:
            start.wait()
            began = time.monotonic()
            answer = pay(order_id, key, http)
            return order_id, key, answer, time.monotonic() - began

    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(at_once, orders))

    statuses = sorted({answer.status_code for _, _, answer, _ in results})
    refused = [(o, k, a, s) for o, k, a, s in results if a.status_code == 503]
    paid = [o for o, _, a, _ in results if a.status_code == 201]
    assert set(statuses) <= {201, 503}, [
        a.text for _, _, a, _ in results if a.status_code not in (201, 503)
    ]
    assert refused, f"{AT_ONCE} at once beyond the limits: some must be refused"
    for _, _, answer, _ in refused:
        problem: dict[str, Any] = answer.json()
        assert "try again in 1 s" in problem["detail"], problem
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
        assert problem["type"].endswith("/overloaded") and problem["status"] == 503
    # Nothing of a refused payment was done: the wallet paid for exactly the ones taken.
    assert payer.client.me()["balance"] == (AT_ONCE - len(paid)) * 100
    for order_id, _, _, _ in refused:
        assert shop.client.request("GET", f"/v1/orders/{order_id}")["state"] != "paid"

    time.sleep(1)  # as Retry-After says; then each is sent again with its key, one at a time
    with httpx.Client(timeout=30) as http:
        for order_id, key, _, _ in refused:
            assert pay(order_id, key, http).status_code == 201
    assert payer.client.me()["balance"] == 0
    assert all(shop.client.request("GET", f"/v1/orders/{o}")["state"] == "paid" for o in orders)


def test_bodies_sent_slowly_hold_no_place_of_work(busy: Server) -> None:
    """Clients that send their headers and then their body a byte at a time (or never) wait on
    their own connections: the server's places of work stay free for everyone else."""
    payer = new_consumer(busy, balance=100)
    host, port = busy.url.removeprefix("http://").split(":")
    slow: list[socket.socket] = []
    try:
        for _ in range(LIMIT + 2):
            conn = socket.create_connection((host, int(port)), timeout=10)
            conn.sendall(
                b"POST /v1/me/top-ups HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n"
                b"Authorization: Bearer " + payer.client.token.encode() + b'\r\n\r\n{"amo'
            )
            slow.append(conn)
        time.sleep(0.5)  # every slow request is in the server, its body unfinished
        for _ in range(3):
            answer = httpx.get(
                busy.url + "/v1/me",
                headers={"authorization": f"Bearer {payer.client.token}"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
    finally:
        for conn in slow:
            conn.close()
