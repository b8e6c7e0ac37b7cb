"""Over HTTP, as any client would: money to people needs the PIN even under the no-PIN limit."""

from __future__ import annotations

import pytest

from saoma.client import SaomaError
from support import PIN, Server, new_consumer


def test_transfers_and_red_packets_without_the_pin_are_refused_under_the_limit(
    server: Server,
) -> None:
    alice = new_consumer(server, balance=10_000)
    bob = new_consumer(server)
    alice.client.request(
        "PUT", "/v1/me/no-pin-limit", {"per_payment": 1_000, "per_day": 1_500, "pin": PIN}
    )
    for path, body in (
        ("/v1/transfers", {"to": bob.id, "amount": 1_000}),
        ("/v1/red-packets", {"amount": 1_000, "shares": 2}),
    ):
        with pytest.raises(SaomaError) as refused:
            alice.client.request("POST", path, body, idempotency_key=f"no-pin-{path[4:]}")
        assert (refused.value.status, refused.value.slug) == (401, "pin-required"), path
        assert refused.value.problem["field"] == "pin"
    assert (alice.client.me()["balance"], bob.client.me()["balance"]) == (10_000, 0)

    sent = alice.client.send_money(bob.id, 1_000, PIN, note="lunch")
    packet = alice.client.create_red_packet(1_000, 2, PIN, greeting="恭喜发财")
    assert (sent["state"], packet["state"]) == ("done", "open")
    assert (alice.client.me()["balance"], bob.client.me()["balance"]) == (8_000, 1_000)
    assert alice.client.request("GET", "/v1/me/payments")["data"] == []  # nothing else moved
