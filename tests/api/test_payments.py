"""Scan-to-pay end to end over HTTP: orders, static codes, refunds, fees, errors, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from saoma.client import SaomaError
from support import PIN, Receiver, Server, fresh_key, new_consumer, new_merchant, wait_for


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Written from the Standard Webhooks specification, independently of Saoma's code."""
    key = base64.b64decode(secret.split("_", 1)[1])
    to_sign = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode()
    sent = [
        s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ") if s.startswith("v1,")
    ]
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
    return fresh and any(hmac.compare_digest(expected, s) for s in sent)


def problem_type(exc: SaomaError) -> str:
    return exc.slug


def test_dynamic_order_scan_preview_pay_and_webhook(server: Server, receiver: Receiver) -> None:
    shop = new_merchant(server, webhook_url=receiver.url)
    payer = new_consumer(server, balance=10_000)
    order = shop.client.create_order("T-0001", 2_500, description="Beef noodles")
    assert order["state"] == "created"
    assert order["qr_payload"].startswith("000201") and order["amount"] == 2_500

    preview = payer.client.preview(order["qr_payload"])
    assert preview["kind"] == "order"
    assert (preview["merchant"]["name"], preview["merchant"]["name_zh"]) == (
        "Old Chen Noodles",
        "老陈面馆",
    )
    assert preview["amount"] == 2_500 and preview["order_id"] == order["id"]

    paid = payer.client.pay_order(order["id"], PIN)
    assert paid["amount"] == 2_500 and paid["authorisation"] == "pin"
    assert payer.client.me()["balance"] == 7_500
    assert shop.client.get_order(order["id"])["state"] == "paid"
    # The merchant sees gross, fee (0.6 % of 25.00 = 0.15) and net.
    received = shop.client.payments()["data"][0]
    assert (received["amount"], received["fee"], received["net"]) == (2_500, 15, 2_485)
    assert shop.client.me()["balance"] == 2_485

    wait_for(lambda: receiver.bodies("payment.succeeded"), what="the webhook")
    delivery = receiver.deliveries[0]
    assert verify_standard_webhook(shop.webhook_secret, delivery["headers"], delivery["body"])
    event = receiver.bodies("payment.succeeded")[0]
    assert event["data"]["merchant_order_no"] == "T-0001"
    assert event["data"]["id"] == paid["id"]


def test_order_number_is_idempotent_and_refuses_other_details(server: Server) -> None:
    shop = new_merchant(server)
    first = shop.client.create_order("T-dup", 1_000)
    again = shop.client.create_order("T-dup", 1_000)
    assert again["id"] == first["id"]
    with pytest.raises(SaomaError) as refused:
        shop.client.create_order("T-dup", 1_200)
    assert refused.value.status == 409 and refused.value.slug == "order-number-reused"


def test_an_order_is_paid_once_even_by_two_payers_at_once(server: Server) -> None:
    shop = new_merchant(server)
    payers = [new_consumer(server, balance=5_000) for _ in range(2)]
    order = shop.client.create_order("T-race", 3_000)
    outcomes: list[object] = []

    def pay(p: object) -> None:
        try:
            outcomes.append(p.client.pay_order(order["id"], PIN))  # type: ignore[attr-defined]
        except SaomaError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=pay, args=(p,)) for p in payers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    paid = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, SaomaError)]
    assert len(paid) == 1 and len(refused) == 1
    assert refused[0].slug == "order-already-paid"
    balances = sorted(p.client.me()["balance"] for p in payers)
    assert balances == [2_000, 5_000]


def test_closed_and_expired_orders_cannot_be_paid(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=5_000)
    closed = shop.client.create_order("T-close", 1_000)
    assert shop.client.close_order(closed["id"])["state"] == "closed"
    with pytest.raises(SaomaError) as refused:
        payer.client.pay_order(closed["id"], PIN)
    assert refused.value.slug == "order-closed"

    short = shop.client.create_order("T-short", 1_000, expires_in_s=5)
    wait_for(lambda: shop.client.get_order(short["id"])["state"] == "expired", timeout=8)
    with pytest.raises(SaomaError) as expired:
        payer.client.pay_order(short["id"], PIN)
    assert expired.value.slug == "order-expired"
    assert payer.client.me()["balance"] == 5_000


def test_static_code_payer_types_the_amount(server: Server) -> None:
    busker = new_merchant(server, name="Dongmen Busker")
    fan = new_consumer(server, balance=2_000)
    code = busker.client.me()["static_code"]["qr_payload"]
    preview = fan.client.preview(code)
    assert preview["kind"] == "static" and preview["amount"] is None
    tip = fan.client.pay_static(busker.id, 500, PIN, note="加油!")
    assert tip["amount"] == 500 and tip["note"] == "加油!"
    assert fan.client.me()["balance"] == 1_500


def test_insufficient_funds_moves_nothing(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    order = shop.client.create_order("T-poor", 1_001)
    with pytest.raises(SaomaError) as refused:
        payer.client.pay_order(order["id"], PIN)
    assert refused.value.status == 402 and refused.value.slug == "insufficient-funds"
    assert refused.value.problem["field"] == "amount"
    assert payer.client.me()["balance"] == 1_000
    assert shop.client.get_order(order["id"])["state"] == "created"


def test_wrong_pin_counts_down_then_locks(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    order = shop.client.create_order("T-pin", 100)
    for left in (4, 3, 2, 1):
        with pytest.raises(SaomaError) as wrong:
            payer.client.pay_order(order["id"], "000000")
        assert wrong.value.slug == "pin-wrong" and wrong.value.problem["tries_left"] == left
    with pytest.raises(SaomaError) as locked:
        payer.client.pay_order(order["id"], "000000")
    assert locked.value.status == 423 and locked.value.slug == "pin-locked"
    with pytest.raises(SaomaError) as still:
        payer.client.pay_order(order["id"], PIN)  # even the right PIN waits out the lock
    assert still.value.slug == "pin-locked"
    assert payer.client.me()["balance"] == 1_000


def test_payment_without_pin_is_refused(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    order = shop.client.create_order("T-nopin", 100)
    with pytest.raises(SaomaError) as refused:
        payer.client.pay_order(order["id"], None)
    assert refused.value.slug == "pin-required"


def test_partial_refunds_never_exceed_the_payment(server: Server, receiver: Receiver) -> None:
    shop = new_merchant(server, webhook_url=receiver.url)
    payer = new_consumer(server, balance=10_000)
    order = shop.client.create_order("T-refund", 10_000)
    payment = payer.client.pay_order(order["id"], PIN)
    assert shop.client.me()["balance"] == 9_940  # fee 60

    first = shop.client.refund(payment["id"], 3_000, "R-1", reason="one bowl was cold")
    assert first["fee_returned"] == 18
    again = shop.client.refund(payment["id"], 3_000, "R-1")  # same refund number: same refund
    assert again["id"] == first["id"]
    with pytest.raises(SaomaError) as too_much:
        shop.client.refund(payment["id"], 7_001, "R-2")
    assert too_much.value.slug == "refund-exceeds-payment"
    assert too_much.value.problem["refundable"] == 7_000
    shop.client.refund(payment["id"], 7_000, "R-2")

    assert payer.client.me()["balance"] == 10_000
    assert shop.client.me()["balance"] == 0  # the whole fee came back with the full refund
    detail = payer.client.request("GET", f"/v1/me/payments/{payment['id']}")
    assert detail["refunded"] == 10_000 and len(detail["refunds"]) == 2
    wait_for(lambda: len(receiver.bodies("refund.succeeded")) == 2, what="refund webhooks")


def test_refunds_racing_each_other_stay_within_the_payment(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=1_000)
    order = shop.client.create_order("T-refund-race", 1_000)
    payment = payer.client.pay_order(order["id"], PIN)
    outcomes: list[object] = []

    def refund(n: int) -> None:
        try:
            outcomes.append(shop.client.refund(payment["id"], 400, f"RR-{n}"))
        except SaomaError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=refund, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, dict) for o in outcomes) == 2
    assert payer.client.me()["balance"] == 800


def test_idempotency_key_replays_and_guards(server: Server) -> None:
    busker = new_merchant(server)
    fan = new_consumer(server, balance=2_000)
    key = secrets.token_hex(8)
    first = fan.client.pay_static(busker.id, 300, PIN, idempotency_key=key)
    replay = fan.client.pay_static(busker.id, 300, PIN, idempotency_key=key)
    assert replay == first
    assert fan.client.last_response is not None
    assert fan.client.last_response.headers.get("idempotent-replayed") == "true"
    assert fan.client.me()["balance"] == 1_700
    with pytest.raises(SaomaError) as reused:
        fan.client.pay_static(busker.id, 301, PIN, idempotency_key=key)
    assert reused.value.status == 422 and reused.value.slug == "idempotency-key-reused"


def test_same_idempotency_key_sent_concurrently_moves_money_once(server: Server) -> None:
    busker = new_merchant(server)
    fan = new_consumer(server, balance=2_000)
    key = secrets.token_hex(8)
    outcomes: list[object] = []

    def pay() -> None:
        try:
            outcomes.append(fan.client.pay_static(busker.id, 250, PIN, idempotency_key=key))
        except SaomaError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=pay) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fan.client.me()["balance"] == 1_750
    for o in outcomes:
        assert isinstance(o, dict) or o.slug == "request-in-progress"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("amount", "detail"),
    [
        (0, "positive"),
        (-100, "positive"),
        (10**16, "at most"),
        (12.5, "integer"),
        ("100", "integer"),
    ],
)
def test_bad_amounts_are_refused_with_the_field(
    server: Server, amount: object, detail: str
) -> None:
    busker = new_merchant(server)
    fan = new_consumer(server, balance=1_000)
    response = httpx.post(
        f"{server.url}/v1/merchants/{busker.id}/pay",
        json={"amount": amount, "currency": "CNY", "pin": PIN},
        headers={"authorization": f"Bearer {fan.client.token}"} | fresh_key(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["field"] == "amount" and problem["status"] == 422
    assert fan.client.me()["balance"] == 1_000


def test_wrong_currency_unknown_fields_and_huge_bodies(server: Server) -> None:
    busker = new_merchant(server)
    fan = new_consumer(server, balance=1_000)
    auth = {"authorization": f"Bearer {fan.client.token}"} | fresh_key()
    url = f"{server.url}/v1/merchants/{busker.id}/pay"
    usd = httpx.post(url, json={"amount": 100, "currency": "USD", "pin": PIN}, headers=auth)
    assert usd.status_code == 422 and usd.json()["field"] == "currency"
    extra = httpx.post(url, json={"amount": 100, "pin": PIN, "payer": "someone"}, headers=auth)
    assert extra.status_code == 422 and extra.json()["field"] == "payer"
    huge = httpx.post(url, content=b'{"note": "' + b"x" * 100_000 + b'"}', headers=auth)
    assert huge.status_code == 413
    note = httpx.post(url, json={"amount": 100, "pin": PIN, "note": "滴" * 129}, headers=auth)
    assert note.status_code == 422 and note.json()["field"] == "note"
    assert fan.client.me()["balance"] == 1_000
    # Refused before its work, each left the key free: the payment fixed goes through with it.
    paid = httpx.post(url, json={"amount": 100, "currency": "CNY", "pin": PIN}, headers=auth)
    assert paid.status_code == 201, paid.text
    assert fan.client.me()["balance"] == 900


def test_fifty_payments_of_one_order_under_one_key_pay_once(server: Server) -> None:
    """The key is claimed as the payer is found (one statement on PostgreSQL): of 50 requests
    at once, one pays; the others hear that it is under way, or get its answer replayed."""
    busker = new_merchant(server)
    fan = new_consumer(server, balance=2_000)
    order = busker.client.create_order("KEY-50", 250)
    key = secrets.token_hex(8)

    def pay(_: int) -> object:
        try:
            return fan.client.pay_order(order["id"], PIN, idempotency_key=key)
        except SaomaError as exc:
            return exc.slug

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(pay, range(50)))
    paid = [o for o in outcomes if isinstance(o, dict)]
    assert {o["id"] for o in paid} == {paid[0]["id"]}  # replays of the one payment
    assert {o for o in outcomes if not isinstance(o, dict)} <= {"request-in-progress"}
    assert fan.client.me()["balance"] == 1_750
    assert len(busker.client.request("GET", "/v1/merchant/payments")["data"]) == 1


def test_an_unknown_caller_hears_401_before_what_its_body_lacks(server: Server) -> None:
    busker = new_merchant(server)
    fan = new_consumer(server, balance=1_000)
    order = busker.client.create_order("BODY-1", 100)
    bad_pins = {  # a body of the wrong shape: the PIN as a number
        f"/v1/orders/{order['id']}/pay": {"pin": 123456},
        f"/v1/merchants/{busker.id}/pay": {"amount": 100, "pin": 123456},
    }
    for path, body in bad_pins.items():
        gone = {"authorization": "Bearer st_" + "x" * 43} | fresh_key()  # no such session
        answered = httpx.post(server.url + path, json=body, headers=gone)
        assert (answered.status_code, answered.json()["type"].rsplit("/", 1)[-1]) == (
            401,
            "unauthenticated",
        ), path
        known = {"authorization": f"Bearer {fan.client.token}"} | fresh_key()
        answered = httpx.post(server.url + path, json=body, headers=known)
        assert answered.status_code == 422 and answered.json()["field"] == "pin", path
    # A merchant's unsigned request with a bad body: 401 too; signed, the body's 422 (its nonce
    # is taken by the one check, not refused as used).
    unsigned = httpx.post(server.url + "/v1/orders", json={"amount": "ten"}, headers=fresh_key())
    assert unsigned.status_code == 401
    with pytest.raises(SaomaError) as refused:
        busker.client.request("POST", "/v1/orders", {"merchant_order_no": "B-2", "amount": "ten"})
    assert (refused.value.status, refused.value.problem.get("field")) == (422, "amount")
    assert fan.client.me()["balance"] == 1_000


def test_unreadable_codes_get_a_reason(server: Server) -> None:
    fan = new_consumer(server)
    for payload, reason in [
        ("hello", "two-digit field ID"),
        ("00020101021126350009dev.saoma0118m_xxxxxxxxxxxxxxxx6304FFFF", "checksum"),
    ]:
        with pytest.raises(SaomaError) as refused:
            fan.client.preview(payload)
        assert refused.value.slug == "code-unreadable" and reason in refused.value.problem["detail"]


def test_top_up_declined_by_the_bank_adds_nothing(server: Server) -> None:
    fan = new_consumer(server)
    pending = fan.client.top_up(1_013)  # the sandbox bank declines amounts ending in 13
    assert pending["state"] == "pending"
    wait_for(
        lambda: (
            fan.client.request("GET", f"/v1/me/bank-transfers/{pending['id']}")["state"] == "failed"
        ),
        what="the decline",
    )
    assert fan.client.me()["balance"] == 0


def test_history_pages_with_a_cursor(server: Server) -> None:
    busker = new_merchant(server)
    fan = new_consumer(server, balance=1_000)
    for n in range(5):
        fan.client.pay_static(busker.id, 10 + n, PIN)
    first = fan.client.payments(limit=2)
    second = fan.client.payments(cursor=first["next_cursor"], limit=2)
    third = fan.client.payments(cursor=second["next_cursor"], limit=2)
    amounts = [p["amount"] for page in (first, second, third) for p in page["data"]]
    assert amounts == [14, 13, 12, 11, 10] and third["next_cursor"] is None
