"""A merchant's reports over HTTP: today's takings, per hour and per day, statements, search."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from saoma.client import SaomaError
from support import Server, new_consumer, new_merchant, wait_for

SHENZHEN = ZoneInfo("Asia/Shanghai")


def test_takings_fees_refunds_and_net_add_up(server: Server) -> None:
    shop = new_merchant(server)
    other = new_merchant(server, name="Nanshan Fresh Mart")
    payer = new_consumer(server, balance=50_000)
    order = shop.client.create_order("rep-1", 2500, description="beef noodles")
    first = payer.client.pay_order(order["id"], "246810")
    payer.client.pay_static(shop.id, 1200, "246810", note="=SUM(A1) tea")
    shop.client.refund(first["id"], 500, "R-rep-1")

    summary = shop.client.summary(days=3)
    today = summary["today"]
    assert today["count"] == 2 and today["gross"] == 3700 and today["refunded"] == 500
    assert today["fees"] == sum(p["fee"] for p in shop.client.payments()["data"])
    assert today["net"] == today["gross"] - today["fees"] - today["refunded"]
    hour = datetime.now(SHENZHEN).hour
    assert summary["per_hour"][hour]["amount"] == 3700
    assert sum(h["amount"] for h in summary["per_hour"]) == 3700
    assert [d["date"] for d in summary["per_day"]][-1] == datetime.now(SHENZHEN).date().isoformat()
    assert summary["per_day"][-1] == {**summary["per_day"][-1], "count": 2, "amount": 3700}
    # Another merchant sees none of it.
    assert other.client.summary()["today"]["count"] == 0


def test_statement_lists_every_payment_in_the_dates_with_totals(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=20_000)
    payer.client.pay_static(shop.id, 888, "246810", note="=HYPERLINK(x) 红包")
    payer.client.pay_static(shop.id, 112, "246810", note="plain")
    day = datetime.now(SHENZHEN).date()
    rows = list(csv.reader(io.StringIO(shop.client.statement(str(day), str(day)))))
    header, *lines, total = rows
    assert header[:6] == ["time", "payment_id", "kind", "order_id", "note", "currency"]
    assert [line[4] for line in lines] == ["'=HYPERLINK(x) 红包", "plain"]  # no formula runs
    assert [line[6] for line in lines] == ["8.88", "1.12"]
    assert total[0] == "total" and total[6] == "10.00"
    yesterday = day - timedelta(days=1)
    empty = list(csv.reader(io.StringIO(shop.client.statement(str(yesterday), str(yesterday)))))
    assert len(empty) == 2 and empty[1][6] == "0.00"


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2026-13-01", "2026-12-01", "from"),
        ("2026-11-02", "2026-11-01", "to"),
        ("2024-01-01", "2026-01-01", "to"),
        ("yesterday", "2026-01-01", "from"),
    ],
)
def test_statement_refuses_bad_dates_naming_the_field(
    server: Server, first: str, last: str, field: str
) -> None:
    shop = new_merchant(server)
    with pytest.raises(SaomaError) as refused:
        shop.client.statement(first, last)
    assert refused.value.status == 422 and refused.value.problem["field"] == field


def test_payments_search_and_kind_filter(server: Server) -> None:
    shop = new_merchant(server)
    payer = new_consumer(server, balance=20_000)
    order = shop.client.create_order("T-search-42", 300)
    paid = payer.client.pay_order(order["id"], "246810")
    payer.client.pay_static(shop.id, 400, "246810", note="Table 7 dumplings")
    wait_for(lambda: len(shop.client.payments()["data"]) == 2, what="both payments")
    assert [p["note"] for p in shop.client.payments(q="dumpl")["data"]] == ["Table 7 dumplings"]
    assert [p["id"] for p in shop.client.payments(q=paid["id"][:10])["data"]] == [paid["id"]]
    assert [p["kind"] for p in shop.client.payments(kind="order")["data"]] == ["order"]
    assert shop.client.payments(q="100%_")["data"] == []  # wildcards are literal
    with pytest.raises(SaomaError) as refused:
        shop.client.payments(kind="cash")
    assert refused.value.problem["field"] == "kind"
