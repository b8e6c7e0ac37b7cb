"""Every list over HTTP: cursor pages that return each row once, filters, and only one's own rows.

A client that lost the answer to a request finds its outcome in a list: a hold by its reference,
a refund by its number, a transfer, a top-up or a withdrawal, the webhook events of a payment.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert

from saoma.client import ConsumerClient, MerchantClient, SaomaError
from saoma.core.ids import new_id, now_us
from saoma.db import make_engine
from saoma.funding import tables as m
from support import PIN, Receiver, Server, new_consumer, new_merchant, wait_for


def every_page(
    fetch: Callable[[str | None], dict[str, Any]], between: Callable[[], None]
) -> list[dict[str, Any]]:
    """All rows of a list, page after page, calling ``between`` after each page."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        rows += page["data"]
        between()
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_paging_through_250_holds_while_more_arrive_returns_each_once(server: Server) -> None:
    shop = new_merchant(server)
    made = [shop.client.create_hold(f"bike-{n}", 100 + n)["id"] for n in range(250)]
    arrived: list[str] = []

    def more() -> None:  # two new holds between every two pages
        for _ in range(2):
            arrived.append(shop.client.create_hold(f"late-{len(arrived)}", 1)["id"])

    rows = every_page(lambda c: shop.client.holds(c, limit=7), more)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 250  # nothing repeated; the late ones are in front
    assert set(ids) == set(made)
    assert ids == made[::-1]  # newest first
    assert len(arrived) == 2 * 36  # 250 rows in pages of 7


def test_a_merchant_finds_a_hold_by_its_reference_and_by_state(server: Server) -> None:
    hotel, other = new_merchant(server), new_merchant(server)
    guest = new_consumer(server, balance=1_000)
    asked = hotel.client.create_hold("room-1", 300)
    held = hotel.client.create_hold("room-2", 200)
    guest.client.consent_hold(held["id"], PIN)
    taken = hotel.client.create_hold("room-3", 100)
    guest.client.consent_hold(taken["id"], PIN)
    hotel.client.capture_hold(taken["id"], 60)

    found = hotel.client.holds(merchant_ref="room-2")["data"]
    assert [(h["id"], h["state"], h["amount"]) for h in found] == [(held["id"], "held", 200)]
    assert [h["id"] for h in hotel.client.holds(state="requested")["data"]] == [asked["id"]]
    assert [h["id"] for h in hotel.client.holds(state="captured")["data"]] == [taken["id"]]
    assert hotel.client.holds(state="voided")["data"] == []
    # Another merchant sees none of them, not even by reference.
    assert other.client.holds()["data"] == []
    assert other.client.holds(merchant_ref="room-2")["data"] == []
    # The guest sees the two holds it agreed to, newest first; the request it never saw is not.
    mine = guest.client.holds()
    assert [h["id"] for h in mine["data"]] == [taken["id"], held["id"]]
    assert mine["next_cursor"] is None
    assert [h["id"] for h in guest.client.holds(state="held")["data"]] == [held["id"]]
    first = guest.client.holds(limit=1)
    second = guest.client.holds(first["next_cursor"], limit=1)
    assert [h["id"] for h in first["data"] + second["data"]] == [taken["id"], held["id"]]
    assert second["next_cursor"] is None
    assert new_consumer(server).client.holds()["data"] == []


def test_a_merchant_finds_each_refund_by_its_number_or_payment(server: Server) -> None:
    shop, other = new_merchant(server), new_merchant(server)
    payer = new_consumer(server, balance=10_000)
    first = payer.client.pay_static(shop.id, 1_000, PIN)
    second = payer.client.pay_static(shop.id, 2_000, PIN)
    numbers = [f"R-{n}-{secrets.token_hex(2)}" for n in range(5)]
    for n, number in enumerate(numbers):
        paid = first if n < 2 else second
        shop.client.refund(paid["id"], 100 + n, number)

    every = every_page(lambda c: shop.client.refunds(c, limit=2), lambda: None)
    assert [r["merchant_refund_no"] for r in every] == numbers[::-1]
    of_first = shop.client.refunds(payment_id=first["id"])["data"]
    assert [(r["merchant_refund_no"], r["amount"]) for r in of_first] == [
        (numbers[1], 101),
        (numbers[0], 100),
    ]
    one = shop.client.refunds(merchant_refund_no=numbers[3])["data"]
    assert [(r["payment_id"], r["amount"]) for r in one] == [(second["id"], 103)]
    assert shop.client.find_refund(numbers[3]) == one[0]
    assert shop.client.find_refund("R-never-sent") is None
    by_no = shop.client.request("GET", f"/v1/merchant/refunds/by-no/{numbers[2]}")
    assert by_no["amount"] == 102 and by_no["payment_id"] == second["id"]
    shop.client.refund(first["id"], 7, "退款 7")  # signed over its percent-escaped path
    assert shop.client.request("GET", "/v1/merchant/refunds/by-no/退款 7")["amount"] == 7
    with pytest.raises(SaomaError) as missing:
        shop.client.request("GET", "/v1/merchant/refunds/by-no/R-never-sent")
    assert missing.value.status == 404
    # Another merchant: no list, no lookup, not even by a payment id it guessed.
    assert other.client.refunds()["data"] == []
    assert other.client.refunds(payment_id=first["id"])["data"] == []
    assert other.client.find_refund(numbers[0]) is None
    with pytest.raises(SaomaError) as theirs:
        other.client.request("GET", f"/v1/merchant/refunds/by-no/{numbers[0]}")
    assert theirs.value.status == 404


def withdraw(client: ConsumerClient, amount: int) -> dict[str, Any]:
    result: dict[str, Any] = client.request(
        "POST",
        "/v1/me/withdrawals",
        {"amount": amount, "currency": "CNY", "pin": PIN},
        idempotency_key=secrets.token_hex(8),
    )
    return result


def test_a_consumer_lists_top_ups_and_withdrawals(server: Server) -> None:
    saver = new_consumer(server, balance=5_000)
    saver.client.top_up(700)
    wait_for(lambda: saver.client.me()["balance"] == 5_700, what="the second top-up")
    out = withdraw(saver.client, 1_200)
    wait_for(
        lambda: saver.client.bank_transfers(direction="withdraw")["data"][0]["state"] != "pending",
        what="the bank to pay the withdrawal",
    )
    rows = saver.client.bank_transfers()["data"]
    assert [(r["direction"], r["amount"], r["state"]) for r in rows] == [
        ("withdraw", 1_200, "succeeded"),
        ("topup", 700, "succeeded"),
        ("topup", 5_000, "succeeded"),
    ]
    assert rows[0]["id"] == out["id"]
    ups = saver.client.bank_transfers(direction="topup", state="succeeded")["data"]
    assert [r["amount"] for r in ups] == [700, 5_000]
    assert saver.client.bank_transfers(state="failed")["data"] == []
    paged = every_page(lambda c: saver.client.bank_transfers(c, limit=1), lambda: None)
    assert paged == rows
    assert new_consumer(server).client.bank_transfers()["data"] == []


def test_bank_transfers_made_in_one_microsecond_page_once_each(server: Server) -> None:
    """Rows with the same time are ordered by id: a page boundary among them loses none."""
    saver = new_consumer(server)
    engine = make_engine(server.database_url)
    at = now_us()

    def rows(count: int, when: int) -> list[dict[str, Any]]:
        return [
            {
                "id": new_id("bt"),
                "consumer_id": saver.id,
                "direction": "topup",
                "amount": 1 + n,
                "currency": "CNY",
                "state": "failed",
                "failure": "declined",
                "created_at_us": when,
                "updated_at_us": when,
            }
            for n in range(count)
        ]

    try:
        with engine.begin() as conn:  # 250 instructions, in five instants of 50
            made = [r for k in range(5) for r in rows(50, at - k)]
            conn.execute(insert(m.bank_transfers), made)

        def more() -> None:  # a new one arrives between every two pages
            with engine.begin() as conn:
                conn.execute(insert(m.bank_transfers), rows(1, now_us()))

        seen = every_page(lambda c: saver.client.bank_transfers(c, limit=9), more)
    finally:
        engine.dispose()
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids)) == 250 and set(ids) == {r["id"] for r in made}


def send(client: ConsumerClient, to: str, amount: int) -> dict[str, Any]:
    result: dict[str, Any] = client.request(
        "POST",
        "/v1/transfers",
        {"to": to, "amount": amount, "pin": PIN},
        idempotency_key=secrets.token_hex(8),
    )
    return result


def test_a_consumer_pages_through_money_sent_and_received(server: Server) -> None:
    alice, bob = new_consumer(server, balance=10_000), new_consumer(server, balance=10_000)
    carol = new_consumer(server)
    sent = [  # interleaved: alice sends, bob sends back
        send(alice.client, bob.id, 100 + n) if n % 2 == 0 else send(bob.client, alice.id, 200 + n)
        for n in range(7)
    ]
    waiting = send(alice.client, "+8613700000000", 50)  # nobody has this number yet

    every = every_page(lambda c: alice.client.transfers(c, limit=3), lambda: None)
    assert [t["id"] for t in every] == [waiting["id"]] + [t["id"] for t in sent[::-1]]
    assert [t["direction"] for t in every] == ["out", "out", "in", "out", "in", "out", "in", "out"]
    inbound = alice.client.transfers(direction="in")["data"]
    assert [t["amount"] for t in inbound] == [205, 203, 201]
    out = alice.client.transfers(direction="out", state="done")["data"]
    assert [t["amount"] for t in out] == [106, 104, 102, 100]
    assert [t["id"] for t in alice.client.transfers(state="waiting")["data"]] == [waiting["id"]]
    assert carol.client.transfers()["data"] == []


def test_webhook_deliveries_of_one_payment(server: Server, receiver: Receiver) -> None:
    shop = new_merchant(server, webhook_url=receiver.url)
    other = new_merchant(server, webhook_url=receiver.url)
    payer = new_consumer(server, balance=10_000)
    order = shop.client.create_order(f"WL-{secrets.token_hex(3)}", 1_000)
    by_order = payer.client.pay_order(order["id"], PIN)
    static = payer.client.pay_static(shop.id, 500, PIN)
    shop.client.refund(by_order["id"], 300, f"R-{secrets.token_hex(3)}")
    wait_for(
        lambda: [d["state"] for d in shop.client.webhook_deliveries()["data"]] == ["delivered"] * 3,
        what="three deliveries",
    )

    mine = shop.client.webhook_deliveries(payment_id=by_order["id"])["data"]
    assert [(d["type"], d["subject"], d["state"]) for d in mine] == [
        ("refund.succeeded", order["id"], "delivered"),
        ("payment.succeeded", order["id"], "delivered"),
    ]
    assert [d["type"] for d in shop.client.webhook_deliveries(payment_id=static["id"])["data"]] == [
        "payment.succeeded"
    ]
    about = shop.client.webhook_deliveries(subject=static["id"])["data"]
    assert [d["subject"] for d in about] == [static["id"]]
    paid = shop.client.webhook_deliveries(event_type="payment.succeeded")["data"]
    assert {d["subject"] for d in paid} == {order["id"], static["id"]}
    every = every_page(lambda c: shop.client.webhook_deliveries(c, limit=1), lambda: None)
    assert len({d["id"] for d in every}) == len(every) == 3
    assert other.client.webhook_deliveries()["data"] == []
    assert other.client.webhook_deliveries(payment_id=by_order["id"])["data"] == []
    assert other.client.webhook_deliveries(subject=order["id"])["data"] == []


HOSTILE_CURSORS = ["²", "١٢", "9" * 30, str(2**63), "-1", "1.", ".x", "1.X", "\x00", "x" * 65]
HOSTILE_LIMITS = ["0", "101", "١٠", "²", "-1", "9" * 30, "ten"]
CONSUMER_LISTS: dict[str, dict[str, list[str]]] = {
    "/v1/me/holds": {"state": ["bogus", "HELD", "\x00", "x" * 17]},
    "/v1/me/transfers": {"direction": ["sideways", "\x00"], "state": ["lost", "x" * 17]},
    "/v1/me/bank-transfers": {"direction": ["deposit", "\x00"], "state": ["ok", "x" * 17]},
    "/v1/me/payments": {},
}
MERCHANT_LISTS: dict[str, dict[str, list[str]]] = {
    "/v1/merchant/holds": {"state": ["bogus", "\x00"], "merchant_ref": ["x" * 65, "a\x00b"]},
    "/v1/merchant/refunds": {
        "payment_id": ["x" * 65, "\x00"],
        "merchant_refund_no": ["x" * 65, "R\x001", "R\n1"],
    },
    "/v1/merchant/webhook-deliveries": {
        "payment_id": ["x" * 65, "\x00"],
        "subject": ["x" * 65, "\x07"],
        "type": ["x" * 49, "payment.\x00"],
    },
    "/v1/merchant/payments": {},
}


def cases(lists: dict[str, dict[str, list[str]]]) -> list[tuple[str, str, str]]:
    out = []
    for path, filters in lists.items():
        out += [(path, "cursor", v) for v in HOSTILE_CURSORS]
        out += [(path, "limit", v) for v in HOSTILE_LIMITS]
        out += [(path, name, v) for name, values in filters.items() for v in values]
    return out


def refused(call: Callable[[], Any]) -> SaomaError:
    with pytest.raises(SaomaError) as caught:
        call()
    return caught.value


def test_bad_list_parameters_are_refused_naming_them(server: Server) -> None:
    consumer: ConsumerClient = new_consumer(server).client
    merchant: MerchantClient = new_merchant(server).client
    wrong = []
    for client, lists in ((consumer, CONSUMER_LISTS), (merchant, MERCHANT_LISTS)):
        for path, name, value in cases(lists):
            error = refused(lambda: client.request("GET", path, params={name: value}))  # noqa: B023
            if (error.status, error.problem.get("field")) != (422, name):
                wrong.append((path, name, value, error.status, error.problem))
    assert wrong == []


def test_lists_answer_while_rows_are_written(server: Server) -> None:
    """Pages read while holds are created from another thread never fail or repeat a row."""
    shop = new_merchant(server)
    for n in range(30):
        shop.client.create_hold(f"base-{n}", 1)
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            shop.client.create_hold(f"busy-{n}", 1)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = every_page(lambda c: shop.client.holds(c, limit=4), lambda: None)
    finally:
        stop.set()
        thread.join()
    ids = [h["id"] for h in seen]
    assert len(ids) == len(set(ids)) and {f"base-{n}" for n in range(30)} <= {
        h["merchant_ref"] for h in seen
    }
