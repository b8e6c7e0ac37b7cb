"""The payment flows through PgBouncer in transaction pooling mode: two worker processes whose
SAOMA_DATABASE_URL is a PgBouncer of the test's own, the ledger on SAOMA_DATABASE_DIRECT_URL
(docs/processes.md, "Behind PgBouncer")."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from saoma.client import SaomaError
from saoma.paycode import codes
from support import (
    PIN,
    Receiver,
    Server,
    _database,
    assert_books_hold,
    new_consumer,
    new_merchant,
    wait_for,
)
from support_pgbouncer import patient, pgbouncer, start_workers


@pytest.fixture(scope="module")
def bounced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("pgbouncer")
    for bouncer in pgbouncer():
        for direct in _database("postgres", tmp):
            srv = start_workers(
                direct,
                tmp,
                2,
                SAOMA_DATABASE_URL=bouncer.url_for(direct),
                SAOMA_DATABASE_DIRECT_URL=direct,
            )
            try:
                yield srv
            finally:
                srv.stop()
            log = srv.log.read_text(errors="replace")
            for broken in ("prepared statement", "Exception in ASGI application"):
                assert broken not in log, log[-3000:]
            assert_books_hold(direct)


def test_an_order_paid_with_the_pin_is_heard_live_and_its_webhook_sent(
    bounced: Server, receiver: Receiver
) -> None:
    shop = patient(new_merchant, bounced, webhook_url=receiver.url)
    payer = patient(new_consumer, bounced, balance=10_000)
    heard: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET",
            bounced.url + "/v1/merchant/events",
            headers={"authorization": f"Bearer {shop.token}"},
            timeout=20,
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("data: "):
                    heard.append(json.loads(line[6:]))
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    # Enough payments for psycopg to have prepared its statements, were it allowed to.
    for n in range(8):
        order = shop.client.create_order(f"PGB-{n}", 1_000)
        paid = payer.client.pay_order(order["id"], PIN)
        assert paid["amount"] == 1_000
        assert shop.client.get_order(order["id"])["state"] == "paid"
    thread.join(10)
    assert heard and heard[0]["type"] == "payment.succeeded"
    assert payer.client.me()["balance"] == 2_000
    wait_for(lambda: len(receiver.bodies("payment.succeeded")) == 8, what="the webhooks")


def test_a_payment_code_charged_then_refunded(bounced: Server) -> None:
    shop = patient(new_merchant, bounced)
    payer = patient(new_consumer, bounced, balance=10_000)
    payer.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 5_000, "per_day": 15_000, "pin": PIN}
    )
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    secret = base64.b64decode(device["secret"])
    code = codes.generate(secret, device["handles"][0], time.time())
    charge = shop.client.create_charge(code, 1_800, "TILL-1")
    assert charge["state"] == "succeeded"
    assert payer.client.me()["balance"] == 8_200
    with pytest.raises(SaomaError) as again:
        shop.client.create_charge(code, 100, "TILL-2")
    assert again.value.slug == "code-used"
    refund = shop.client.refund(charge["payment_id"], 800, "R-1")
    assert refund["amount"] == 800
    assert payer.client.me()["balance"] == 9_000


def test_a_hold_consented_and_captured_and_money_sent_to_a_person(bounced: Server) -> None:
    hotel = patient(new_merchant, bounced, name="Dongmen Hotel")
    guest = patient(new_consumer, bounced, balance=10_000)
    hold = hotel.client.create_hold("room-1", 4_000)
    guest.client.consent_hold(hold["id"], PIN)
    assert guest.client.me()["available"] == 6_000
    captured = hotel.client.capture_hold(hold["id"], 3_500)
    assert captured["state"] == "captured"
    assert guest.client.me()["balance"] == 6_500
    assert guest.client.me()["available"] == 6_500

    friend = patient(new_consumer, bounced)
    sent = guest.client.send_money(friend.id, 1_500, PIN, note="dinner")
    assert sent["amount"] == 1_500
    assert guest.client.me()["balance"] == 5_000
    assert friend.client.me()["balance"] == 1_500


def test_fifty_payments_at_once_through_the_pooler(bounced: Server) -> None:
    shop = patient(new_merchant, bounced)
    payers = [patient(new_consumer, bounced, balance=2_000) for _ in range(10)]
    orders = [shop.client.create_order(f"RUSH-{n}", 300) for n in range(50)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(50)

    def pay(n: int) -> None:
        barrier.wait()
        try:
            payers[n % 10].client.pay_order(orders[n]["id"], PIN)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures[:3]
    assert [p.client.me()["balance"] for p in payers] == [500] * 10
    assert {shop.client.get_order(o["id"])["state"] for o in orders} == {"paid"}
