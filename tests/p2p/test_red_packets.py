"""Red packets through the service, in process: shares add up, each person claims once, the
packet closes when empty or past its day, and what is left goes back to the sender once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import update

from p2p.conftest import PIN, balance, outbox_ids, wallet
from saoma.bootstrap import Platform
from saoma.core.errors import DatabaseUnavailable, SaomaError
from saoma.core.ids import now_us
from saoma.db import write
from saoma.p2p import tables as m


def age(p: Platform, packet_id: str, **values: int) -> None:
    with write(p.engine) as conn:
        conn.execute(update(m.red_packets).where(m.red_packets.c.id == packet_id).values(**values))


def test_shares_add_up_each_person_claims_once_and_the_luckiest_is_named(
    platform: Platform,
) -> None:
    p = platform
    sender = wallet(p, 10_000)
    friends = [wallet(p) for _ in range(3)]
    packet = p.people.create_packet(sender, amount=1_000, shares=3, greeting="恭喜发财", pin=PIN)
    assert (packet["state"], packet["claimed"], packet["luckiest"]) == ("open", 0, None)
    assert balance(p, sender) == 9_000
    amounts = [p.people.claim_packet(f, packet["id"])["amount"] for f in friends]
    again = p.people.claim_packet(friends[0], packet["id"])  # a second claim: the same share
    assert again["amount"] == amounts[0]
    assert sum(amounts) == 1_000 and all(a >= 1 for a in amounts)
    assert [balance(p, f) for f in friends] == amounts
    seen = p.people.packet(packet["id"], friends[1])
    assert (seen["state"], seen["claimed"], seen["greeting"]) == ("emptied", 3, "恭喜发财")
    assert [c["mine"] for c in seen["claims"]] == [False, True, False]
    assert seen["luckiest"] == "Li Wei"
    late = wallet(p)
    with pytest.raises(SaomaError) as refused:
        p.people.claim_packet(late, packet["id"])
    assert refused.value.slug == "packet-empty"
    assert len(outbox_ids(p, packet["id"])) == 3  # one red_packet.claimed per share


def test_what_is_left_of_an_expired_packet_goes_back_once(platform: Platform) -> None:
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    packet = p.people.create_packet(sender, amount=900, shares=3, mode="equal", pin=PIN)
    assert p.people.claim_packet(friend, packet["id"])["amount"] == 300
    assert p.people.settle_packets() == 0  # not due yet
    age(p, packet["id"], expires_at_us=now_us() - 1)
    assert p.people.packet(packet["id"])["state"] == "expired"
    with pytest.raises(SaomaError) as refused:
        p.people.claim_packet(wallet(p), packet["id"])
    assert refused.value.slug == "packet-closed"
    assert p.people.settle_packets() == 1
    assert p.people.settle_packets() == 0
    assert balance(p, sender) == 10_000 - 300
    assert p.people.packet(packet["id"])["returned"] == 600


def test_a_claim_interrupted_after_its_reservation_is_paid_once_later(platform: Platform) -> None:
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    packet = p.people.create_packet(sender, amount=500, shares=1, pin=PIN)
    packets = p.people.red_packets  # reserve as a claim does, then stop before the money moves
    with p.engine.connect() as conn:
        packet_row = conn.execute(
            m.red_packets.select().where(m.red_packets.c.id == packet["id"])
        ).one()
    share = packets._reserve(packet_row, friend)
    assert share.state == "claimed" and balance(p, friend) == 0
    with write(p.engine) as conn:
        conn.execute(
            update(m.red_packet_shares)
            .where(m.red_packet_shares.c.packet_id == packet["id"])
            .values(claimed_at_us=now_us() - 60 * 1_000_000)
        )
    p.people.settle_packets()
    p.people.settle_packets()
    assert balance(p, friend) == 500
    assert p.people.claim_packet(friend, packet["id"])["amount"] == 500
    assert balance(p, friend) == 500


def test_packet_refusals_name_the_field_and_move_nothing(platform: Platform) -> None:
    p = platform
    sender = wallet(p, 10_000)
    for kwargs, slug, field in (
        ({"amount": 100, "shares": 0}, "invalid-request", "shares"),
        ({"amount": 100, "shares": 1_001}, "invalid-request", "shares"),
        ({"amount": 100, "shares": True}, "invalid-request", "shares"),
        ({"amount": 5, "shares": 6}, "invalid-request", "amount"),
        ({"amount": 2_000_001, "shares": 2}, "invalid-request", "amount"),
        ({"amount": 100, "shares": 2, "mode": "lucky"}, "invalid-request", "mode"),
        ({"amount": 100, "shares": 2, "greeting": "x" * 65}, "invalid-request", "greeting"),
        ({"amount": 100, "shares": 2, "pin": None}, "pin-required", "pin"),
        ({"amount": 10_001, "shares": 2}, "insufficient-funds", "amount"),
    ):
        with pytest.raises(SaomaError) as refused:
            p.people.create_packet(sender, **{"pin": PIN, **kwargs})  # type: ignore[arg-type]
        assert (refused.value.slug, refused.value.field) == (slug, field), kwargs
    assert balance(p, sender) == 10_000
    with pytest.raises(SaomaError) as refused:
        p.people.packet("rp_nothing")
    assert refused.value.slug == "not-found"
    with pytest.raises(SaomaError) as refused:
        p.people.claim_packet(sender, "rp_nothing")
    assert refused.value.slug == "not-found"


def _packet_row(p: Platform, packet_id: str) -> Any:
    with p.engine.connect() as conn:
        return conn.execute(m.red_packets.select().where(m.red_packets.c.id == packet_id)).one()


def test_the_rest_goes_back_in_the_commit_that_closes_the_packet(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A return that fails (the database lost) leaves the packet open, so the next pass sends
    the rest back; it is never closed with its money left in it."""
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    packet = p.people.create_packet(sender, amount=900, shares=3, mode="equal", pin=PIN)
    p.people.claim_packet(friend, packet["id"])
    age(p, packet["id"], expires_at_us=now_us() - 1)
    movements = p.payments.movements

    def lost(*_: Any, **__: Any) -> Any:
        raise DatabaseUnavailable("the database is not reachable")

    monkeypatch.setattr(movements, "move", lost)
    with pytest.raises(DatabaseUnavailable):
        p.people.settle_packets()
    row = _packet_row(p, packet["id"])
    assert (row.state, row.returned) == ("open", 0)
    assert balance(p, sender) == 9_100
    monkeypatch.undo()
    assert p.people.settle_packets() == 1
    assert balance(p, sender) == 9_700
    assert p.people.packet(packet["id"])["returned"] == 600
    assert p.people.settle_packets() == 0
    assert p.ledger.account(row.account_id).balance == 0  # type: ignore[union-attr]


def test_a_share_reserved_while_the_packet_closes_stays_its_claimers(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reservation between the closing pass's read and its commit (a claim on a server whose
    clock runs behind): the commit sees it and moves nothing; the next pass returns only the
    shares nobody reserved, and the claimer is paid."""
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    packet = p.people.create_packet(sender, amount=900, shares=3, mode="equal", pin=PIN)
    age(p, packet["id"], expires_at_us=now_us() - 1)
    movements = p.payments.movements
    move = movements.move

    def reserved_first(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(movements, "move", move)
        age(p, packet["id"], claimed=1)
        with write(p.engine) as conn:
            conn.execute(
                update(m.red_packet_shares)
                .where(m.red_packet_shares.c.packet_id == packet["id"])
                .where(m.red_packet_shares.c.idx == 1)
                .values(claimer_id=friend.id, state="claimed", claimed_at_us=now_us())
            )
        return move(*args, **kwargs)

    monkeypatch.setattr(movements, "move", reserved_first)
    p.people.settle_packets()
    row = _packet_row(p, packet["id"])
    assert (row.state, row.returned, row.claimed) == ("open", 0, 1)
    assert balance(p, sender) == 9_100
    assert p.people.settle_packets() == 1
    assert balance(p, sender) == 9_700
    assert p.people.claim_packet(friend, packet["id"])["amount"] == 300
    assert balance(p, friend) == 300
    assert p.ledger.account(row.account_id).balance == 0  # type: ignore[union-attr]


def test_a_packet_closed_without_its_return_gets_it(platform: Platform) -> None:
    """A packet marked expired by a commit of its own, with nothing sent back (as a crash
    between the two commits once left it): the next pass sends its unclaimed shares back."""
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    packet = p.people.create_packet(sender, amount=900, shares=3, mode="equal", pin=PIN)
    p.people.claim_packet(friend, packet["id"])
    age(p, packet["id"], expires_at_us=now_us() - 1)
    with write(p.engine) as conn:
        conn.execute(
            update(m.red_packets).where(m.red_packets.c.id == packet["id"]).values(state="expired")
        )
    assert p.people.settle_packets() == 1
    assert balance(p, sender) == 9_700
    assert p.people.packet(packet["id"])["returned"] == 600
    assert p.people.settle_packets() == 0


def test_fifty_passes_at_once_send_the_rest_back_once(platform: Platform) -> None:
    p = platform
    sender, friend = wallet(p, 10_000), wallet(p)
    packet = p.people.create_packet(sender, amount=900, shares=3, mode="equal", pin=PIN)
    p.people.claim_packet(friend, packet["id"])
    age(p, packet["id"], expires_at_us=now_us() - 1)
    with ThreadPoolExecutor(50) as pool:
        list(pool.map(lambda _: p.people.settle_packets(), range(50)))
    assert balance(p, sender) == 9_700 and balance(p, friend) == 300
    row = _packet_row(p, packet["id"])
    assert (row.state, row.returned) == ("expired", 600)
    assert p.ledger.account(row.account_id).balance == 0  # type: ignore[union-attr]
