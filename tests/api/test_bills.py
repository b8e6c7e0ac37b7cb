"""The wallet's bills over HTTP: every movement of a day is a row, named, filtered and paged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest

from saoma.client import SaomaError
from support import Server, new_consumer
from support_bills import Day, a_day_of_everything

ZONE = ZoneInfo("Asia/Shanghai")  # the platform's time zone in the tests' settings


@pytest.fixture(scope="module")
def day(server: Server) -> Day:
    return a_day_of_everything(server)


def every_row(day: Day, **params: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = day.me.client.request(
            "GET", "/v1/me/bills", params={**params, "cursor": cursor or ""}
        )
        yield from page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return


def signed(row: dict[str, Any]) -> int:
    """What a row did to the balance."""
    if row["direction"] == "none" or (row["kind"] == "withdrawal" and row["state"] != "done"):
        return 0
    return row["amount"] if row["direction"] == "in" else -row["amount"]


def test_every_movement_of_the_day_is_a_named_row(day: Day) -> None:
    rows = list(every_row(day))
    seen = {(r["kind"], r["direction"], r["amount"], r["name"], r["state"]) for r in rows}
    shop = "Nanshan Fresh Mart"
    assert seen == {
        ("top_up", "in", 20_000, "", "done"),
        ("payment", "out", 2_700, shop, "partly_refunded"),  # ¥30 less the campaign's ¥3
        ("refund", "in", 450, shop, "done"),  # of ¥5 refunded, the payer's ¥4.50
        ("payment", "out", 1_200, shop, "done"),
        ("payment", "out", 1_800, shop, "done"),  # by payment code
        ("hold", "none", 3_000, shop, "captured"),
        ("capture", "out", 200, shop, "done"),
        ("hold", "none", 1_000, shop, "released"),
        ("release", "none", 1_000, shop, "released"),
        ("transfer_out", "out", 500, "*芳", "done"),
        ("transfer_out", "out", 300, rows_named(rows, "transfer_out", 300), "returned"),
        ("transfer_returned", "in", 300, rows_named(rows, "transfer_out", 300), "returned"),
        ("transfer_in", "in", 800, "*芳", "done"),
        ("red_packet_sent", "out", 1_000, "", "expired"),
        ("red_packet_returned", "in", rows_amount(rows, "red_packet_returned"), "", "done"),
        ("red_packet_claimed", "in", 600, "*芳", "done"),
        ("withdrawal", "out", 1_000, "", "done"),
    }
    assert len(rows) == len(seen)
    # A payment code's note is the merchant's order number: the payer never sees it.
    by_code = next(r for r in rows if r["kind"] == "payment" and r["amount"] == 1_800)
    assert by_code["note"] == "" and not by_code["name"].startswith("TILL")
    assert next(r for r in rows if r["amount"] == 1_200)["note"] == "lunch"
    assert next(r for r in rows if r["kind"] == "capture")["held"] == 3_000
    # Nothing shows a wallet id where a name belongs.
    assert not any(r["name"].startswith("c_") for r in rows)
    # The rows add up to the wallet: what came in less what went out is the balance.
    assert sum(signed(r) for r in rows) == day.balance
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)


def rows_named(rows: list[dict[str, Any]], kind: str, amount: int) -> str:
    name = next(r["name"] for r in rows if r["kind"] == kind and r["amount"] == amount)
    assert name.startswith("+86") and "*" in name  # the number it waited for, masked
    return str(name)


def rows_amount(rows: list[dict[str, Any]], kind: str) -> int:
    amount = next(r["amount"] for r in rows if r["kind"] == kind)
    claimed = 1_000 - amount  # 王芳 took one share; the other came back
    assert 0 < claimed < 1_000
    return int(amount)


def test_a_refund_of_a_discounted_payment_is_what_came_back_and_has_a_receipt(day: Day) -> None:
    refund = next(r for r in every_row(day, kind="refund"))
    assert (refund["amount"], refund["payment_id"]) == (450, day.discounted["id"])
    receipt = day.me.client.request("GET", f"/v1/me/bills/{refund['id']}")
    assert receipt == refund
    payment = day.me.client.request("GET", f"/v1/me/payments/{refund['payment_id']}")
    assert (payment["paid"], payment["refunded_to_payer"]) == (2_700, 450)


def test_filters_by_kind_and_month(day: Day) -> None:
    everything = list(every_row(day))
    for kind, kinds in {
        "payment": {"payment", "capture"},
        "refund": {"refund"},
        "transfer": {"transfer_out", "transfer_in", "transfer_returned"},
        "red_packet": {"red_packet_sent", "red_packet_claimed", "red_packet_returned"},
        "top_up": {"top_up"},
        "withdrawal": {"withdrawal"},
        "hold": {"hold", "capture", "release"},
    }.items():
        rows = list(every_row(day, kind=kind))
        assert rows and {r["kind"] for r in rows} == kinds, kind
        assert rows == [r for r in everything if r["kind"] in kinds]
    now = datetime.now(UTC).astimezone(ZONE)
    assert list(every_row(day, month=f"{now:%Y-%m}")) == everything
    assert list(every_row(day, month="2001-01")) == []
    assert list(every_row(day, month="2001-01", kind="payment")) == []


def test_pages_follow_each_other_without_gaps_or_repeats(day: Day) -> None:
    everything = list(every_row(day))
    paged: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = day.me.client.request("GET", "/v1/me/bills", params={"limit": 4, "cursor": cursor})
        assert len(page["data"]) <= 4
        paged += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == everything


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "2026-1"}, "month"),
        ({"month": "December"}, "month"),
        ({"month": "２０２６-１２"}, "month"),
        ({"kind": "gift"}, "kind"),
        ({"kind": "x" * 40}, "kind"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "-1"}, "cursor"),
        ({"cursor": "9" * 30}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    day: Day, params: dict[str, str], field: str
) -> None:
    with pytest.raises(SaomaError) as refused:
        day.me.client.request("GET", "/v1/me/bills", params=params)
    assert refused.value.status == 422
    assert refused.value.problem["field"] == field, refused.value.problem


def test_another_consumers_rows_never_appear(server: Server, day: Day) -> None:
    stranger = new_consumer(server, balance=700)
    assert [(r["kind"], r["amount"]) for r in every_row_of(stranger.client)] == [("top_up", 700)]
    mine = list(every_row(day))
    for row in mine:
        with pytest.raises(SaomaError) as hidden:
            stranger.client.request("GET", f"/v1/me/bills/{row['id']}")
        assert hidden.value.status == 404
    # 王芳 sees her side of what she did with 张敏, not 张敏's rows.
    theirs = list(every_row_of(day.friend.client))
    assert not {r["id"] for r in theirs} & {
        r["id"] for r in mine if r["kind"] not in ("transfer_out", "transfer_in")
    }
    got = next(r for r in theirs if r["kind"] == "transfer_in")
    assert (got["amount"], got["name"]) == (500, "*敏")
    for odd in ("nul\x00", "x" * 65, "pay:%ff"):
        with pytest.raises(SaomaError) as missing:
            day.me.client.request("GET", f"/v1/me/bills/{quote(odd, safe='')}")
        assert missing.value.status == 404
    unsigned = httpx.get(server.url + "/v1/me/bills")
    assert unsigned.status_code == 401


def every_row_of(client: Any) -> list[dict[str, Any]]:
    return list(client.request("GET", "/v1/me/bills", params={"limit": 100})["data"])
