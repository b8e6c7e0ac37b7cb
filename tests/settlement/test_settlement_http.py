"""A day of a small town over HTTP, settled, paid through the sandbox bank and reconciled against
the bank's statement: payments, a refund, a food court's share and a campaign's subsidy for
several merchants, on both databases; then each kind of break the bank's file can hold."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from saoma.client import MerchantClient
from support import (
    PIN,
    Receiver,
    Server,
    Shop,
    new_consumer,
    new_merchant,
    receiver,
    sandbox_server,
    wait_for,
)

GOOD_ACCOUNT = "6222 0210 0111 8812"
__all__ = ["receiver", "sandbox_server"]


@pytest.fixture(scope="module")
def sandbox(sandbox_server: Server) -> Server:
    """A server whose sandbox bank shows its statements and settles on demand."""
    return sandbox_server


def bank_account(shop: MerchantClient) -> None:
    body = {"holder_name": "Chen Jianguo", "account_number": GOOD_ACCOUNT}
    shop.request("POST", "/v1/settlement/bank-accounts", body)
    wait_for(
        lambda: shop.request("GET", "/v1/settlement/bank-accounts")["current"] is not None,
        what="the bank's verification",
    )


def statement_csv(server: Server, shop: Shop, settlement_id: str) -> list[dict[str, str]]:
    """The statement as the dashboard downloads it (signed in, not signing requests)."""
    response = httpx.get(
        f"{server.url}/v1/settlements/{settlement_id}/statement.csv",
        headers={"authorization": f"Bearer {shop.token}"},
    )
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def reconcile(server: Server, tmp: Path, name: str, faults: str = "") -> tuple[int, str]:
    """The bank's statement of today (UTC), downloaded and run through ``saoma reconcile``."""
    day = datetime.now(UTC).date().isoformat()
    params = {"date": day} | ({"faults": faults} if faults else {})
    response = httpx.get(f"{server.url}/v1/sandbox/bank-statement", params=params)
    assert response.status_code == 200, response.text
    path = tmp / f"{name}.xml"
    path.write_bytes(response.content)
    db = server.database_url
    done = subprocess.run(
        [sys.executable, "-m", "saoma.cli", "reconcile", str(path), "--database-url", db],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_day_is_settled_paid_and_reconciled(
    sandbox: Server, receiver: Receiver, tmp_path: Path
) -> None:
    stall = new_merchant(sandbox, name="Old Chen Noodles", webhook_url=receiver.url)
    court = new_merchant(sandbox, name="Futian Food Court")
    grocery = new_merchant(sandbox, name="Nanshan Fresh Mart")
    for shop in (stall, court, grocery):
        bank_account(shop.client)
    share = stall.client.request(
        "POST",
        "/v1/split-agreements",
        {"receiver_id": court.id, "share_ppm": 80_000, "standing": True},
    )
    court.client.request("POST", f"/v1/split-agreements/{share['id']}/accept")
    payer = new_consumer(sandbox, balance=200_000)

    noodles = [payer.client.pay_static(stall.id, amount, PIN) for amount in (2_500, 1_800)]
    payer.client.pay_static(grocery.id, 5_000, PIN)
    offer = {"name": "Lunch", "kind": "amount_off", "budget": 1_000, "amount_off": 300}
    grocery.client.request("POST", "/v1/campaigns", offer)
    static = grocery.client.request("GET", "/v1/merchant")["static_code"]["qr_payload"]
    preview = payer.client.request(
        "POST", "/v1/codes/preview", {"payload": static, "amount": 3_000}
    )
    discounted = payer.client.request(
        "POST",
        f"/v1/merchants/{grocery.id}/pay",
        {"amount": 3_000, "pin": PIN, "offer_id": preview["offer"]["offer_id"]},
    )
    for paid in noodles:
        wait_for(
            lambda paid=paid: stall.client.request("GET", f"/v1/payments/{paid['id']}/splits")[
                "data"
            ],
            timeout=20,
            what="the food court's standing share",
        )
    refund = stall.client.refund(noodles[0]["id"], 500, "R-1")

    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    run = payer.client.request("POST", "/v1/sandbox/settle", {"at": f"{tomorrow}T00:05:00+08:00"})
    assert run["settlements"] >= 3

    def paid_settlement(shop: MerchantClient) -> dict[str, Any]:
        wait_for(
            lambda: shop.request("GET", "/v1/settlements")["data"][0]["state"] == "paid",
            what="the payout's answer",
        )
        (settlement,) = shop.request("GET", "/v1/settlements")["data"]
        return settlement

    noodle_day, court_day, grocery_day = (
        paid_settlement(s.client) for s in (stall, court, grocery)
    )
    assert noodle_day["gross"] == 4_300 and noodle_day["refunds"] == 500
    assert noodle_day["splits"] == -(200 + 144) + 40  # 8% of each, less a share of the refund
    assert court_day["splits"] == 304 and court_day["payout"] == 304
    assert grocery_day["other"] == 300 - 1_000  # the subsidy in, the campaign's budget out
    for day, shop in ((noodle_day, stall), (court_day, court), (grocery_day, grocery)):
        assert day["payout"] == day["net"] > 0
        assert shop.client.request("GET", "/v1/merchant")["balance"] == 0
    lines = statement_csv(sandbox, stall, noodle_day["id"])
    assert {line["payment_id"] for line in lines} == {p["id"] for p in noodles}
    assert [line["refund_id"] for line in lines if line["kind"] == "refund"] == [refund["id"]]
    grocery_lines = statement_csv(sandbox, grocery, grocery_day["id"])
    assert discounted["id"] in {line["payment_id"] for line in grocery_lines}
    wait_for(lambda: receiver.bodies("settlement.paid"), what="the settlement.paid webhook")
    (hook,) = receiver.bodies("settlement.paid")
    assert (hook["data"]["id"], hook["data"]["payout"]) == (noodle_day["id"], noodle_day["payout"])

    status, output = reconcile(sandbox, tmp_path, "clean")
    assert status == 0, output
    for fault in ("missing", "amount", "unknown", "duplicate"):
        status, output = reconcile(sandbox, tmp_path, fault, fault)
        assert status == 1 and fault in output, output
