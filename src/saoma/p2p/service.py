"""Money between people: transfers, money waiting for a phone or e-mail's owner, red packets.

``People`` is the one door the API, the pages and the platform's maintenance use; the features
live in :mod:`saoma.p2p.transfers`, :mod:`saoma.p2p.waiting` and :mod:`saoma.p2p.red_packets`.
Every movement goes through :meth:`saoma.movements.Movements.move` like every other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from saoma.ledger import Account, AccountFlags, AccountKind
from saoma.p2p.consent import SendingLimit
from saoma.p2p.lookups import LookupLimit
from saoma.p2p.red_packets import PACKET_AMOUNT_MAX, PACKET_SHARES_MAX, RedPackets, packet_view
from saoma.p2p.transfers import TRANSFER_STATES, WAIT_US, Transfers, transfer_view
from saoma.p2p.waiting import Waiting
from saoma.pagination import PAGE_LIMIT_MAX
from saoma.payments import idempotency
from saoma.payments.service import Payments
from saoma.wallets.service import Consumer, Wallets

__all__ = [
    "DAILY_LIMIT",
    "PACKET_AMOUNT_MAX",
    "PACKET_SHARES_MAX",
    "TRANSFER_STATES",
    "WAIT_US",
    "People",
    "escrow_account_id",
    "packet_view",
    "transfer_view",
]

DAILY_LIMIT = 2_000_000  # ¥20,000 a day (in SAOMA_TIMEZONE) sent to people, transfers and packets


def escrow_account_id(payments: Payments) -> int:
    """Where money for someone without a wallet yet waits: slot 3 of the platform's accounts."""
    return payments.fees_account + 2


def _daily_limit() -> int:
    return DAILY_LIMIT  # read at each use: the limit in force is this module's value now


class People:
    def __init__(self, engine: Engine, payments: Payments, wallets: Wallets) -> None:
        self.engine = engine
        self.payments = payments
        self.wallets = wallets
        self.ledger = payments.ledger
        self.escrow = escrow_account_id(payments)
        self.limit = SendingLimit(engine, wallets, _daily_limit)
        self.transfers = Transfers(engine, payments, wallets, self.limit, self.escrow)
        self.waiting = Waiting(engine, payments, wallets, self.escrow)
        self.red_packets = RedPackets(engine, payments, wallets, self.limit)
        self.lookups = LookupLimit(engine)

    def ensure_accounts(self) -> None:
        self.ledger.create_accounts(
            [
                Account(
                    self.escrow,
                    self.payments.currency,
                    AccountKind.SUSPENSE,
                    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                )
            ]
        )

    # --- transfers -------------------------------------------------------------------------------

    def send(
        self,
        sender: Consumer,
        *,
        to: str,
        amount: int,
        note: str = "",
        pin: str | None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Pay a friend by wallet id, phone or e-mail; to someone without a wallet it waits."""
        return self.transfers.send(sender, to=to, amount=amount, note=note, pin=pin, claim=claim)

    def recipient_preview(self, sender: Consumer, to: str) -> dict[str, Any]:
        """The masked name of whoever would get money sent to ``to`` (404 naming ``to`` if
        nobody has confirmed that phone or e-mail in a wallet yet). Lookups are counted per
        sender, found or not: beyond the limit they are refused (429) before anything is read."""
        self.lookups.take(sender.id)
        return self.transfers.preview(sender, to)

    transfer_view = staticmethod(transfer_view)

    def transfers_of(
        self,
        consumer: Consumer,
        *,
        cursor: str | None = None,
        limit: int = PAGE_LIMIT_MAX,
        direction: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of the money the consumer sent to people and received from them, newest first."""
        return self.transfers.transfers_of(
            consumer, cursor=cursor, limit=limit, direction=direction, state=state
        )

    # --- waiting money ---------------------------------------------------------------------------

    def claim_waiting(self, consumer: Consumer, identifier: str | None = None) -> int:
        """Money sent to a phone or e-mail before its owner proved it arrives now, once."""
        return self.waiting.claim_waiting(consumer, identifier)

    def deliver_verified(self) -> int:
        return self.waiting.deliver_verified()

    def return_unclaimed(self) -> int:
        return self.waiting.return_unclaimed()

    # --- red packets -----------------------------------------------------------------------------

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
        return self.red_packets.create_packet(
            sender,
            amount=amount,
            shares=shares,
            mode=mode,
            greeting=greeting,
            pin=pin,
            claim=claim,
        )

    def packet(self, packet_id: str, viewer: Consumer | None = None) -> dict[str, Any]:
        """The packet as anyone with its link sees it: who got how much, and the luckiest."""
        return self.red_packets.packet(packet_id, viewer)

    def claim_packet(self, consumer: Consumer, packet_id: str) -> dict[str, Any]:
        """Take one share: at most one per person, exactly ``shares`` in all, under any race."""
        return self.red_packets.claim_packet(consumer, packet_id)

    def settle_packets(self) -> int:
        """Finish claims a crash interrupted; send back what is left of packets past their day."""
        return self.red_packets.settle_packets()
