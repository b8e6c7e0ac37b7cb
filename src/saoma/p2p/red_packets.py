"""Red packets: money split into shares that friends claim, at most one each, the rest returned.

The packet's money sits in a ledger account of its own that cannot go below zero. A claim first
reserves a share (a conditional update: exactly ``shares`` claims, one per person, under any
race), then moves it with an id derived from the share, so a crash between the two is finished
later by :meth:`RedPackets.settle_packets` without paying twice.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    CurrencyMismatch,
    InvalidRequest,
    PacketClosed,
    PacketEmpty,
    Refusal,
    not_found,
)
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read, write
from saoma.ledger import AccountKind, Result, Transfer, TransferCode
from saoma.merchants.service import check_text
from saoma.movements import Moved, Unit
from saoma.p2p import tables as m
from saoma.p2p.consent import SendingLimit
from saoma.p2p.rules import equal_shares, random_shares
from saoma.p2p.transfers import WAIT_US
from saoma.payments import idempotency
from saoma.payments.service import Payments, check_amount, derived_id
from saoma.wallets.service import Consumer, Wallets

log = logging.getLogger(__name__)
STRANDED_EVERY_S = 3600.0
STRANDED_WINDOW_US = 30 * 24 * 3600 * 1_000_000

PACKET_SHARES_MAX = 1_000
# What makes a red packet the same request as one made before under its Idempotency-Key.
SAME_PACKET = ("sender_id", "amount", "shares", "mode", "greeting")
PACKET_AMOUNT_MAX = 2_000_000
CLAIM_STUCK_US = 30 * 1_000_000  # a reserved share unpaid this long: its claim was interrupted


def packet_view(
    row: dict[str, Any], sender: Consumer, state: str, listed: list[dict[str, Any]]
) -> dict[str, Any]:
    done = state != "open" or len(listed) == row["shares"]
    luckiest = max(listed, key=lambda c: c["amount"])["name"] if done and listed else None
    return {
        "id": row["id"],
        "from": sender.display_name or "a friend",
        "greeting": row["greeting"],
        "amount": row["amount"],
        "currency": row["currency"],
        "shares": row["shares"],
        "mode": row["mode"],
        "claimed": len(listed),
        "state": state,
        "claims": listed,
        "luckiest": luckiest,
        "returned": row["returned"],
        "expires_at": rfc3339(row["expires_at_us"]),
        "link": f"/p/{row['id']}",
        "claim_url": f"/v1/red-packets/{row['id']}/claim",
    }


def check_packet(amount: int, shares: int, mode: str) -> int:
    amount = check_amount(amount)
    if amount > PACKET_AMOUNT_MAX:
        raise InvalidRequest(f"a red packet holds at most {PACKET_AMOUNT_MAX}", field="amount")
    if isinstance(shares, bool) or not 1 <= shares <= PACKET_SHARES_MAX:
        raise InvalidRequest(f"shares must be between 1 and {PACKET_SHARES_MAX}", field="shares")
    if amount < shares:
        raise InvalidRequest("every share needs at least 0.01: raise the amount", field="amount")
    if mode not in ("equal", "random"):
        raise InvalidRequest("mode is equal or random", field="mode")
    return amount


class RedPackets:
    def __init__(
        self, engine: Engine, payments: Payments, wallets: Wallets, limit: SendingLimit
    ) -> None:
        self.engine = engine
        self.payments = payments
        self.wallets = wallets
        self.limit = limit
        self.ledger = payments.ledger
        self._stranded_at = 0.0  # when to look for packets closed without their return next

    # --- making one ------------------------------------------------------------------------------

    def create_packet(
        self,
        sender: Consumer,
        *,
        amount: int,
        shares: int,
        mode: str = "random",
        greeting: str = "",
        pin: str | None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        amount = check_packet(amount, shares, mode)
        greeting = check_text("greeting", greeting, 64, required=False)
        authorisation = self.limit.consent(sender, amount, pin)
        account_id = self._open_packet_account()
        now = now_us()
        packet_id = new_id("rp")
        seed = claim.seed if claim else packet_id
        row = {
            "id": packet_id,
            "sender_id": sender.id,
            "account_id": account_id,
            "amount": amount,
            "currency": sender.currency,
            "shares": shares,
            "mode": mode,
            "greeting": greeting,
            "claimed": 0,
            "state": "open",
            "authorisation": authorisation,
            "transfer_id": derived_id("rpf", seed),
            "returned": 0,
            "expires_at_us": now + WAIT_US,
            "created_at_us": now,
        }
        split = equal_shares(amount, shares) if mode == "equal" else random_shares(amount, shares)
        return self._fund(sender, row, split, claim)

    def _fund(
        self,
        sender: Consumer,
        row: dict[str, Any],
        split: list[int],
        claim: idempotency.Claim | None,
    ) -> dict[str, Any]:
        fund = Transfer(
            row["transfer_id"],
            sender.account_id,
            row["account_id"],
            row["amount"],
            TransferCode.RED_PACKET,
            ref=row["id"],
        )

        def record(unit: Unit) -> None:
            self.limit.take(unit, sender, row["amount"])
            unit.insert(m.red_packets, row)
            for idx, share in enumerate(split, start=1):
                unit.insert(
                    m.red_packet_shares,
                    {"packet_id": row["id"], "idx": idx, "amount": share, "state": "free"},
                )
            # A replay answers what the first request did: the packet as it was just made.
            idempotency.finish_in(unit, claim, 201, packet_view(row, sender, "open", []))

        moved = self.payments.movements.move([fund], record)
        if isinstance(moved, Moved):
            return self.packet(row["id"], sender)
        # Made before under this key (asked again after the key was purged, the packet's id
        # and account are others, so the ledger finds other details under the key's id).
        if moved.results[0] in (Result.EXISTS, Result.EXISTS_WITH_DIFFERENT_FIELDS):
            with read(self.engine) as conn:
                stored = conn.execute(
                    select(m.red_packets).where(m.red_packets.c.transfer_id == row["transfer_id"])
                ).first()
            if stored is not None:
                idempotency.same_request(stored, row, SAME_PACKET)
                return self.packet(stored.id, sender)
        raise moved.problem()

    def _open_packet_account(self) -> int:
        return self.payments.ledger.open_account(self.payments.currency, AccountKind.RED_PACKET)

    # --- reading one -----------------------------------------------------------------------------

    def packet(self, packet_id: str, viewer: Consumer | None = None) -> dict[str, Any]:
        """The packet as anyone with its link sees it: who got how much, and the luckiest."""
        s = m.red_packet_shares.c
        with read(self.engine) as conn:
            row = conn.execute(select(m.red_packets).where(m.red_packets.c.id == packet_id)).first()
            if row is None:
                raise not_found("red packet", packet_id)
            claims = conn.execute(
                select(s.claimer_id, s.amount, s.claimed_at_us, s.state)
                .where(s.packet_id == packet_id, s.claimer_id.is_not(None))
                .order_by(s.idx)
            ).all()
        sender = self.wallets.get(row.sender_id)  # after the connection is back in the pool
        names = self.payments.queries.payer_names([c.claimer_id for c in claims])
        state = row.state
        if state == "open" and row.expires_at_us <= now_us():
            state = "expired"
        listed = [
            {
                "name": names.get(c.claimer_id, ""),
                "amount": c.amount,
                "claimed_at": rfc3339(c.claimed_at_us or 0),
                "mine": viewer is not None and c.claimer_id == viewer.id,
            }
            for c in claims
        ]
        return packet_view(dict(row._mapping), sender, state, listed)

    # --- claiming a share ------------------------------------------------------------------------

    def claim_packet(self, consumer: Consumer, packet_id: str) -> dict[str, Any]:
        """Take one share: at most one per person, exactly ``shares`` in all, under any race."""
        with read(self.engine) as conn:
            row = conn.execute(select(m.red_packets).where(m.red_packets.c.id == packet_id)).first()
            mine = conn.execute(
                select(m.red_packet_shares).where(
                    m.red_packet_shares.c.packet_id == packet_id,
                    m.red_packet_shares.c.claimer_id == consumer.id,
                )
            ).first()
        if row is None:
            raise not_found("red packet", packet_id)
        if row.currency != consumer.currency:
            raise CurrencyMismatch("this packet is in another currency")
        if mine is None:
            if row.state == "emptied" or row.claimed >= row.shares:
                raise PacketEmpty("too late: every share has been taken")
            if row.state != "open" or row.expires_at_us <= now_us():
                raise PacketClosed("this red packet has expired")
            mine = self._reserve(row, consumer)
        if mine.state != "paid":
            self._pay_share(row, mine, consumer)
        return {
            "packet_id": packet_id,
            "amount": mine.amount,
            "shares": row.shares,
            "greeting": row.greeting,
            "details_url": f"/v1/red-packets/{packet_id}",
        }

    def _reserve(self, row: Any, consumer: Consumer) -> Any:
        now = now_us()
        p, s = m.red_packets, m.red_packet_shares
        try:
            with write(self.engine) as conn:
                taken = conn.execute(
                    update(p)
                    .where(
                        p.c.id == row.id,
                        p.c.state == "open",
                        p.c.claimed < p.c.shares,
                        p.c.expires_at_us > now,
                    )
                    .values(claimed=p.c.claimed + 1)
                )
                if taken.rowcount != 1:
                    raise PacketEmpty("too late: every share has been taken")
                idx = conn.execute(select(p.c.claimed).where(p.c.id == row.id)).scalar_one()
                share = (s.c.packet_id == row.id) & (s.c.idx == idx)
                conn.execute(
                    update(s)
                    .where(share)
                    .values(claimer_id=consumer.id, state="claimed", claimed_at_us=now)
                )
                if idx == row.shares:
                    conn.execute(update(p).where(p.c.id == row.id).values(state="emptied"))
                return conn.execute(select(s).where(share)).one()
        except IntegrityError:  # the same person claiming twice at once: one claim stands
            with read(self.engine) as conn:
                return conn.execute(
                    select(s).where(s.c.packet_id == row.id, s.c.claimer_id == consumer.id)
                ).one()

    def _pay_share(self, row: Any, share: Any, consumer: Consumer) -> None:
        """Move a reserved share from the packet's account; idempotent, so a retry can finish it."""
        move = Transfer(
            derived_id("rpc", row.id, str(share.idx)),
            row.account_id,
            consumer.account_id,
            share.amount,
            TransferCode.RED_PACKET,
            ref=row.id,
        )
        now = now_us()

        def record(unit: Unit) -> None:
            unit.execute(
                "UPDATE red_packet_shares SET state = 'paid' WHERE packet_id = :p AND idx = :i",
                {"p": row.id, "i": share.idx},
            )
            unit.emit(
                "red_packet.claimed",
                subject=row.id,
                data={"packet_id": row.id, "amount": share.amount},
                at_us=now,
                consumer_id=consumer.id,
            )

        moved = self.payments.movements.move([move], record)
        if isinstance(moved, Moved):
            return
        if moved.results[0] is not Result.EXISTS:
            raise moved.problem()
        # Paid before, by a claim a crash interrupted after the money moved: mark it so.
        s = m.red_packet_shares.c
        with write(self.engine) as conn:
            conn.execute(
                update(m.red_packet_shares)
                .where(s.packet_id == row.id, s.idx == share.idx)
                .values(state="paid")
            )

    # --- maintenance -----------------------------------------------------------------------------

    def settle_packets(self) -> int:
        """Finish claims a crash interrupted; send back what is left of packets past their day."""
        now = now_us()
        with read(self.engine) as conn:
            stuck = conn.execute(
                select(m.red_packet_shares, m.red_packets)
                .join(m.red_packets, m.red_packets.c.id == m.red_packet_shares.c.packet_id)
                .where(m.red_packet_shares.c.state == "claimed")
            ).all()
            packets = m.red_packets.c
            due = list(
                conn.execute(
                    select(m.red_packets).where(
                        packets.state == "open", packets.expires_at_us <= now
                    )
                ).all()
            )
            if time.monotonic() >= self._stranded_at:  # at the first pass, then hourly
                self._stranded_at = time.monotonic() + STRANDED_EVERY_S
                # Marked expired by a commit of its own, as a packet once was, with a share
                # never claimed: its return is still owed. A range of the index on (state,
                # expiry), not every packet that ever expired.
                due += conn.execute(
                    select(m.red_packets).where(
                        packets.state == "expired",
                        packets.expires_at_us > now - STRANDED_WINDOW_US,
                        packets.returned == 0,
                        packets.claimed < packets.shares,
                    )
                ).all()
        for s in stuck:
            if s.claimed_at_us is not None and s.claimed_at_us < now - CLAIM_STUCK_US:
                self._pay_share(s, s, self.wallets.get(s.claimer_id))
        for row in due:
            self._expire_packet(row)
        return len(due)

    def _expire_packet(self, row: Any) -> None:
        """Close a packet past its day and send its shares nobody claimed back to the sender, in
        one commit: if anything stops it, the packet stays open and the next pass does it.

        What goes back is the shares after the last one reserved, never the account's balance:
        a share reserved but not yet paid is its claimer's. The commit re-checks that no share
        was reserved since it was read (a claim's reservation also needs the packet open and
        not past its day, so after expiry only a clock running behind could make one)."""
        s = m.red_packet_shares.c
        claimed = row.claimed  # as the due packets were read: the commit checks it still is
        with read(self.engine) as conn:
            left = conn.execute(
                select(func.coalesce(func.sum(s.amount), 0)).where(
                    s.packet_id == row.id, s.idx > claimed
                )
            ).scalar_one()
        close = {"left": int(left), "id": row.id, "claimed": claimed}

        def record(unit: Unit) -> None:
            closed = unit.execute(
                "UPDATE red_packets SET state = 'expired', returned = :left"
                " WHERE id = :id AND claimed = :claimed"
                " AND (state = 'open' OR (state = 'expired' AND returned = 0))",
                close,
            )
            if closed.rowcount != 1:
                raise PacketChanged(row.id)

        if not left:  # every share reserved: the last reservation marked it emptied
            return
        try:
            back = Transfer(
                derived_id("rpr", row.id),
                row.account_id,
                self.wallets.get(row.sender_id).account_id,
                int(left),
                TransferCode.RED_PACKET,
                ref=row.id,
            )
            moved = self.payments.movements.move([back], record)
        except PacketChanged:  # reserved or closed meanwhile: the next pass reads it again
            return
        if not isinstance(moved, Moved) and moved.results[0] is not Result.EXISTS:
            log.warning("the rest of red packet %s could not go back yet: %s", row.id, moved)


class PacketChanged(Refusal):
    """A packet being closed was changed meanwhile (a share reserved, or closed by another
    process): nothing is moved."""
