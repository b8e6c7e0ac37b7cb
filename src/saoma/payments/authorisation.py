"""Proof that no consumer wallet was debited without its owner's authorisation.

Every transfer that debits a consumer wallet must trace back to a consent by the payer:

- a payment (order, static code, payment code) recording the PIN or the no-PIN limit the payer set;
- a hold the payer consented to (the pending transfer), and the capture posting it;
- a withdrawal the payer confirmed with the PIN (a pending transfer, then its post);
- a transfer to another person or a red packet, confirmed with the PIN or the no-PIN limit.

Voids and expiries give money back and need no consent.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.ledger.domain import AccountKind, TransferCode, TransferFlags
from saoma.ledger.models import accounts, transfers
from saoma.p2p import models as p2p
from saoma.payments import models as m


def check_authorisations(engine: Engine) -> list[str]:
    """Every wallet debit that lacks its authorisation, as a sentence naming the transfer."""
    with engine.connect() as conn:
        debits = conn.execute(
            select(
                transfers.c.id,
                transfers.c.flags,
                transfers.c.code,
                transfers.c.pending_id,
                transfers.c.ref,
                transfers.c.debit_account_id,
            )
            .join(accounts, accounts.c.id == transfers.c.debit_account_id)
            .where(accounts.c.kind == AccountKind.CONSUMER_WALLET.value)
            .order_by(transfers.c.seq)
        ).all()
        paid = {
            r.transfer_id: r.authorisation
            for r in conn.execute(select(m.payments.c.transfer_id, m.payments.c.authorisation))
        }
        consented = {
            r.transfer_id: r.authorisation
            for r in conn.execute(
                select(m.hold_consents.c.transfer_id, m.hold_consents.c.authorisation)
            )
        }
        withdrawals = set(
            conn.execute(
                select(m.bank_transfers.c.id).where(m.bank_transfers.c.direction == "withdraw")
            ).scalars()
        )
        sent = {
            r.transfer_id: r.authorisation
            for r in conn.execute(
                select(p2p.p2p_transfers.c.transfer_id, p2p.p2p_transfers.c.authorisation)
            )
        }
        sent.update(
            (r.transfer_id, r.authorisation)
            for r in conn.execute(
                select(p2p.red_packets.c.transfer_id, p2p.red_packets.c.authorisation)
            )
        )
        wallets = {
            r.account_id: r.id
            for r in conn.execute(select(m.consumers.c.account_id, m.consumers.c.id))
        }
    problems: list[str] = []
    authorised_pending: set[str] = set()
    for t in debits:
        if t.flags & TransferFlags.VOID_PENDING:
            continue
        if t.flags & TransferFlags.PENDING:
            if consented.get(t.id) or (t.code == TransferCode.WITHDRAWAL and t.ref in withdrawals):
                authorised_pending.add(t.id)
                continue
        elif t.flags & TransferFlags.POST_PENDING:
            if t.pending_id in authorised_pending:
                continue
        elif paid.get(t.id) or sent.get(t.id):
            continue
        owner = wallets.get(t.debit_account_id, f"account {t.debit_account_id}")
        problems.append(f"transfer {t.id!r} debits the wallet of {owner} with no authorisation")
    return problems
