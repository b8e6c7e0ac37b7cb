"""Before sending money to a person: who gets it (masked), and the PIN always, over HTTP."""

from __future__ import annotations

import secrets

import pytest

from saoma.client import ConsumerClient, SaomaError
from support import PASSWORD, PIN, Server, new_consumer, verify_login


def zhang_min(server: Server) -> tuple[ConsumerClient, str, str]:
    """A wallet named 张敏 that has confirmed its phone: (client, id, phone)."""
    client = ConsumerClient(server.url)
    login = f"+86139{secrets.randbelow(10**8):08d}"
    body = client.sign_up(login, PASSWORD, "张敏")
    verify_login(server, client, login)
    return client, body["consumer"]["id"], login


def test_the_recipient_is_shown_masked_by_phone_or_wallet_id(server: Server) -> None:
    alice = new_consumer(server)
    _, min_id, min_phone = zhang_min(server)
    for typed in (min_phone, min_id, f"  {min_phone} "):
        found = alice.client.request("POST", "/v1/transfers/recipient", {"to": typed})
        # Only the masked name: neither the full name nor the wallet id behind a phone.
        assert found == {"to": typed.strip(), "name": "*敏"}
    # A name in Latin letters shows its last word.
    bob = new_consumer(server)
    assert alice.client.request("POST", "/v1/transfers/recipient", {"to": bob.id})["name"] == (
        "*Wei"
    )


def test_an_unknown_or_unconfirmed_recipient_is_a_404_naming_to(server: Server) -> None:
    alice = new_consumer(server)
    unconfirmed = new_consumer(server)  # signed up, never typed the code sent to the phone
    nobody = f"+86135{secrets.randbelow(10**8):08d}"
    for body, slug in (
        ({"to": nobody}, "not-found"),
        ({"to": unconfirmed.login}, "not-found"),
        ({"to": "c_000000000000"}, "not-found"),
        ({"to": "hello"}, "invalid-request"),
        ({"to": ""}, "invalid-request"),
        ({"to": alice.id}, "self-transfer"),
    ):
        with pytest.raises(SaomaError) as refused:
            alice.client.request("POST", "/v1/transfers/recipient", body)
        assert (refused.value.slug, refused.value.problem.get("field")) == (slug, "to"), body


def test_the_lookup_needs_a_signed_in_consumer(server: Server) -> None:
    _, min_id, _ = zhang_min(server)
    with pytest.raises(SaomaError) as refused:
        ConsumerClient(server.url).request("POST", "/v1/transfers/recipient", {"to": min_id})
    assert refused.value.slug == "unauthenticated"


def test_a_transfer_under_the_no_pin_limit_still_needs_the_pin(server: Server) -> None:
    alice = new_consumer(server, balance=5_000)
    bob = new_consumer(server)
    alice.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 2_000, "per_day": 10_000, "pin": PIN}
    )
    assert alice.client.me()["no_pin_limit"]["per_payment"] == 2_000
    for pin in (None, ""):
        body = {"to": bob.id, "amount": 100, "pin": pin}
        with pytest.raises(SaomaError) as refused:
            alice.client.request(
                "POST", "/v1/transfers", body, idempotency_key=secrets.token_hex(6)
            )
        assert refused.value.slug in ("pin-required", "pin-wrong"), pin
        assert refused.value.problem.get("field") == "pin"
    assert (alice.client.me()["balance"], bob.client.me()["balance"]) == (5_000, 0)
    sent = alice.client.request(
        "POST",
        "/v1/transfers",
        {"to": bob.id, "amount": 100, "pin": PIN},
        idempotency_key=secrets.token_hex(6),
    )
    assert sent["state"] == "done"
    assert (alice.client.me()["balance"], bob.client.me()["balance"]) == (4_900, 100)
