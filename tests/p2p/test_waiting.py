"""Money sent to a phone nobody has proven: it waits in escrow, reaches the owner who proves the
phone, or goes back to the sender after a day — once, whichever comes first."""

from __future__ import annotations

import re

from sqlalchemy import text, update

from p2p.conftest import PASSWORD, PIN, balance, outbox_ids, wallet
from saoma.bootstrap import Platform
from saoma.core.ids import now_us
from saoma.db import write
from saoma.p2p import tables as m

PHONE = "+8613977778888"


def verify(p: Platform, consumer_id: str, phone: str) -> None:
    p.identifiers.send_code(consumer_id, phone)
    (message,) = p.messenger.recent(to=phone, limit=1)
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found
    p.identifiers.verify(consumer_id, phone, found.group(1))


def escrow(p: Platform) -> int:
    account = p.ledger.account(p.people.escrow)
    return account.balance if account else 0


def test_money_for_an_unproven_phone_waits_then_reaches_its_owner(platform: Platform) -> None:
    p = platform
    alice = wallet(p, 5_000)
    owner = p.wallets.sign_up(PHONE, PASSWORD)  # claims the phone, has not proven it
    sent = p.people.send(alice, to=PHONE, amount=1_500, pin=PIN)
    assert (sent["state"], sent["recipient_id"]) == ("waiting", None) and "returns_at" in sent
    assert (balance(p, alice), escrow(p)) == (3_500, 1_500)
    assert p.people.claim_waiting(owner, PHONE) == 0  # not proven yet: nothing arrives
    verify(p, owner.id, PHONE)  # the platform delivers on verification
    assert (balance(p, owner), escrow(p)) == (1_500, 0)
    assert p.people.claim_waiting(owner, PHONE) == 0 and p.people.deliver_verified() == 0
    (seen,) = p.people.transfers_of(alice)["data"]
    assert seen["state"] == "claimed"
    assert len(outbox_ids(p, sent["id"])) == 2  # transfer.sent, transfer.claimed


def test_money_nobody_claims_goes_back_after_its_day(platform: Platform) -> None:
    p = platform
    alice = wallet(p, 5_000)
    sent = p.people.send(alice, to=PHONE, amount=800, pin=PIN)
    assert p.people.return_unclaimed() == 0  # not due yet
    with write(p.engine) as conn:
        conn.execute(
            update(m.p2p_transfers)
            .where(m.p2p_transfers.c.id == sent["id"])
            .values(expires_at_us=now_us() - 1)
        )
    assert p.people.return_unclaimed() == 1
    assert p.people.return_unclaimed() == 0
    assert (balance(p, alice), escrow(p)) == (5_000, 0)
    (seen,) = p.people.transfers_of(alice, state="returned")["data"]
    assert seen["id"] == sent["id"]
    late = p.wallets.sign_up(PHONE, PASSWORD)
    verify(p, late.id, PHONE)  # proven after the money went back: nothing arrives
    assert balance(p, late) == 0


def test_money_for_a_proven_phone_arrives_at_once(platform: Platform) -> None:
    p = platform
    alice, owner = wallet(p, 5_000), wallet(p)
    verify(p, owner.id, owner.login)
    sent = p.people.send(alice, to=owner.login, amount=300, pin=PIN)
    assert (sent["state"], sent["recipient_id"]) == ("done", owner.id)
    assert balance(p, owner) == 300


def test_money_sent_again_under_its_purged_key_after_its_owner_claimed_it_moves_once(
    platform: Platform,
) -> None:
    """The sender's request, sent again under its Idempotency-Key two days on (the key purged),
    after the phone's owner proved it and took the money: answered with the first transfer,
    though the phone now names a wallet; another amount under the key is refused."""
    from saoma.core.errors import IdempotencyKeyReused
    from saoma.payments import idempotency

    p = platform
    alice = wallet(p, 5_000)
    owner = p.wallets.sign_up(PHONE, PASSWORD)

    def send(amount: int) -> dict[str, object]:
        with write(p.engine) as conn:  # the key purged, as two days on
            conn.execute(text("DELETE FROM idempotency_keys WHERE key = 'k-phone'"))
        claim = idempotency.begin(p.engine, alice.id, "k-phone", f"request for {amount}")
        assert isinstance(claim, idempotency.Claim)
        return p.people.send(alice, to=PHONE, amount=amount, pin=PIN, claim=claim)

    sent = send(1_500)
    verify(p, owner.id, PHONE)
    assert (balance(p, alice), balance(p, owner)) == (3_500, 1_500)
    again = send(1_500)
    assert (again["id"], again["state"]) == (sent["id"], "claimed")
    try:
        send(1_600)
        raise AssertionError("another amount under the key was sent")
    except IdempotencyKeyReused:
        pass
    assert (balance(p, alice), balance(p, owner), escrow(p)) == (3_500, 1_500, 0)
