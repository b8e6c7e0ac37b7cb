"""Money between people over HTTP: personal codes, transfers, waiting transfers, red packets."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import insert

from saoma.client import ConsumerClient, SaomaError
from saoma.core.ids import new_account_id, new_id, now_us, token_hash
from saoma.db import make_engine
from saoma.ledger import Account, AccountFlags, AccountKind, Ledger
from saoma.wallets import tables as pm
from support import PASSWORD, PIN, Server, fresh_key, new_consumer, verify_login


def test_pay_a_friend_by_scanning_their_code(server: Server) -> None:
    alice = new_consumer(server, balance=10_000)
    bob = new_consumer(server)
    code = bob.client.request("GET", "/v1/me/code")["qr_payload"]
    preview = alice.client.preview(code)
    assert preview["kind"] == "person" and preview["person"]["id"] == bob.id
    sent = alice.client.request(
        "POST",
        "/v1/transfers",
        {"to": bob.id, "amount": 2_500, "note": "dinner", "pin": PIN},
        idempotency_key="dinner-1",
    )
    assert sent["state"] == "done" and sent["direction"] == "out"
    assert (alice.client.me()["balance"], bob.client.me()["balance"]) == (7_500, 2_500)
    seen_by_bob = bob.client.request("GET", "/v1/me/transfers")["data"]
    assert [(t["direction"], t["amount"], t["note"]) for t in seen_by_bob] == [
        ("in", 2_500, "dinner")
    ]
    with pytest.raises(SaomaError) as own:
        alice.client.preview(alice.client.request("GET", "/v1/me/code")["qr_payload"])
    assert own.value.slug == "self-transfer"


def test_transfer_refusals_name_the_reason(server: Server) -> None:
    alice = new_consumer(server, balance=1_000)
    bob = new_consumer(server)
    for body, slug, field in (
        ({"to": alice.id, "amount": 100, "pin": PIN}, "self-transfer", "to"),
        ({"to": bob.id, "amount": 100}, "pin-required", "pin"),
        ({"to": bob.id, "amount": 100, "pin": "000000"}, "pin-wrong", "pin"),
        ({"to": bob.id, "amount": 1_001, "pin": PIN}, "insufficient-funds", "amount"),
        ({"to": bob.id, "amount": 0, "pin": PIN}, "invalid-request", "amount"),
        ({"to": "nobody", "amount": 100, "pin": PIN}, "invalid-request", "to"),
        ({"to": bob.id, "amount": 2_000_001, "pin": PIN}, "daily-limit", "amount"),
    ):
        with pytest.raises(SaomaError) as refused:
            alice.client.request(
                "POST", "/v1/transfers", body, idempotency_key=secrets.token_hex(6)
            )
        assert (refused.value.slug, refused.value.problem.get("field")) == (slug, field), body
    assert (alice.client.me()["balance"], bob.client.me()["balance"]) == (1_000, 0)


def test_money_to_someone_without_a_wallet_waits_for_them(server: Server) -> None:
    alice = new_consumer(server, balance=5_000)
    phone = f"+86135{secrets.randbelow(10**8):08d}"
    waiting = alice.client.request(
        "POST",
        "/v1/transfers",
        {"to": phone, "amount": 1_200, "pin": PIN},
        idempotency_key="wait-1",
    )
    assert waiting["state"] == "waiting" and "returns_at" in waiting
    assert alice.client.me()["balance"] == 3_800
    newcomer = ConsumerClient(server.url)
    newcomer.sign_up(phone, PASSWORD)
    assert newcomer.me()["balance"] == 0  # until the phone is proven theirs
    verify_login(server, newcomer, phone)
    assert newcomer.me()["balance"] == 1_200
    assert alice.client.request("GET", "/v1/me/transfers")["data"][0]["state"] == "claimed"


def test_red_packet_shares_add_up_and_each_person_claims_once(server: Server) -> None:
    sender = new_consumer(server, balance=10_000)
    packet = sender.client.request(
        "POST",
        "/v1/red-packets",
        {"amount": 888, "shares": 3, "mode": "random", "greeting": "恭喜发财", "pin": PIN},
        idempotency_key="rp-1",
    )
    assert packet["state"] == "open" and packet["claims"] == []
    assert sender.client.me()["balance"] == 10_000 - 888
    friends = [new_consumer(server) for _ in range(4)]
    got = [f.client.request("POST", f"/v1/red-packets/{packet['id']}/claim") for f in friends[:3]]
    again = friends[0].client.request("POST", f"/v1/red-packets/{packet['id']}/claim")
    assert again["amount"] == got[0]["amount"]  # claiming twice gives the same share, once
    with pytest.raises(SaomaError) as late:
        friends[3].client.request("POST", f"/v1/red-packets/{packet['id']}/claim")
    assert late.value.slug == "packet-empty"
    amounts = [g["amount"] for g in got]
    assert sum(amounts) == 888 and min(amounts) >= 1
    assert [f.client.me()["balance"] for f in friends] == [*amounts, 0]
    final = sender.client.request("GET", f"/v1/red-packets/{packet['id']}")
    assert final["claimed"] == 3 and final["state"] == "emptied" and final["luckiest"] is not None

    equal = sender.client.request(
        "POST",
        "/v1/red-packets",
        {"amount": 1_000, "shares": 3, "mode": "equal", "pin": PIN},
        idempotency_key="rp-2",
    )
    shares = sorted(
        f.client.request("POST", f"/v1/red-packets/{equal['id']}/claim")["amount"]
        for f in friends[:3]
    )
    assert shares == [333, 333, 334]
    with pytest.raises(SaomaError) as thin:
        sender.client.request(
            "POST",
            "/v1/red-packets",
            {"amount": 5, "shares": 10, "pin": PIN},
            idempotency_key="rp-3",
        )
    assert thin.value.problem["field"] == "amount"


def _crowd(server: Server, n: int) -> list[str]:
    """``n`` signed-in wallets made straight in the database: the race is what is under test."""
    engine = make_engine(server.database_url)
    tokens = []
    with Ledger(engine) as ledger:
        ids = [new_account_id() for _ in range(n)]
        ledger.create_accounts(
            [
                Account(
                    i,
                    "CNY",
                    AccountKind.CONSUMER_WALLET,
                    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                )
                for i in ids
            ]
        )
        now = now_us()
        consumers, sessions = [], []
        for account_id in ids:
            cid, token = new_id("c"), "st_" + secrets.token_urlsafe(24)
            consumers.append(
                {
                    "id": cid,
                    "login": f"crowd-{cid}@example.cn",
                    "display_name": cid[-6:],
                    "password_hash": "!",
                    "account_id": account_id,
                    "currency": "CNY",
                    "created_at_us": now,
                }
            )
            sessions.append(
                {
                    "token_hash": token_hash(token),
                    "consumer_id": cid,
                    "created_at_us": now,
                    "expires_at_us": now + 3600 * 1_000_000,
                }
            )
            tokens.append(token)
        with engine.begin() as conn:
            conn.execute(insert(pm.consumers), consumers)
            conn.execute(insert(pm.sessions), sessions)
    engine.dispose()
    return tokens


def test_a_thousand_racing_for_a_packet_for_ten(server: Server) -> None:
    sender = new_consumer(server, balance=100_000)
    packet = sender.client.request(
        "POST",
        "/v1/red-packets",
        {"amount": 10_000, "shares": 10, "pin": PIN},
        idempotency_key="race-1",
    )
    tokens = _crowd(server, 1_000)
    start = threading.Barrier(40)
    outcomes: list[tuple[str, int]] = []
    lock = threading.Lock()

    def claim(chunk: list[str]) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            start.wait()
            for token in chunk:
                r = http.post(
                    f"/v1/red-packets/{packet['id']}/claim",
                    headers={"authorization": f"Bearer {token}"} | fresh_key(),
                )
                with lock:
                    outcomes.append((token, r.status_code, r.json().get("amount", 0)))  # type: ignore[arg-type]

    with ThreadPoolExecutor(40) as pool:
        list(pool.map(claim, [tokens[i::40] for i in range(40)]))
    won = [o for o in outcomes if o[1] == 201]
    assert len(outcomes) == 1_000 and len(won) == 10
    assert len({o[0] for o in won}) == 10  # ten different people
    assert sum(o[2] for o in won) == 10_000
    assert all(o[1] == 409 for o in outcomes if o[1] != 201)
