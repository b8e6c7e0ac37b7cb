"""A transfer, a red packet and a claim in a batch the ledger retries request by request (its
commit lost, or another request of the batch refused): each is recorded once, and its events are
reported once — exactly the rows in the outbox."""

from __future__ import annotations

import pytest

from p2p.conftest import (
    PIN,
    RETRIES,
    balance,
    outbox_ids,
    report_events,
    retried,
    wallet,
)
from saoma.bootstrap import Platform


@pytest.mark.parametrize("way", RETRIES)
def test_a_transfer_in_a_retried_batch_reports_its_events_once(
    platform: Platform, way: str
) -> None:
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    reported = report_events(p)
    sent = retried(p, way, lambda: p.people.send(sender, to=friend.id, amount=1_000, pin=PIN))
    assert sent["state"] == "done"
    assert (balance(p, sender), balance(p, friend)) == (9_000, 1_000)
    assert sorted(reported) == outbox_ids(p, sent["id"]) and len(reported) == 2
    listed = p.people.transfers_of(friend)["data"]
    assert [t["id"] for t in listed] == [sent["id"]]


@pytest.mark.parametrize("way", RETRIES)
def test_a_red_packet_and_its_claim_in_retried_batches_are_recorded_once(
    platform: Platform, way: str
) -> None:
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    reported = report_events(p)
    packet = retried(
        p, way, lambda: p.people.create_packet(sender, amount=600, shares=3, mode="equal", pin=PIN)
    )
    assert balance(p, sender) == 9_400
    claimed = retried(p, way, lambda: p.people.claim_packet(friend, packet["id"]))
    assert claimed["amount"] == 200 and balance(p, friend) == 200
    assert sorted(reported) == outbox_ids(p, packet["id"]) and len(reported) == 1
    assert p.people.packet(packet["id"], friend)["claimed"] == 1
