"""Merchants' side over HTTP: signed requests, keys, isolation, holds, webhooks, live events."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from saoma import signing
from saoma.client import MerchantClient, SaomaError
from saoma.db import make_engine
from support import (
    PASSWORD,
    PIN,
    Receiver,
    Server,
    Shop,
    new_consumer,
    new_merchant,
    signed_headers,
    verify_login,
    wait_for,
)


def signed(
    server: Server, shop_client: MerchantClient, method: str, path: str, **kw: object
) -> httpx.Response:
    body = json.dumps(kw.pop("body")).encode() if "body" in kw else b""
    timestamp = kw.pop("timestamp", None)
    headers = signed_headers(
        shop_client,
        method,
        path,
        body,
        timestamp=None if timestamp is None else int(timestamp),  # type: ignore[call-overload]
        nonce=kw.pop("nonce", None),  # type: ignore[arg-type]
    )
    headers.update(kw.pop("headers", {}))  # type: ignore[arg-type]
    return httpx.request(method, server.url + path, content=body, headers=headers)


def test_requests_must_be_signed_fresh_and_unique(server: Server) -> None:
    shop = new_merchant(server)
    ok = signed(server, shop.client, "GET", "/v1/merchant")
    assert ok.status_code == 200 and ok.json()["id"] == shop.id

    unsigned = httpx.get(server.url + "/v1/merchant")
    assert unsigned.status_code == 401 and unsigned.json()["type"].endswith("signature-missing")

    stale = signed(server, shop.client, "GET", "/v1/merchant", timestamp=time.time() - 301)
    assert stale.status_code == 401 and stale.json()["type"].endswith("timestamp-out-of-range")

    nonce = secrets.token_hex(8)
    assert signed(server, shop.client, "GET", "/v1/merchant", nonce=nonce).status_code == 200
    replayed = signed(server, shop.client, "GET", "/v1/merchant", nonce=nonce)
    assert replayed.status_code == 401 and replayed.json()["type"].endswith("nonce-reused")

    # A signature for one body does not cover another.
    body = json.dumps({"merchant_order_no": "F-1", "amount": 100}).encode()
    headers = signed_headers(shop.client, "POST", "/v1/orders", body)
    forged = httpx.post(
        server.url + "/v1/orders",
        content=body.replace(b"100", b"999"),
        headers=headers | {"content-type": "application/json"},
    )
    assert forged.status_code == 401 and forged.json()["type"].endswith("signature-invalid")

    # Another merchant's key cannot sign for this one, and an unknown key id is refused.
    other = new_merchant(server)
    impostor = MerchantClient(
        server.url, key_id=shop.client.key_id, private_key=other.client.private_key
    )
    with pytest.raises(SaomaError) as wrong_key:
        impostor.me()
    assert wrong_key.value.slug == "signature-invalid"
    ghost = MerchantClient(
        server.url, key_id="k_0000000000000000", private_key=other.client.private_key
    )
    with pytest.raises(SaomaError) as unknown:
        ghost.me()
    assert unknown.value.slug == "key-unknown"


def test_fifty_copies_of_a_signed_request_make_one_order(server: Server) -> None:
    """A replay race: the same signed request sent 50 times at once is accepted exactly once."""
    shop = new_merchant(server)
    body = json.dumps({"merchant_order_no": "RACE-1", "amount": 100}).encode()
    headers = signed_headers(shop.client, "POST", "/v1/orders", body) | {
        "content-type": "application/json",
        "idempotency-key": secrets.token_hex(8),
    }

    def send(_: int) -> httpx.Response:
        return httpx.post(server.url + "/v1/orders", content=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(send, range(50)))
    kinds = Counter(
        "created" if a.status_code == 201 else f"{a.status_code} {a.json()['type'].rsplit('/')[-1]}"
        for a in answers
    )
    assert kinds == {"created": 1, "401 nonce-reused": 49}
    made = next(a.json() for a in answers if a.status_code == 201)
    found = shop.client.request("GET", "/v1/orders", params={"merchant_order_no": "RACE-1"})
    assert found["id"] == made["id"] and found["amount"] == 100


def test_a_forged_request_does_not_spend_the_nonce_it_carries(server: Server) -> None:
    shop = new_merchant(server)
    nonce = secrets.token_hex(8)
    other = new_merchant(server)
    forger = MerchantClient(
        server.url, key_id=shop.client.key_id, private_key=other.client.private_key
    )
    forged = signed(server, forger, "GET", "/v1/merchant", nonce=nonce)
    assert forged.status_code == 401 and forged.json()["type"].endswith("signature-invalid")
    # The merchant's own request with that nonce is still accepted, once.
    assert signed(server, shop.client, "GET", "/v1/merchant", nonce=nonce).status_code == 200
    again = signed(server, shop.client, "GET", "/v1/merchant", nonce=nonce)
    assert again.status_code == 401 and again.json()["type"].endswith("nonce-reused")
    # Forged again with the spent nonce: the signature is what is refused.
    forged = signed(server, forger, "GET", "/v1/merchant", nonce=nonce)
    assert forged.status_code == 401 and forged.json()["type"].endswith("signature-invalid")


def order_request(
    server: Server, client: MerchantClient, body: dict[str, Any], key: str, nonce: str = ""
) -> httpx.Response:
    """``POST /v1/orders`` signed by ``client`` under Idempotency-Key ``key``."""
    return signed(
        server,
        client,
        "POST",
        "/v1/orders",
        body=body,
        nonce=nonce or secrets.token_hex(8),
        headers={"content-type": "application/json", "idempotency-key": key},
    )


def test_a_forged_request_holds_no_idempotency_key(server: Server) -> None:
    """The key is claimed as the signer is found (one statement on PostgreSQL); a request whose
    signature fails gives it back, so the merchant's own request with that key goes through."""
    shop, other = new_merchant(server), new_merchant(server)
    forger = MerchantClient(
        server.url, key_id=shop.client.key_id, private_key=other.client.private_key
    )
    body = {"merchant_order_no": "KEY-F", "amount": 100}
    key = secrets.token_hex(8)
    forged = order_request(server, forger, body, key)
    assert forged.status_code == 401 and forged.json()["type"].endswith("signature-invalid")
    made = order_request(server, shop.client, body, key)
    assert made.status_code == 201 and "idempotent-replayed" not in made.headers
    replayed = order_request(server, shop.client, body, key)
    assert replayed.status_code == 201 and replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == made.json()
    found = shop.client.request("GET", "/v1/orders", params={"merchant_order_no": "KEY-F"})
    assert found["id"] == made.json()["id"]


def test_a_spent_nonce_claims_no_idempotency_key(server: Server) -> None:
    shop = new_merchant(server)
    nonce = secrets.token_hex(8)
    first = order_request(
        server, shop.client, {"merchant_order_no": "N-1", "amount": 100}, "k-1", nonce
    )
    assert first.status_code == 201
    body = {"merchant_order_no": "N-2", "amount": 200}
    again = order_request(server, shop.client, body, "k-2", nonce)
    assert again.status_code == 401 and again.json()["type"].endswith("nonce-reused")
    # Key k-2 was left free: sent again with a nonce of its own, the order is made now.
    made = order_request(server, shop.client, body, "k-2")
    assert made.status_code == 201 and "idempotent-replayed" not in made.headers
    assert made.json()["amount"] == 200


def test_fifty_orders_under_one_key_make_one(server: Server) -> None:
    """Fifty requests at once, each signed with a nonce of its own, one Idempotency-Key: one
    order is made; the others hear that it is under way, or get its answer replayed."""
    shop = new_merchant(server)
    body = {"merchant_order_no": "KEY-50", "amount": 300}
    key = secrets.token_hex(8)
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: order_request(server, shop.client, body, key), range(50)))
    made = [a for a in answers if a.status_code == 201]
    fresh = [a for a in made if "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1 and {a.json()["id"] for a in made} == {fresh[0].json()["id"]}
    others = Counter(a.json()["type"].rsplit("/")[-1] for a in answers if a.status_code != 201)
    assert set(others) <= {"request-in-progress"}, others
    with make_engine(server.database_url).connect() as conn:
        orders = conn.execute(
            text("SELECT count(*) FROM orders WHERE merchant_id = :m"), {"m": shop.id}
        ).scalar_one()
    assert orders == 1


def test_key_rotation_keeps_the_old_key_for_the_overlap_only(server: Server) -> None:
    shop = new_merchant(server)
    new_key = signing.new_private_key()
    added = shop.client.request(
        "POST",
        "/v1/merchant/keys",
        {
            "public_key": base64.b64encode(signing.public_key_bytes(new_key)).decode(),
            "rotate": True,
        },
    )
    rotated = MerchantClient(server.url, key_id=added["id"], private_key=new_key)
    assert rotated.me()["id"] == shop.id
    assert shop.client.me()["id"] == shop.id  # still inside the overlap
    keys = rotated.request("GET", "/v1/merchant/keys")["data"]
    old = next(k for k in keys if k["id"] == shop.client.key_id)
    assert old["expires_at_us"] is not None
    rotated.request("DELETE", f"/v1/merchant/keys/{shop.client.key_id}")
    with pytest.raises(SaomaError) as revoked:
        shop.client.me()
    assert revoked.value.slug == "key-unknown"
    with pytest.raises(SaomaError) as bad:
        rotated.request("POST", "/v1/merchant/keys", {"public_key": "not base64!"})
    assert bad.value.status == 422 and bad.value.problem["field"] == "public_key"


def test_nobody_sees_or_touches_another_partys_objects(server: Server) -> None:
    shop_a, shop_b = new_merchant(server), new_merchant(server)
    payer_a, payer_b = new_consumer(server, balance=5_000), new_consumer(server, balance=5_000)
    order = shop_a.client.create_order("ISO-1", 1_000)
    payment = payer_a.client.pay_order(order["id"], PIN)
    top_up_a = payer_a.client.top_up(100)
    hold = shop_a.client.create_hold("ISO-H", 500)

    for call in (
        lambda: shop_b.client.get_order(order["id"]),
        lambda: shop_b.client.close_order(order["id"]),
        lambda: shop_b.client.request("GET", f"/v1/merchant/payments/{payment['id']}"),
        lambda: shop_b.client.refund(payment["id"], 100, "STEAL-1"),
        lambda: shop_b.client.request("GET", f"/v1/holds/{hold['id']}"),
        lambda: shop_b.client.capture_hold(hold["id"], 100),
        lambda: shop_b.client.void_hold(hold["id"]),
        lambda: shop_b.client.request("GET", "/v1/orders", params={"merchant_order_no": "ISO-1"}),
        lambda: payer_b.client.request("GET", f"/v1/me/payments/{payment['id']}"),
        lambda: payer_b.client.request("GET", f"/v1/me/bank-transfers/{top_up_a['id']}"),
    ):
        with pytest.raises(SaomaError) as refused:
            call()
        assert refused.value.status == 404, refused.value.problem
    assert shop_b.client.payments()["data"] == []
    assert payer_b.client.payments()["data"] == []
    assert payer_b.client.request("GET", "/v1/me/holds")["data"] == []
    assert payer_b.client.request("GET", "/v1/me/transfers")["data"] == []
    assert shop_b.client.request("GET", "/v1/merchant/webhook-deliveries")["data"] == []
    # A consumer's token is not a merchant's credential, and the other way round.
    as_merchant = httpx.get(
        server.url + "/v1/merchant", headers={"authorization": f"Bearer {payer_a.client.token}"}
    )
    assert as_merchant.status_code == 401
    as_consumer = httpx.get(
        server.url + "/v1/me", headers={"authorization": f"Bearer {shop_a.token}"}
    )
    assert as_consumer.status_code == 401
    assert payer_b.client.me()["balance"] == 5_000
    assert shop_a.client.get_order(order["id"])["state"] == "paid"


def test_shared_bike_deposit_hold_capture_release(server: Server, receiver: Receiver) -> None:
    bikes = new_merchant(server, webhook_url=receiver.url, name="Shekou Bikes")
    rider = new_consumer(server, balance=10_000)
    hold = bikes.client.create_hold("ride-42", 9_900, description="Bike deposit")
    preview = rider.client.preview(hold["qr_payload"])
    assert preview["kind"] == "hold" and preview["amount"] == 9_900

    held = rider.client.consent_hold(hold["id"], PIN)
    assert held["state"] == "held"
    wallet = rider.client.me()
    assert (wallet["balance"], wallet["available"], wallet["held"]) == (10_000, 100, 9_900)
    mine = rider.client.request("GET", "/v1/me/holds")["data"]
    assert [h["id"] for h in mine] == [hold["id"]] and mine[0]["amount"] == 9_900

    captured = bikes.client.capture_hold(hold["id"], 150)  # the fare at lock
    assert captured["state"] == "captured" and captured["captured"] == 150
    wallet = rider.client.me()
    assert (wallet["balance"], wallet["available"], wallet["held"]) == (9_850, 9_850, 0)
    assert bikes.client.me()["balance"] == 149  # 1.50 less a 0.01 fee
    with pytest.raises(SaomaError) as twice:
        bikes.client.void_hold(hold["id"])
    assert twice.value.slug == "hold-not-open"
    wait_for(lambda: receiver.bodies("hold.captured"), what="the capture webhook")


def test_void_and_expiry_release_the_whole_hold(server: Server) -> None:
    hotel = new_merchant(server)
    guest = new_consumer(server, balance=5_000)
    first = hotel.client.create_hold("room-1", 3_000)
    guest.client.consent_hold(first["id"], PIN)
    assert guest.client.me()["available"] == 2_000
    assert hotel.client.void_hold(first["id"])["state"] == "voided"
    assert guest.client.me()["available"] == 5_000

    short = hotel.client.create_hold("room-2", 4_000, expires_in_s=60)
    guest.client.consent_hold(short["id"], PIN)
    assert guest.client.me()["available"] == 1_000
    with pytest.raises(SaomaError) as over:
        hotel.client.capture_hold(short["id"], 4_001)
    assert over.value.slug == "capture-exceeds-hold"
    with pytest.raises(SaomaError) as unconsented:
        hotel.client.capture_hold(hotel.client.create_hold("room-3", 100)["id"], 100)
    assert unconsented.value.slug == "hold-not-open"


def test_webhook_retries_log_attempts_and_replay(server: Server, receiver: Receiver) -> None:
    shop = new_merchant(server, webhook_url=receiver.url)
    payer = new_consumer(server, balance=1_000)
    receiver.fail_next = 1
    order = shop.client.create_order("WH-1", 100)
    payer.client.pay_order(order["id"], PIN)

    # The receiver has each answer a moment before the server records it.
    def listed() -> list[dict[str, Any]]:
        return shop.client.request("GET", "/v1/merchant/webhook-deliveries")["data"]

    wait_for(lambda: len(receiver.deliveries) >= 1, what="the first attempt")
    wait_for(lambda: listed()[0]["attempts"], what="the first attempt to be recorded")
    assert listed()[0]["attempts"][0]["status_code"] == 500
    # The retry comes after the first back-off step (5 s).
    wait_for(lambda: receiver.bodies("payment.succeeded"), timeout=15, what="the retry")
    wait_for(lambda: listed()[0]["state"] != "pending", what="the retry to be recorded")
    deliveries = listed()
    assert deliveries[0]["state"] == "delivered" and len(deliveries[0]["attempts"]) == 2

    shop.client.request("POST", f"/v1/merchant/webhook-deliveries/{deliveries[0]['id']}/replay")
    wait_for(lambda: len(receiver.bodies("payment.succeeded")) == 2, what="the replay")
    ids = {d["headers"]["webhook-id"] for d in receiver.deliveries}
    assert ids == {deliveries[0]["id"]}  # the same event id: receivers can de-duplicate


def test_cashier_hears_the_payment_live(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=3_000)
    heard: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET",
            server.url + "/v1/merchant/events",
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
    order = shop.client.create_order("LIVE-1", 2_500)
    started = time.monotonic()
    payer.client.pay_order(order["id"], PIN)
    thread.join(10)
    assert heard and heard[0]["type"] == "payment.succeeded"
    assert heard[0]["data"]["amount"] == 2_500  # type: ignore[index]
    assert time.monotonic() - started < 5


def test_merchant_and_consumer_sessions(server: Server) -> None:
    shop = new_merchant(server)
    signed_in = httpx.post(
        server.url + "/v1/merchant-sessions", json={"login": shop.login, "password": PASSWORD}
    )
    assert signed_in.status_code == 201
    wrong = httpx.post(
        server.url + "/v1/merchant-sessions", json={"login": shop.login, "password": "nope-nope"}
    )
    assert wrong.status_code == 401
    payer = new_consumer(server)
    again = httpx.post(
        server.url + "/v1/sessions", json={"login": payer.login, "password": PASSWORD}
    )
    assert again.status_code == 201
    token = again.json()["token"]
    bye = httpx.delete(
        server.url + "/v1/sessions/current", headers={"authorization": f"Bearer {token}"}
    )
    assert bye.status_code == 204
    after = httpx.get(server.url + "/v1/me", headers={"authorization": f"Bearer {token}"})
    assert after.status_code == 401
    verify_login(server, payer.client, payer.login)  # an unproven login blocks nobody
    taken = httpx.post(
        server.url + "/v1/consumers", json={"login": payer.login, "password": PASSWORD}
    )
    assert taken.status_code == 409 and taken.json()["field"] == "login"


def test_openapi_documents_every_route_and_its_problems(server: Server) -> None:
    doc = httpx.get(server.url + "/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/v1/orders",
        "/v1/orders/{order_id}/pay",
        "/v1/payments/{payment_id}/refunds",
        "/v1/holds/{hold_id}/capture",
        "/v1/me/top-ups",
        "/v1/codes/preview",
    ):
        assert path in paths, path
    for path, methods in paths.items():
        for method, op in methods.items():
            if path.startswith("/v1/") and method == "post":
                problems = [c for c, r in op["responses"].items() if c.startswith(("4", "5"))]
                assert problems, f"{method} {path} documents no errors"


def test_a_killed_server_loses_no_webhook(server: Server, receiver: Receiver) -> None:
    shop = new_merchant(server, webhook_url=receiver.url)
    payer = new_consumer(server, balance=5_000)
    receiver.fail_next = 10_000  # the merchant's endpoint is down
    paid = []
    for n in range(5):
        order = shop.client.create_order(f"KILL-{n}", 100 + n)
        paid.append(payer.client.pay_order(order["id"], PIN)["id"])
    wait_for(lambda: len(receiver.deliveries) >= 1, what="a failed attempt")
    server.kill()  # SIGKILL: no chance to flush anything
    receiver.fail_next = 0
    server.start()
    # After the restart the retries resume from the outbox (first back-off step: 5 s).
    wait_for(
        lambda: {b["data"]["id"] for b in receiver.bodies("payment.succeeded")} == set(paid),
        timeout=30,
        what="every webhook after the restart",
    )


# --- the webhook secret -------------------------------------------------------------------------

DAY_US = 24 * 3600 * 1_000_000


def paid_delivery(shop: Shop, payer: Any, receiver: Receiver, n: int) -> dict[str, Any]:
    """Pay an order of the shop's and return the webhook it received for it."""
    order = shop.client.create_order(f"ROT-{n}", 100 + n)
    paid = payer.client.pay_order(order["id"], PIN, idempotency_key=secrets.token_hex(8))

    def received() -> dict[str, Any] | None:
        with receiver.lock:
            for d in receiver.deliveries:
                body = json.loads(d["body"])
                if body["type"] == "payment.succeeded" and body["data"]["id"] == paid["id"]:
                    return d
        return None

    wait_for(lambda: received() is not None, what="the payment's webhook")
    delivery = received()
    assert delivery is not None
    return delivery


def verifies(secret: str, delivery: dict[str, Any]) -> bool:
    """What the merchant's server runs: the Standard Webhooks reference library."""
    try:
        Webhook(secret).verify(delivery["body"], delivery["headers"])
    except WebhookVerificationError:
        return False
    return True


def test_the_webhook_secret_can_be_read_and_rotated_with_a_day_of_overlap(
    server: Server, receiver: Receiver
) -> None:
    shop = new_merchant(server, webhook_url=receiver.url)
    payer = new_consumer(server, balance=1_000)
    shown = shop.client.request("GET", "/v1/merchant/webhook-secret")
    assert shown["secret"] == shop.webhook_secret and shown["previous_secret"] is None
    old = shop.webhook_secret
    before = paid_delivery(shop, payer, receiver, 1)
    assert verifies(old, before)

    session = {"authorization": f"Bearer {shop.token}"}
    rotated = httpx.post(server.url + "/v1/merchant/webhook-secret", headers=session)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert rotated.json()["previous_secret"] == old
    read_back = httpx.get(server.url + "/v1/merchant/webhook-secret", headers=session).json()
    assert read_back == rotated.json()

    during = paid_delivery(shop, payer, receiver, 2)
    assert len(during["headers"]["webhook-signature"].split(" ")) == 2
    assert verifies(new, during) and verifies(old, during)

    # A day later (the rotation's time is moved back in the row), only the new secret signs.
    engine = make_engine(server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE merchants SET webhook_secret_rotated_at_us ="
                    " webhook_secret_rotated_at_us - :day WHERE id = :id"
                ),
                {"day": DAY_US, "id": shop.id},
            )
    finally:
        engine.dispose()
    after = paid_delivery(shop, payer, receiver, 3)
    assert verifies(new, after) and not verifies(old, after)
    assert shop.client.request("GET", "/v1/merchant/webhook-secret")["previous_secret"] is None


# --- the manager PIN ----------------------------------------------------------------------------

MANAGER_PIN = "135790"


def session_refund(
    server: Server, shop: Shop, payment_id: str, amount: int, **extra: Any
) -> httpx.Response:
    body = {"amount": amount, "merchant_refund_no": "R-" + secrets.token_hex(4), **extra}
    return httpx.post(
        server.url + f"/v1/payments/{payment_id}/refunds",
        json=body,
        headers={"authorization": f"Bearer {shop.token}", "idempotency-key": secrets.token_hex(8)},
        timeout=30,
    )


def paid_payment(server: Server, shop: Shop, amount: int) -> tuple[Any, str]:
    payer = new_consumer(server, balance=amount)
    order = shop.client.create_order("MP-" + secrets.token_hex(4), amount)
    paid = payer.client.pay_order(order["id"], PIN, idempotency_key=secrets.token_hex(8))
    return payer, paid["id"]


def set_manager_pin(server: Server, shop: Shop, body: dict[str, str]) -> httpx.Response:
    return httpx.put(
        server.url + "/v1/merchant/manager-pin",
        json=body,
        headers={"authorization": f"Bearer {shop.token}"},
    )


def test_refunds_from_a_password_session_need_the_manager_pin(server: Server) -> None:
    shop = new_merchant(server)
    payer, payment_id = paid_payment(server, shop, 1_000)

    missing = session_refund(server, shop, payment_id, 100)
    assert missing.status_code == 422 and missing.json()["field"] == "manager_pin"
    not_set = session_refund(server, shop, payment_id, 100, manager_pin=MANAGER_PIN)
    assert not_set.status_code == 409 and not_set.json()["field"] == "manager_pin"

    no_password = set_manager_pin(server, shop, {"pin": MANAGER_PIN})
    assert no_password.status_code == 401 and no_password.json()["field"] == "password"
    assert set_manager_pin(server, shop, {"pin": MANAGER_PIN, "password": PASSWORD}).is_success
    assert shop.client.me()["has_manager_pin"] is True

    wrong = session_refund(server, shop, payment_id, 100, manager_pin="000000")
    assert wrong.status_code == 401 and wrong.json()["field"] == "manager_pin"
    assert wrong.json()["tries_left"] == 4
    cookie = httpx.post(
        server.url + f"/v1/payments/{payment_id}/refunds",
        json={"amount": 100, "merchant_refund_no": "R-cookie"},
        cookies={"saoma_merchant": shop.token},
        headers={"idempotency-key": secrets.token_hex(8)},
    )
    assert cookie.status_code == 422 and cookie.json()["field"] == "manager_pin"
    assert payer.client.me()["balance"] == 0  # nothing refunded

    right = session_refund(server, shop, payment_id, 100, manager_pin=MANAGER_PIN)
    assert right.status_code == 201, right.text
    assert payer.client.me()["balance"] == 100
    # A signed request (the merchant's server, its private key) needs no PIN.
    shop.client.refund(payment_id, 200, "R-signed", idempotency_key=secrets.token_hex(8))
    assert payer.client.me()["balance"] == 300

    # Changing the PIN takes the old one, not the password.
    changed = set_manager_pin(server, shop, {"pin": "975310", "password": PASSWORD})
    assert changed.status_code == 422 and changed.json()["field"] == "old_pin"
    wrong_old = set_manager_pin(server, shop, {"pin": "975310", "old_pin": "000000"})
    assert wrong_old.status_code == 401 and wrong_old.json()["field"] == "old_pin"
    assert set_manager_pin(server, shop, {"pin": "975310", "old_pin": MANAGER_PIN}).is_success
    assert session_refund(server, shop, payment_id, 100, manager_pin="975310").status_code == 201


def test_giving_the_shops_access_or_money_away_from_a_session_needs_the_manager_pin(
    server: Server,
) -> None:
    """Whoever holds only the shop's session (a cashier at the till) cannot add an API key and
    refund with it, point the webhook elsewhere, read its secret, or split the takings to a shop
    of their own, once the owner has set a manager PIN; the PIN, or a signed request, can."""
    shop, other = new_merchant(server), new_merchant(server)
    session = {"authorization": f"Bearer {shop.token}"}
    key = base64.b64encode(signing.public_key_bytes(signing.new_private_key())).decode()
    split = {"receiver_id": other.id, "share_ppm": 1_000_000, "standing": True}
    actions: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/v1/merchant/keys", {"public_key": key}),
        ("PUT", "/v1/merchant/webhook", {"url": "https://hooks.example.cn/elsewhere"}),
        ("GET", "/v1/merchant/webhook-secret", None),
        ("POST", "/v1/merchant/webhook-secret", None),
        ("POST", "/v1/split-agreements", split),
    ]

    def send(method: str, path: str, body: Any, pin: str | None = None) -> httpx.Response:
        extra = {"saoma-manager-pin": pin} if pin is not None else {}
        return httpx.request(
            method, server.url + path, json=body, headers=session | extra, timeout=30
        )

    before = (shop.client.me(), shop.client.request("GET", "/v1/merchant/keys"))
    assert set_manager_pin(server, shop, {"pin": MANAGER_PIN, "password": PASSWORD}).is_success
    typo = send("GET", "/v1/merchant/webhook-secret", None, pin="12345")
    assert typo.status_code == 422 and typo.json()["field"] == "Saoma-Manager-Pin"
    first_wrong = send("GET", "/v1/merchant/webhook-secret", None, pin="000000")
    assert first_wrong.json()["tries_left"] == 4  # the typo cost no try
    for method, path, body in actions:
        missing = send(method, path, body)
        assert missing.status_code == 422, (path, missing.text)
        assert missing.json()["field"] == "Saoma-Manager-Pin"
        wrong = send(method, path, body, pin="000000")
        assert wrong.status_code == 401, (path, wrong.text)
        assert wrong.json()["type"].endswith("manager-pin-wrong")
        assert set_manager_pin(
            server, shop, {"pin": MANAGER_PIN, "old_pin": MANAGER_PIN}
        ).is_success
    after = (shop.client.me(), shop.client.request("GET", "/v1/merchant/keys"))
    assert after[0]["webhook_url"] == before[0]["webhook_url"] and after[1] == before[1]
    assert shop.client.request("GET", "/v1/split-agreements")["data"] == []
    for method, path, body in actions:
        right = send(method, path, body, pin=MANAGER_PIN)
        assert right.is_success, (path, right.text)
    added = [k["id"] for k in shop.client.request("GET", "/v1/merchant/keys")["data"]]
    revoked = send("DELETE", f"/v1/merchant/keys/{added[-1]}", None)
    assert revoked.status_code == 422
    assert (
        send("DELETE", f"/v1/merchant/keys/{added[-1]}", None, pin=MANAGER_PIN).status_code == 204
    )
    # The shop's own server signs its requests: no PIN.
    signed = shop.client.request("POST", "/v1/merchant/keys", {"public_key": key})
    assert signed["id"].startswith("k_")
    # A shop that set no manager PIN has nobody to tell apart from its owner: no PIN asked.
    plain = new_merchant(server)
    added = httpx.post(
        server.url + "/v1/merchant/keys",
        json={"public_key": key},
        headers={"authorization": f"Bearer {plain.token}"},
        timeout=30,
    )
    assert added.status_code == 201, added.text


def test_fifty_concurrent_wrong_manager_pins_check_only_five(server: Server) -> None:
    shop = new_merchant(server)
    payer, payment_id = paid_payment(server, shop, 1_000)
    assert set_manager_pin(server, shop, {"pin": MANAGER_PIN, "password": PASSWORD}).is_success
    guesses = [f"{n:06d}" for n in range(50)]
    with ThreadPoolExecutor(50) as pool:
        answers = list(
            pool.map(
                lambda pin: session_refund(server, shop, payment_id, 10, manager_pin=pin), guesses
            )
        )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {401: 5, 423: 45}, [
        a.text for a in answers if a.status_code not in (401, 423)
    ]
    # Locked: the right PIN is refused too, and nothing was refunded.
    locked = session_refund(server, shop, payment_id, 10, manager_pin=MANAGER_PIN)
    assert locked.status_code == 423 and locked.json()["field"] == "manager_pin"
    assert payer.client.me()["balance"] == 0
