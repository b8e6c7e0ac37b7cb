"""The consumer's wallet over HTTP: PIN, top-ups, withdrawals via the sandbox bank, live events."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading

import httpx
import pytest

from saoma.client import ConsumerClient, SaomaError
from support import PASSWORD, PIN, Server, new_consumer, new_merchant, wait_for


def test_a_process_without_the_tests_setting_hashes_passwords_at_argon2s_full_cost() -> None:
    """The suite hashes passwords cheaply (SAOMA_TEST_CHEAP_PASSWORDS, tests/conftest.py); a
    server started without that setting hashes with Argon2id at the library's full cost."""
    script = "from saoma.wallets.credentials import hash_password; print(hash_password('8 chars!'))"
    run = [sys.executable, "-c", script]
    env = {k: v for k, v in os.environ.items() if k != "SAOMA_TEST_CHEAP_PASSWORDS"}
    full = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert full.stdout.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), full.stdout
    assert "SAOMA_TEST_CHEAP_PASSWORDS" not in full.stderr
    env["SAOMA_TEST_CHEAP_PASSWORDS"] = "1"
    cheap = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert cheap.stdout.startswith("$argon2id$v=19$m=8,t=1,p=1$"), cheap.stdout
    assert "lowest cost (tests only)" in cheap.stderr


def test_pin_is_six_digits_set_with_the_password_changed_with_the_old_pin(server: Server) -> None:
    payer = new_consumer(server, pin=None)
    assert payer.client.me()["has_pin"] is False
    with pytest.raises(SaomaError) as short:
        payer.client.set_pin("1234", password=PASSWORD)
    assert short.value.problem["field"] == "pin"
    with pytest.raises(SaomaError) as wrong_password:
        payer.client.set_pin("135790", password="not my password")
    assert wrong_password.value.status == 401
    payer.client.set_pin("135790", password=PASSWORD)
    with pytest.raises(SaomaError) as needs_old:
        payer.client.set_pin("111111", password=PASSWORD)
    assert needs_old.value.problem["field"] == "old_pin"
    payer.client.set_pin("111111", old_pin="135790")
    assert payer.client.me()["has_pin"] is True


def test_no_pin_limit_is_validated_and_needs_the_pin(server: Server) -> None:
    payer = new_consumer(server)
    limit = payer.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 5_000, "per_day": 20_000, "pin": PIN}
    )
    assert limit["no_pin_limit"] == {"per_payment": 5_000, "per_day": 20_000}
    with pytest.raises(SaomaError) as below:
        payer.client.request(
            "PUT", "/v1/me/no-pin-limit", {"per_payment": 5_000, "per_day": 100, "pin": PIN}
        )
    assert below.value.problem["field"] == "per_day"
    with pytest.raises(SaomaError) as wrong:
        payer.client.request(
            "PUT", "/v1/me/no-pin-limit", {"per_payment": 1, "per_day": 1, "pin": "000000"}
        )
    assert wrong.value.slug == "pin-wrong"


def test_withdrawal_holds_then_settles_or_comes_back(server: Server) -> None:
    payer = new_consumer(server, balance=10_000)
    done = payer.client.request(
        "POST", "/v1/me/withdrawals", {"amount": 3_000, "pin": PIN}, idempotency_key="w-1"
    )
    assert done["state"] == "pending"
    wait_for(lambda: payer.client.me()["balance"] == 7_000, what="the withdrawal to settle")
    declined = payer.client.request(
        "POST", "/v1/me/withdrawals", {"amount": 1_013, "pin": PIN}, idempotency_key="w-2"
    )
    wait_for(
        lambda: (
            payer.client.request("GET", f"/v1/me/bank-transfers/{declined['id']}")["state"]
            == "failed"
        ),
        what="the decline",
    )
    me = payer.client.me()
    assert (me["balance"], me["available"], me["held"]) == (7_000, 7_000, 0)
    with pytest.raises(SaomaError) as too_much:
        payer.client.request(
            "POST", "/v1/me/withdrawals", {"amount": 7_001, "pin": PIN}, idempotency_key="w-3"
        )
    assert too_much.value.slug == "insufficient-funds"
    with pytest.raises(SaomaError) as no_pin:
        payer.client.request(
            "POST", "/v1/me/withdrawals", {"amount": 1, "pin": "999999"}, idempotency_key="w-4"
        )
    assert no_pin.value.slug == "pin-wrong"


def test_bank_answers_lost_with_a_killed_server_arrive_after_the_restart(server: Server) -> None:
    """The bank answers a few seconds later; the server is killed before it does. The next
    server sends the bank the instructions still pending, and they settle, each once."""
    payer = new_consumer(server, balance=10_000)
    slow = dict(server.env, SAOMA_SANDBOX_BANK_DELAY_S="30")
    normal = server.env
    server.stop()
    server.env = slow
    server.start()
    try:
        top_up = payer.client.top_up(2_000)
        withdrawal = payer.client.request(
            "POST", "/v1/me/withdrawals", {"amount": 3_000, "pin": PIN}, idempotency_key="lost-w"
        )
        assert (top_up["state"], withdrawal["state"]) == ("pending", "pending")
        me = payer.client.me()
        assert (me["balance"], me["held"]) == (10_000, 3_000)
        server.kill()  # the bank's answers die with it
    finally:
        server.env = normal
        server.start()

    def state(bt_id: str) -> str:
        return str(payer.client.request("GET", f"/v1/me/bank-transfers/{bt_id}")["state"])

    wait_for(
        lambda: state(top_up["id"]) == state(withdrawal["id"]) == "succeeded",
        timeout=15,
        what="both to settle after the restart",
    )
    me = payer.client.me()
    assert (me["balance"], me["available"], me["held"]) == (9_000, 9_000, 0)


def test_top_up_replays_by_idempotency_key(server: Server) -> None:
    payer = new_consumer(server)
    first = payer.client.top_up(2_000, idempotency_key="top-1")
    again = payer.client.top_up(2_000, idempotency_key="top-1")
    assert again["id"] == first["id"]
    wait_for(lambda: payer.client.me()["balance"] == 2_000, what="the top-up")
    assert payer.client.me()["balance"] == 2_000


def test_the_wallet_hears_its_top_up_live(server: Server) -> None:
    payer = new_consumer(server)
    heard: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET",
            server.url + "/v1/me/events",
            headers={"authorization": f"Bearer {payer.client.token}"},
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
    payer.client.top_up(1_500)
    thread.join(10)
    assert heard and heard[0]["type"] == "topup.succeeded"


def test_the_wallet_hears_its_holds_taken_and_released_live(server: Server) -> None:
    """The payer's page learns at once that a deposit was taken in part or released."""
    bikes = new_merchant(server)
    payer = new_consumer(server, balance=5_000)
    heard: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET",
            server.url + "/v1/me/events",
            headers={"authorization": f"Bearer {payer.client.token}"},
            timeout=20,
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("data: "):
                    heard.append(json.loads(line[6:])["type"])
                    if "hold.released" in heard:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    taken = bikes.client.create_hold("ride-1", 3_000)
    payer.client.consent_hold(taken["id"], PIN)
    bikes.client.capture_hold(taken["id"], 200)
    released = bikes.client.create_hold("ride-2", 1_000)
    payer.client.consent_hold(released["id"], PIN)
    bikes.client.void_hold(released["id"])
    thread.join(10)
    holds = [kind for kind in heard if kind.startswith("hold.")]
    assert holds == ["hold.held", "hold.captured", "hold.held", "hold.released"]


def test_a_mainland_number_typed_without_plus_86_is_the_same_login(server: Server) -> None:
    """People in China type 11 digits: the wallet keeps +86… and signs them in either way."""
    number = f"139{secrets.randbelow(10**8):08d}"
    payer = ConsumerClient(server.url)
    opened = payer.sign_up(number, PASSWORD, "张敏")
    assert opened["consumer"]["login"] == "+86" + number
    assert opened["verification"]["identifier"] == "+86" + number
    for typed in (
        number,
        f"+86 {number[:3]} {number[3:7]} {number[7:]}",
        f"{number[:3]}-{number[3:]}",
    ):
        signed_in = httpx.post(
            server.url + "/v1/sessions", json={"login": typed, "password": PASSWORD}
        )
        assert signed_in.status_code == 201, typed
        assert signed_in.json()["consumer"]["id"] == opened["consumer"]["id"]
    for wrong in ("12345678901", "1392993756", "hello"):
        with pytest.raises(SaomaError) as refused:
            ConsumerClient(server.url).sign_up(wrong, PASSWORD)
        assert refused.value.problem["field"] == "login"
