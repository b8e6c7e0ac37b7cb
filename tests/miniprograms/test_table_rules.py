"""Ordering at the table without a browser or Saoma: the menu's prices and limits, and the table
app's own refusals over HTTP, with a stand-in for Saoma's merchant API that says what it was
asked (the whole flow against the real API is test_table_in_wallet.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saoma import signing
from saoma.demo_apps import menu, table
from saoma.demo_apps.serving import Refused

KITCHEN = "kitchen-key-for-the-tests"


def test_a_table_s_code() -> None:
    assert menu.table_of("saoma-table:12") == "12"
    assert menu.table_of(" SAOMA-TABLE:7 ") == "7"
    for code in ("saoma-table:0", "saoma-table:07", "saoma-table:1000", "saoma-table:", "12"):
        assert menu.table_of(code) is None, code
    assert menu.table_of("SAOMA-BIKE:SZ-0042") is None


def test_the_total_is_the_menu_s() -> None:
    lines = [{"dish": "har-gow", "quantity": 1}, {"dish": "milk-tea", "quantity": 2}]
    priced = menu.price(lines, 3_600)
    assert priced.total == 1_800 + 2 * 900
    assert priced.description("12") == "Table 12: 1 × Shrimp dumplings, 2 × Silk-stocking milk tea"
    # The same dish twice is one line.
    again = menu.price([*lines, {"dish": "har-gow", "quantity": 2}], 7_200)
    assert [(d.id, n) for d, n in again.lines] == [("har-gow", 3), ("milk-tea", 2)]
    for shown in (3_500, 36.0, "3600", None, True):
        with pytest.raises(Refused, match="does not match the menu's") as refused:
            menu.price(lines, shown)
        assert refused.value.field == "total"


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ("har-gow", "lines"),
        ([{"dish": "har-gow", "quantity": 1}] * (menu.DISHES_PER_ORDER_MAX + 1), "lines"),
        ([{"dish": "lobster", "quantity": 1}], "lines[0].dish"),
        (["har-gow"], "lines[0].dish"),
        ([{"dish": "har-gow", "quantity": 0}], "lines[0].quantity"),
        ([{"dish": "har-gow", "quantity": -1}], "lines[0].quantity"),
        ([{"dish": "har-gow", "quantity": 1.5}], "lines[0].quantity"),
        ([{"dish": "har-gow", "quantity": True}], "lines[0].quantity"),
        ([{"dish": "har-gow", "quantity": menu.QUANTITY_MAX + 1}], "lines[0].quantity"),
        (
            [{"dish": "har-gow", "quantity": 15}, {"dish": "har-gow", "quantity": 6}],
            "lines[1].quantity",
        ),
    ],
)
def test_an_order_past_a_limit_is_refused_naming_the_field(lines: Any, field: str) -> None:
    with pytest.raises(Refused) as refused:
        menu.price(lines, 0)
    assert refused.value.field == field


def test_a_long_order_s_description_fits_the_api() -> None:
    lines = [{"dish": d.id, "quantity": menu.QUANTITY_MAX} for d in menu.MENU]
    priced = menu.price(lines, sum(d.price for d in menu.MENU) * menu.QUANTITY_MAX)
    text = priced.description("999")
    assert len(text) <= menu.DESCRIPTION_MAX and text.endswith("…")


class FakeSaoma:
    """Saoma's merchant API as the table app uses it: orders created, read, closed."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}

    def create_order(self, no: str, amount: int, **fields: Any) -> dict[str, Any]:
        order = {"id": f"ord_{secrets.token_hex(6)}", "merchant_order_no": no, "amount": amount}
        self.orders[order["id"]] = order | fields | {"state": "created"}
        return self.orders[order["id"]]

    def get_order(self, order_id: str) -> dict[str, Any]:
        return self.orders[order_id]

    def close_order(self, order_id: str) -> dict[str, Any]:
        self.orders[order_id]["state"] = "closed"
        return self.orders[order_id]


@pytest.fixture
def app() -> Iterator[tuple[TestClient, FakeSaoma]]:
    key = signing.private_key_to_b64(signing.new_private_key())
    service = table.TableService("http://127.0.0.1:9", "key_test", key, KITCHEN)
    fake = FakeSaoma()
    service.saoma = fake  # type: ignore[assignment]
    with TestClient(table.create_app(service, "http://127.0.0.1:9")) as client:
        yield client, fake


def seated(client: TestClient, number: int) -> str:
    session: str = client.post("/api/session", json={}).json()["session"]
    sat = client.post("/api/table", json={"session": session, "code": f"saoma-table:{number}"})
    assert sat.json()["table"] == str(number)
    return session


TWO = [{"dish": "har-gow", "quantity": 1}, {"dish": "milk-tea", "quantity": 2}]


def test_the_kitchen_sees_an_order_only_once_saoma_says_it_is_paid(
    app: tuple[TestClient, FakeSaoma],
) -> None:
    client, fake = app
    at_12, at_7 = seated(client, 12), seated(client, 7)
    ordered = client.post("/api/order", json={"session": at_12, "lines": TWO, "total": 3_600})
    order_id = ordered.json()["order_id"]
    assert fake.orders[order_id]["amount"] == 3_600
    assert fake.orders[order_id]["description"].startswith("Table 12: ")

    # The page says it paid; Saoma does not: the kitchen hears nothing.
    early = client.post("/api/paid", json={"session": at_12, "order_id": order_id})
    assert (early.status_code, early.json()["field"]) == (409, "order_id")
    # Another table claims this order: refused, whatever Saoma says.
    fake.orders[order_id]["state"] = "paid"
    theirs = client.post("/api/paid", json={"session": at_7, "order_id": order_id})
    assert theirs.status_code == 403
    assert theirs.json() == {"error": "that order is another table's", "field": "order_id"}
    kitchen = client.post("/api/kitchen", json={"key": KITCHEN}).json()
    assert kitchen == {"orders": []}

    paid = client.post("/api/paid", json={"session": at_12, "order_id": order_id}).json()
    assert paid["orders"][0]["state"] == "paid"
    (cooking,) = client.post("/api/kitchen", json={"key": KITCHEN}).json()["orders"]
    assert (cooking["table"], cooking["state"], cooking["total"]) == ("12", "paid", 3_600)
    assert [(x["dish"], x["quantity"]) for x in cooking["lines"]] == [
        ("har-gow", 1),
        ("milk-tea", 2),
    ]
    wrong = client.post("/api/served", json={"key": "guess", "order_id": order_id})
    assert (wrong.status_code, wrong.json()["field"]) == (403, "key")
    client.post("/api/served", json={"key": KITCHEN, "order_id": order_id})
    state = client.post("/api/state", json={"session": at_12}).json()
    assert state["orders"][0]["state"] == "served"


def test_a_refused_order_creates_nothing_at_saoma(app: tuple[TestClient, FakeSaoma]) -> None:
    client, fake = app
    session = client.post("/api/session", json={}).json()["session"]
    unseated = client.post("/api/order", json={"session": session, "lines": TWO, "total": 3_600})
    assert (unseated.status_code, unseated.json()["field"]) == (400, "code")
    bad_code = client.post("/api/table", json={"session": session, "code": "SAOMA-BIKE:SZ-0042"})
    assert (bad_code.status_code, bad_code.json()["field"]) == (400, "code")
    session = seated(client, 3)
    cheap = client.post("/api/order", json={"session": session, "lines": TWO, "total": 1})
    assert cheap.status_code == 400
    assert cheap.json() == {
        "error": "the total does not match the menu's (¥36.00)",
        "field": "total",
    }
    stranger = client.post("/api/state", json={"session": "made-up"})
    assert (stranger.status_code, stranger.json()["field"]) == (400, "session")
    assert client.post("/api/order", content=b"[1]").status_code == 400
    assert fake.orders == {}


def test_an_order_left_unpaid_is_closed_by_the_next(app: tuple[TestClient, FakeSaoma]) -> None:
    client, fake = app
    session = seated(client, 5)
    body = {"session": session, "lines": TWO, "total": 3_600}
    first = client.post("/api/order", json=body).json()["order_id"]
    second = client.post("/api/order", json=body).json()
    assert fake.orders[first]["state"] == "closed"
    assert [o["order_id"] for o in second["orders"]] == [second["order_id"]]
    # Paid after all (the wallet was quicker): it stays, and goes to the kitchen.
    fake.orders[second["order_id"]]["state"] = "paid"
    third = client.post("/api/order", json=body).json()
    assert [o["state"] for o in third["orders"]] == ["unpaid", "paid"]


def test_the_memory_is_bounded(
    app: tuple[TestClient, FakeSaoma], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, fake = app
    monkeypatch.setattr(table, "SESSIONS_MAX", 2)
    monkeypatch.setattr(table, "TICKETS_MAX", 2)
    monkeypatch.setattr(table, "TICKETS_PER_DINER_MAX", 2)
    oldest = seated(client, 1)
    seated(client, 2)
    seated(client, 3)  # the oldest diner is forgotten
    assert client.post("/api/state", json={"session": oldest}).status_code == 400

    body = {"lines": TWO, "total": 3_600}
    for n in (4, 5):
        session = seated(client, n)
        order_id = client.post("/api/order", json=body | {"session": session}).json()["order_id"]
        fake.orders[order_id]["state"] = "paid"
        client.post("/api/paid", json={"session": session, "order_id": order_id})
    full = client.post("/api/order", json=body | {"session": seated(client, 6)})
    assert full.status_code == 503  # both still cooking: none is forgotten
    (cooking, *_) = client.post("/api/kitchen", json={"key": KITCHEN}).json()["orders"]
    client.post("/api/served", json={"key": KITCHEN, "order_id": cooking["order_id"]})
    session = seated(client, 6)
    assert client.post("/api/order", json=body | {"session": session}).status_code == 200
    monkeypatch.setattr(table, "TICKETS_MAX", 100)
    again = client.post("/api/order", json=body | {"session": session})  # replaces the unpaid
    assert again.status_code == 200
    fake.orders[again.json()["order_id"]]["state"] = "paid"
    second = client.post("/api/order", json=body | {"session": session}).json()["order_id"]
    fake.orders[second]["state"] = "paid"
    many = client.post("/api/order", json=body | {"session": session})
    assert many.json() == {"error": "at most 2 orders a diner", "field": "lines"}
