"""A day of every kind of movement in one wallet, for the bills' tests (API and pages).

张敏 tops up, pays an order with a campaign's ¥3 off and is refunded part of it, pays a sticker
with a note and a till by payment code, allows two deposits (one partly taken, one released),
sends money to 王芳 and to a number nobody has (it comes back), gets money from 王芳, sends a red
packet that 王芳 opens in part (the rest comes back), opens one of 王芳's, and withdraws to the
bank.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from saoma.paycode import codes
from support import PASSWORD, PIN, Payer, Server, Shop, engine_of, new_merchant, wait_for
from support_till import payer_named


@dataclass
class Day:
    me: Payer
    friend: Payer
    shop: Shop
    discounted: dict[str, Any]  # the ¥30 order paid ¥27 with ¥3 off, then refunded ¥5
    balance: int  # what 张敏's wallet holds at the end of the day


def transfer(payer: Payer, to: str, amount: int, note: str = "") -> dict[str, Any]:
    body = {"to": to, "amount": amount, "note": note, "pin": PIN}
    sent: dict[str, Any] = payer.client.request(
        "POST", "/v1/transfers", body, idempotency_key=secrets.token_hex(8)
    )
    return sent


def packet(payer: Payer, amount: int, shares: int, greeting: str) -> dict[str, Any]:
    body = {"amount": amount, "shares": shares, "greeting": greeting, "pin": PIN}
    made: dict[str, Any] = payer.client.request(
        "POST", "/v1/red-packets", body, idempotency_key=secrets.token_hex(8)
    )
    return made


def a_day_of_everything(server: Server, *, shop_name: str = "Nanshan Fresh Mart") -> Day:
    shop = new_merchant(server, name=shop_name)
    shop.client.request("PUT", "/v1/merchant/manager-pin", {"password": PASSWORD, "pin": "135790"})
    me = payer_named(server, "张敏", 20_000)  # a top-up of ¥200
    friend = payer_named(server, "王芳", 10_000)
    friend.client.pay_static(shop.id, 5_000, PIN)  # the shop's takings, to refund from
    shop.client.request(
        "POST",
        "/v1/campaigns",
        {"name": "¥3 off", "kind": "amount_off", "amount_off": 300, "budget": 1_000},
    )
    order = shop.client.create_order(f"PROMO-{secrets.token_hex(3)}", 3_000, description="fruit")
    offer = me.client.preview(order["qr_payload"])["offer"]
    paid = me.client.request(
        "POST",
        f"/v1/orders/{order['id']}/pay",
        {"pin": PIN, "offer_id": offer["offer_id"]},
        idempotency_key=secrets.token_hex(8),
    )
    shop.client.refund(paid["id"], 500, f"R-{secrets.token_hex(3)}")  # the payer gets ¥4.50
    me.client.pay_static(shop.id, 1_200, PIN, note="lunch")
    by_code(shop, me, 1_800)
    kept = shop.client.create_hold(f"H-{secrets.token_hex(3)}", 3_000, description="bike")
    me.client.consent_hold(kept["id"], PIN)
    shop.client.capture_hold(kept["id"], 200)
    freed = shop.client.create_hold(f"H-{secrets.token_hex(3)}", 1_000, description="locker")
    me.client.consent_hold(freed["id"], PIN)
    shop.client.void_hold(freed["id"])
    transfer(me, friend.id, 500, "dinner")
    nobody = f"+86139{secrets.randbelow(10**8):08d}"
    waiting = transfer(me, nobody, 300, "taxi")
    transfer(friend, me.id, 800, "thanks")
    mine = packet(me, 1_000, 2, "恭喜发财")
    friend.client.request("POST", f"/v1/red-packets/{mine['id']}/claim")
    theirs = packet(friend, 600, 1, "新年快乐")
    me.client.request("POST", f"/v1/red-packets/{theirs['id']}/claim")
    me.client.request(
        "POST",
        "/v1/me/withdrawals",
        {"amount": 1_000, "currency": "CNY", "pin": PIN},
        idempotency_key=secrets.token_hex(8),
    )
    come_back(server, waiting["id"], mine["id"])
    wait_for(
        lambda: (
            me.client.request("GET", "/v1/me/bank-transfers", params={"direction": "withdraw"})[
                "data"
            ][0]["state"]
            == "succeeded"
        ),
        what="the bank to pay the withdrawal out",
    )
    balance = me.client.me()["balance"]
    return Day(me, friend, shop, paid, balance)


def by_code(shop: Shop, payer: Payer, amount: int) -> None:
    """A till charges ``payer``'s payment code, which pays at once under the no-PIN limit."""
    payer.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 5_000, "per_day": 10_000, "pin": PIN}
    )
    device = payer.client.request("POST", "/v1/me/devices", {"label": "phone"})
    code = codes.generate(base64.b64decode(device["secret"]), device["handles"][0], time.time())
    charge = shop.client.create_charge(code, amount, f"TILL-{secrets.token_hex(4)}")
    assert charge["state"] == "succeeded", charge


def come_back(server: Server, transfer_id: str, packet_id: str) -> None:
    """The waiting transfer and the red packet run out of time; the server sends the money
    back within its maintenance pass (every few seconds)."""
    engine = engine_of(server.database_url)
    with engine.begin() as conn:
        past = {"at": 1, "t": transfer_id, "p": packet_id}
        conn.execute(text("UPDATE p2p_transfers SET expires_at_us = :at WHERE id = :t"), past)
        conn.execute(text("UPDATE red_packets SET expires_at_us = :at WHERE id = :p"), past)

    def back() -> bool:
        with engine.connect() as conn:
            t = conn.execute(
                text("SELECT state FROM p2p_transfers WHERE id = :t"), {"t": transfer_id}
            ).scalar_one()
            p = conn.execute(
                text("SELECT returned FROM red_packets WHERE id = :p"), {"p": packet_id}
            ).scalar_one()
        return bool(t == "returned" and p > 0)

    wait_for(back, timeout=30, what="the waiting transfer and the red packet to come back")
