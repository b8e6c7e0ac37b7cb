"""Owning a phone or e-mail over HTTP: codes at sign-up, money only to verified identifiers."""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from saoma.client import ConsumerClient, SaomaError
from saoma.core.ids import now_us
from saoma.db import make_engine
from support import PASSWORD, PIN, Server, code_sent_to, new_consumer, verify_login, wait_for


def a_phone() -> str:
    return f"+86137{secrets.randbelow(10**8):08d}"


def send(sender: ConsumerClient, to: str, amount: int) -> dict[str, object]:
    result: dict[str, object] = sender.request(
        "POST",
        "/v1/transfers",
        {"to": to, "amount": amount, "pin": PIN},
        idempotency_key=secrets.token_hex(8),
    )
    return result


def sql(server: Server, statement: str, **params: object) -> None:
    engine = make_engine(server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def test_sign_up_sends_a_code_and_typing_it_verifies_the_phone(server: Server) -> None:
    phone = a_phone()
    client = ConsumerClient(server.url)
    signed_up = client.sign_up(phone, PASSWORD)
    assert signed_up["verification"]["identifier"] == phone
    assert signed_up["verification"]["verified"] is False
    assert "code_expires_at" in signed_up["verification"]
    listed = client.request("GET", "/v1/me/identifiers")["data"]
    assert [(i["identifier"], i["verified"]) for i in listed] == [(phone, False)]
    verified = verify_login(server, client, phone)
    assert verified["verified"] is True and "verified_at" in verified
    assert client.request("GET", "/v1/me/identifiers")["data"][0]["verified"] is True


def test_an_attacker_signing_up_with_the_victims_phone_gets_none_of_their_money(
    server: Server,
) -> None:
    alice = new_consumer(server, balance=5_000)
    victim_phone = a_phone()
    attacker = ConsumerClient(server.url)
    attacker.sign_up(victim_phone, "attacker's own password")  # never sees the code
    waiting = send(alice.client, victim_phone, 1_200)
    assert waiting["state"] == "waiting" and "returns_at" in waiting
    assert attacker.me()["balance"] == 0
    with pytest.raises(SaomaError) as guessed:
        attacker.request(
            "POST", "/v1/me/identifiers/verify", {"identifier": victim_phone, "code": "000000"}
        )
    assert guessed.value.slug in ("verification-code-wrong", "verification-code-locked")

    victim = ConsumerClient(server.url)
    victim.sign_up(victim_phone, PASSWORD)  # the attacker's unproven claim does not block it
    verify_login(server, victim, victim_phone)  # the victim's phone received the code
    assert victim.me()["balance"] == 1_200
    assert victim.me()["login"] == victim_phone
    assert alice.client.request("GET", "/v1/me/transfers")["data"][0]["state"] == "claimed"
    assert send(alice.client, victim_phone, 300)["state"] == "done"  # now at once
    assert (victim.me()["balance"], attacker.me()["balance"]) == (1_500, 0)
    with pytest.raises(SaomaError) as signed_in:
        ConsumerClient(server.url).request(
            "POST",
            "/v1/sessions",
            {"login": victim_phone, "password": "attacker's own password"},
        )
    assert signed_in.value.slug == "sign-in-failed"


def test_money_to_an_unverified_phone_returns_to_the_sender_after_a_day(server: Server) -> None:
    alice = new_consumer(server, balance=2_000)
    phone = a_phone()
    ConsumerClient(server.url).sign_up(phone, PASSWORD)  # signed up, never verified
    waiting = send(alice.client, phone, 700)
    assert alice.client.me()["balance"] == 1_300
    sql(
        server,
        "UPDATE p2p_transfers SET expires_at_us = :past WHERE id = :id",
        past=now_us() - 1,
        id=waiting["id"],
    )

    def returned() -> bool:
        transfers = alice.client.request("GET", "/v1/me/transfers")["data"]
        return bool(transfers[0]["state"] == "returned")

    wait_for(returned, timeout=30, what="the maintenance loop to send it back")
    assert alice.client.me()["balance"] == 2_000


def test_a_second_phone_added_to_a_wallet_receives_once_verified(server: Server) -> None:
    bob = new_consumer(server)
    second = a_phone()
    alice = new_consumer(server, balance=1_000)
    added = bob.client.request("POST", "/v1/me/identifiers", {"identifier": second})
    assert (added["identifier"], added["verified"]) == (second, False)
    assert send(alice.client, second, 400)["state"] == "waiting"
    verify_login(server, bob.client, second)
    assert bob.client.me()["balance"] == 400
    with pytest.raises(SaomaError) as again:
        alice.client.request("POST", "/v1/me/identifiers", {"identifier": second})
    assert (again.value.slug, again.value.problem["field"]) == ("identifier-taken", "identifier")


def test_fifty_phones_and_emails_added_at_once_stop_at_five(server: Server) -> None:
    client = ConsumerClient(server.url)
    phone = a_phone()
    client.sign_up(phone, PASSWORD)  # the sign-up's phone is the first of five

    def add(i: int) -> str:
        try:
            client.request("POST", "/v1/me/identifiers", {"identifier": f"r{i}@example.cn"})
            return "added"
        except SaomaError as exc:
            return f"{exc.status} {exc.slug}: {exc.problem['detail']}"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(add, range(50)))
    assert outcomes.count("added") == 4
    assert set(outcomes) - {"added"} == {
        "422 invalid-request: identifier: a wallet has 5 phones and e-mails at most"
    }
    listed = [i["identifier"] for i in client.request("GET", "/v1/me/identifiers")["data"]]
    assert len(listed) == 5 and phone in listed


def test_code_refusals_are_problems_naming_the_field(server: Server) -> None:
    phone = a_phone()
    client = ConsumerClient(server.url)
    client.sign_up(phone, PASSWORD)
    right = code_sent_to(server.database_url, phone)
    wrong = f"{(int(right) + 1) % 10**6:06d}"

    def refusal(path: str, body: object) -> tuple[int, str, str | None]:
        response = httpx.post(  # escaped JSON: a lone surrogate travels as \ud800
            server.url + path,
            content=json.dumps(body),
            headers={"authorization": f"Bearer {client.token}", "content-type": "application/json"},
        )
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        return response.status_code, problem["type"].rsplit("/", 1)[-1], problem.get("field")

    verify = "/v1/me/identifiers/verify"
    assert refusal(verify, {"identifier": phone, "code": wrong}) == (
        422,
        "verification-code-wrong",
        "code",
    )
    assert refusal(verify, {"identifier": a_phone(), "code": right}) == (
        404,
        "identifier-unknown",
        "identifier",
    )
    assert refusal("/v1/me/identifiers/code", {"identifier": phone}) == (
        429,
        "verification-code-too-soon",
        "identifier",
    )
    for hostile in ("١٢٣٤٥٦", "12345\x00", "²²²²²²", "", "1" * 7, "-12345"):
        status, _, field = refusal(verify, {"identifier": phone, "code": hostile})
        assert (status, field) == (422, "code"), hostile
    for hostile_value in (10**30, 2**63, -1, None, ["+8613700000000"], True):
        status, _, field = refusal(verify, {"identifier": phone, "code": hostile_value})
        assert (status, field) == (422, "code"), hostile_value
    for hostile_identifier in ("+86١٣٧٠٠٠٠٠٠٠٠", "a" * 300, "\ud800@x.cn", "x\x00@y.cn", 10**30):
        status, _, field = refusal(verify, {"identifier": hostile_identifier, "code": right})
        assert (status, field) == (422, "identifier"), hostile_identifier
    sql(
        server,
        "UPDATE identifiers SET code_expires_at_us = :past WHERE value = :v",
        past=now_us() - 1,
        v=phone,
    )
    assert refusal(verify, {"identifier": phone, "code": right}) == (
        410,
        "verification-code-expired",
        "code",
    )
    sql(
        server,
        "UPDATE identifiers SET code_expires_at_us = :later, code_attempts = 5 WHERE value = :v",
        later=now_us() + 600_000_000,
        v=phone,
    )
    assert refusal(verify, {"identifier": phone, "code": right}) == (
        423,
        "verification-code-locked",
        "code",
    )
    assert client.request("GET", "/v1/me/identifiers")["data"][0]["verified"] is False


def test_sandbox_messages_are_not_shown_outside_demo_mode(server: Server) -> None:
    response = httpx.get(server.url + "/v1/sandbox/messages")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
