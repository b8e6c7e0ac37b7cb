"""Transfers between wallets through the service, in process: the main path, the pages
of each side and every refusal leaving both wallets as they were."""

from __future__ import annotations

import pytest

from p2p.conftest import PIN, balance, outbox_ids, wallet
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError


def test_a_transfer_moves_the_money_and_tells_both_sides(platform: Platform) -> None:
    p = platform
    alice, bob = wallet(p, 5_000), wallet(p)
    sent = p.people.send(alice, to=bob.id, amount=1_200, note="dumplings", pin=PIN)
    assert (sent["state"], sent["direction"], sent["note"]) == ("done", "out", "dumplings")
    assert (balance(p, alice), balance(p, bob)) == (3_800, 1_200)
    (received,) = p.people.transfers_of(bob)["data"]
    assert (received["id"], received["direction"], received["amount"]) == (sent["id"], "in", 1_200)
    assert len(outbox_ids(p, sent["id"])) == 2  # transfer.sent and transfer.received


def test_the_pages_filter_by_direction_and_state_newest_first(platform: Platform) -> None:
    p = platform
    alice, bob = wallet(p, 10_000), wallet(p, 10_000)
    ids = [p.people.send(alice, to=bob.id, amount=100 + i, pin=PIN)["id"] for i in range(3)]
    back = p.people.send(bob, to=alice.id, amount=50, pin=PIN)["id"]
    waiting = p.people.send(alice, to="+8613955556666", amount=10, pin=PIN)["id"]
    everything = p.people.transfers_of(alice)["data"]
    assert [t["id"] for t in everything] == [waiting, back, *reversed(ids)]
    outgoing = p.people.transfers_of(alice, direction="out", state="done")["data"]
    assert [t["id"] for t in outgoing] == list(reversed(ids))
    first = p.people.transfers_of(alice, limit=2)
    assert [t["id"] for t in first["data"]] == [waiting, back]
    rest = p.people.transfers_of(alice, limit=2, cursor=first["next_cursor"])
    assert [t["id"] for t in rest["data"]] == [ids[2], ids[1]]
    with pytest.raises(SaomaError) as refused:
        p.people.transfers_of(alice, direction="sideways")
    assert refused.value.slug == "invalid-request"


REFUSALS = [
    ("self", 100, PIN, "", "self-transfer"),
    ("bob", 100, None, "", "pin-required"),
    ("bob", 100, "000000", "", "pin-wrong"),
    ("bob", 5_001, PIN, "", "insufficient-funds"),
    ("bob", 0, PIN, "", "invalid-request"),
    ("bob", True, PIN, "", "invalid-request"),
    ("bob", 100, PIN, "x" * 129, "invalid-request"),
    ("", 100, PIN, "", "invalid-request"),
    ("not a phone", 100, PIN, "", "invalid-request"),
    ("c_nobody", 100, PIN, "", "not-found"),
    ("bob", 2_000_001, PIN, "", "daily-limit"),
]


def test_refusals_name_the_reason_and_move_nothing(platform: Platform) -> None:
    p = platform
    alice, bob = wallet(p, 5_000), wallet(p)
    for to, amount, pin, note, slug in REFUSALS:
        target = {"self": alice.id, "bob": bob.id}.get(to, to)
        with pytest.raises(SaomaError) as refused:
            p.people.send(alice, to=target, amount=amount, note=note, pin=pin)  # type: ignore[arg-type]
        assert refused.value.slug == slug, (to, amount, pin, note)
    assert (balance(p, alice), balance(p, bob)) == (5_000, 0)
    assert p.people.transfers_of(alice)["data"] == []


def test_the_daily_limit_counts_what_was_sent_today(platform: Platform) -> None:
    p = platform
    alice, bob = wallet(p, 3_000_000), wallet(p)
    p.people.send(alice, to=bob.id, amount=1_500_000, pin=PIN)
    with pytest.raises(SaomaError) as refused:
        p.people.send(alice, to=bob.id, amount=600_000, pin=PIN)
    assert refused.value.slug == "daily-limit"
    p.people.send(alice, to=bob.id, amount=500_000, pin=PIN)
    assert balance(p, bob) == 2_000_000
