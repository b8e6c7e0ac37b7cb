"""Money sent to a phone or e-mail without a proven owner: it waits, then arrives or goes back.

Each waiting transfer is released by a conditional update with a derived ledger id, so a second
release (maintenance, a retry, a racing verification) moves nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import AlreadySettled
from saoma.core.ids import now_us
from saoma.db import read
from saoma.ledger import Transfer, TransferCode
from saoma.movements import Unit
from saoma.p2p import tables as m
from saoma.payments.service import Payments, derived_id
from saoma.wallets import tables as wm
from saoma.wallets.service import Consumer, Wallets


class Waiting:
    def __init__(self, engine: Engine, payments: Payments, wallets: Wallets, escrow: int) -> None:
        self.engine = engine
        self.payments = payments
        self.wallets = wallets
        self.escrow = escrow

    def claim_waiting(self, consumer: Consumer, identifier: str | None = None) -> int:
        """Money sent to a phone or e-mail before its owner proved it arrives now, once.

        Only for the wallet holding ``identifier`` verified: sent before the verification and
        not yet gone back.
        """
        identifier = identifier or consumer.login
        owner = self.wallets.verified_owner(identifier)
        if owner is None or owner.id != consumer.id:
            return 0
        with read(self.engine) as conn:
            waiting = conn.execute(
                select(m.p2p_transfers).where(
                    m.p2p_transfers.c.state == "waiting",
                    m.p2p_transfers.c.recipient_login == identifier,
                    m.p2p_transfers.c.expires_at_us > now_us(),
                )
            ).all()
        for row in waiting:
            self._release(row, to=owner, state="claimed")
        return len(waiting)

    def deliver_verified(self) -> int:
        """Maintenance: waiting money whose phone or e-mail was verified before it was due back
        (delivery right after a verification that a crash interrupted)."""
        identifiers = wm.identifiers
        with read(self.engine) as conn:
            due = conn.execute(
                select(m.p2p_transfers, identifiers.c.consumer_id.label("owner_id"))
                .join(identifiers, identifiers.c.value == m.p2p_transfers.c.recipient_login)
                .where(
                    m.p2p_transfers.c.state == "waiting",
                    identifiers.c.verified_at_us > 0,
                    identifiers.c.verified_at_us < m.p2p_transfers.c.expires_at_us,
                )
            ).all()
        for row in due:
            self._release(row, to=self.wallets.get(row.owner_id), state="claimed")
        return len(due)

    def return_unclaimed(self) -> int:
        """Maintenance: money nobody claimed within its day goes back to its sender."""
        with read(self.engine) as conn:
            due = conn.execute(
                select(m.p2p_transfers).where(
                    m.p2p_transfers.c.state == "waiting",
                    m.p2p_transfers.c.expires_at_us <= now_us(),
                )
            ).all()
        for row in due:
            self._release(row, to=self.wallets.get(row.sender_id), state="returned")
        return len(due)

    def _release(self, row: Any, *, to: Consumer, state: str) -> None:
        now = now_us()
        move = Transfer(
            derived_id("esc", row.id),
            self.escrow,
            to.account_id,
            row.amount,
            TransferCode.TRANSFER,
            ref=row.id,
        )

        def record(unit: Unit) -> None:
            done = unit.execute(
                "UPDATE p2p_transfers SET state = :state, recipient_id = :rid"
                " WHERE id = :id AND state = 'waiting'",
                {"state": state, "rid": to.id if state == "claimed" else None, "id": row.id},
            )
            if done.rowcount != 1:
                raise AlreadySettled("the transfer was already settled")
            data = {"id": row.id, "amount": row.amount, "state": state}
            unit.emit(f"transfer.{state}", subject=row.id, data=data, at_us=now, consumer_id=to.id)

        # Refused (already released under this id): there is nothing left to do.
        self.payments.movements.move([move], record)
