"""Money sent to people has a daily limit, counted on the wallet inside the transfer's own
transaction: fifty transfers and red packets at once never send more than it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from consent.conftest import PIN, wallet
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.p2p import service as p2p

RACERS = 50


def test_fifty_transfers_and_packets_at_once_send_exactly_the_daily_limit(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(p2p, "DAILY_LIMIT", 12_000)  # twelve of 1,000 today
    p = platform
    sender = wallet(p, 100_000)
    friend = wallet(p, 0)
    start = threading.Barrier(RACERS)

    def send(i: int) -> str:
        start.wait()
        try:
            if i % 5:
                p.people.send(sender, to=friend.id, amount=1_000, pin=PIN)
            else:
                p.people.create_packet(sender, amount=1_000, shares=1, pin=PIN)
        except SaomaError as refused:
            return refused.slug
        return "sent"

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(send, range(RACERS)))
    assert outcomes.count("sent") == 12, outcomes
    assert outcomes.count("daily-limit") == RACERS - 12
    assert p.wallets.balance(sender)["balance"] == 100_000 - 12_000
    with pytest.raises(SaomaError) as over:
        p.people.send(sender, to=friend.id, amount=1, pin=PIN)
    assert (over.value.slug, over.value.field) == ("daily-limit", "amount")
