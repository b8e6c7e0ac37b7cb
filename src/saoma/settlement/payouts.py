"""Payouts: the bank instruction that pays a settlement, and everything the bank may answer.

- Paid: the hold from settlement clearing to the bank is posted; the settlement is ``paid``.
- Rejected (a frozen or closed account): the hold is voided and the money goes back to the
  merchant's account; the settlement is ``failed`` and is paid again, as a new attempt with a new
  instruction id, once the merchant's next bank account is verified.
- No answer: the instruction is sent again by the same id (the bank acts once per id); after
  ``BANK_TIMEOUT_US`` Saoma gives up as on a rejection, and a late "paid" is booked once (the money
  is taken from the merchant's account again and posted to the bank). A settlement given up on is
  not paid again on its own: the bank may still pay it, so it waits for that answer or a person.

Reserves held back by settlements are released here too, into the merchant's account, where the
next settlement takes them as a line.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from saoma.core.errors import AlreadySettled, Frozen
from saoma.core.ids import now_us, rfc3339
from saoma.db import read, write_one
from saoma.freezes.tables import frozen
from saoma.funding.bank import BankConnector, BankOutcome
from saoma.ledger import Result, Transfer, TransferCode, TransferFlags
from saoma.merchants import tables as merchant_tables
from saoma.merchants.service import Merchant
from saoma.movements import Refused, Unit
from saoma.payments.rows import derived_id
from saoma.settlement import tables as t
from saoma.settlement.service import Settlements, instruction_id, stl_ids
from saoma.settlement.views import settlement_view

log = logging.getLogger(__name__)

PAYOUT_PREFIX = "po_"
BANK_TIMEOUT_US = 10 * 60 * 1_000_000
RESEND_AFTER_US = 60 * 1_000_000
RESEND_CUTOFF_US = 2 * 60 * 1_000_000
GAVE_UP = "the bank did not answer in time"
STUCK = "still pending after the give-up: is the maintenance pass running?"
PAID_LATE_SHORT = "the bank paid after the give-up; the merchant's account could not cover it"


def needing_attention(engine: Engine, now: int | None = None) -> list[dict[str, Any]]:
    """Payouts only a person can settle, oldest first: given up on (the bank may still pay
    them; the settlement waits), paid after the give-up with the merchant unable to cover it,
    or pending past the give-up (the maintenance pass is not running)."""
    now = now_us() if now is None else now
    po = t.payouts.c
    with read(engine) as conn:
        rows = conn.execute(
            select(t.payouts, merchant_tables.merchants.c.login)
            .join(merchant_tables.merchants, merchant_tables.merchants.c.id == po.merchant_id)
            .where(
                ((po.state == "failed") & po.failure.in_((GAVE_UP, PAID_LATE_SHORT)))
                | ((po.state == "pending") & (po.created_at_us < now - BANK_TIMEOUT_US))
            )
            .order_by(po.created_at_us, po.id)
        ).all()
    return [
        {
            "id": row.id,
            "direction": "payout",
            "login": row.login,
            "amount": row.amount,
            "currency": row.currency,
            "state": row.state,
            "bank_reference": row.bank_reference,
            "why": row.failure if row.state == "failed" else STUCK,
            "updated_at": rfc3339(row.updated_at_us),
        }
        for row in rows
    ]


class Payouts:
    def __init__(self, engine: Engine, settlements: Settlements) -> None:
        self.engine = engine
        self.settlements = settlements
        self.movements = settlements.movements
        self.merchants = settlements.merchants
        self.bank: BankConnector | None = None
        settlements.on_moved = self._instruct

    def _instruct(
        self, unit: Unit, row: Any, merchant: Merchant, bank: Any, attempt: int, now: int
    ) -> None:
        """In a payout's commit: its instruction; sent to the bank after the commit."""
        iid = instruction_id(row.id, attempt)
        unit.insert(
            t.payouts,
            {
                "id": iid,
                "settlement_id": row.id,
                "merchant_id": merchant.id,
                "attempt": attempt,
                "amount": row.payout,
                "currency": row.currency,
                "bank_account_id": bank.id,
                "state": "pending",
                "bank_reference": "",
                "failure": "",
                "created_at_us": now,
                "updated_at_us": now,
                "request_id": unit.request_id,
            },
        )
        number, amount, currency = bank.account_number, row.payout, row.currency
        unit.after(lambda: self._send(iid, amount, currency, number))

    def _send(self, iid: str, amount: int, currency: str, number: str) -> None:
        assert self.bank is not None
        try:
            self.bank.pay_out(iid, amount, currency, number)
        except Exception:  # the bank unreachable: the resend pass tries again
            log.exception("could not send payout %s", iid)

    def _payout(self, iid: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(t.payouts).where(t.payouts.c.id == iid)).first()

    def _settlement(self, sid: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(t.settlements).where(t.settlements.c.id == sid)).first()

    # --- the bank's answers -----------------------------------------------------------------------

    def answered(self, outcome: BankOutcome) -> None:
        """The bank's answer to a payout (the connector calls this, maybe more than once)."""
        payout = self._payout(outcome.instruction_id)
        if payout is None:
            return
        if payout.state != "pending":
            if payout.state == "failed" and payout.failure == GAVE_UP and outcome.succeeded:
                self._paid_late(payout, outcome)
            return
        merchant = self.merchants.get(payout.merchant_id)
        _, hold = stl_ids(payout.settlement_id, payout.attempt)
        now = now_us()
        if outcome.succeeded:
            chain = [
                Transfer(
                    derived_id("pop", payout.id),
                    0,
                    0,
                    0,
                    TransferCode.PAYOUT,
                    TransferFlags.POST_PENDING,
                    hold,
                    ref=payout.id,
                )
            ]
            state, settlement_state = "succeeded", "paid"
        else:
            chain = [
                Transfer(
                    derived_id("pov", payout.id),
                    0,
                    0,
                    0,
                    TransferCode.PAYOUT,
                    TransferFlags.VOID_PENDING | TransferFlags.LINKED,
                    hold,
                    ref=payout.id,
                ),
                Transfer(
                    derived_id("por", payout.id),
                    self.settlements.clearing,
                    merchant.account_id,
                    payout.amount,
                    TransferCode.SETTLEMENT,
                    ref=payout.settlement_id,
                ),
            ]
            state, settlement_state = "failed", "failed"
        record = self._recorder(payout, merchant, outcome, state, settlement_state, now)
        moved = self.movements.move(chain, record)
        if isinstance(moved, Refused) and not all(r is Result.EXISTS for r in moved.results):
            raise moved.problem()

    def _recorder(
        self,
        payout: Any,
        merchant: Merchant,
        outcome: BankOutcome,
        state: str,
        settlement_state: str,
        now: int,
        *,
        from_state: str = "pending",
    ) -> Any:
        def record(unit: Unit) -> None:
            done = unit.execute(
                "UPDATE payouts SET state = :state, bank_reference = :ref, failure = :failure,"
                " updated_at_us = :now WHERE id = :id AND state = :from_state",
                {
                    "state": state,
                    "ref": outcome.bank_reference,
                    "failure": outcome.failure,
                    "now": now,
                    "id": payout.id,
                    "from_state": from_state,
                },
            )
            if done.rowcount != 1:
                raise AlreadySettled("the payout was already answered")
            unit.execute(
                "UPDATE settlements SET state = :state, bank_reference = :ref, failure = :failure,"
                " paid_at_us = :paid, updated_at_us = :now WHERE id = :id AND attempt = :attempt",
                {
                    "state": settlement_state,
                    "ref": outcome.bank_reference,
                    "failure": outcome.failure,
                    "paid": now if settlement_state == "paid" else None,
                    "now": now,
                    "id": payout.settlement_id,
                    "attempt": payout.attempt,
                },
            )
            cur = unit.execute(
                "SELECT * FROM settlements WHERE id = :id", {"id": payout.settlement_id}
            )
            row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
            unit.emit(
                f"settlement.{settlement_state}",
                subject=payout.settlement_id,
                data=settlement_view(row),
                at_us=now,
                merchant_id=merchant.id,
                url=merchant.webhook_url,
            )

        return record

    def _paid_late(self, payout: Any, outcome: BankOutcome) -> None:
        """The bank paid after Saoma gave up and returned the money to the merchant: the money
        is taken again and posted to the bank, once; if the merchant no longer holds it, the
        payout keeps its failure for a person to settle."""
        merchant = self.merchants.get(payout.merchant_id)
        now = now_us()
        chain = [
            Transfer(
                derived_id("stll", payout.id),
                merchant.account_id,
                self.settlements.clearing,
                payout.amount,
                TransferCode.SETTLEMENT,
                TransferFlags.LINKED,
                ref=payout.settlement_id,
            ),
            Transfer(
                derived_id("pol", payout.id),
                self.settlements.clearing,
                self.settlements.bank_account,
                payout.amount,
                TransferCode.PAYOUT,
                ref=payout.id,
            ),
        ]
        late = BankOutcome(outcome.instruction_id, True, outcome.bank_reference, "")
        record = self._recorder(
            payout, merchant, late, "succeeded", "paid", now, from_state="failed"
        )
        moved = self.movements.move(chain, record, booked=True)  # a freeze cannot undo it
        if isinstance(moved, Refused) and not all(r is Result.EXISTS for r in moved.results):
            log.error(
                "payout %s paid after the give-up; merchant %s cannot cover it",
                payout.id,
                merchant.id,
            )
            with write_one(self.engine) as conn:
                conn.execute(
                    update(t.payouts)
                    .where(t.payouts.c.id == payout.id, t.payouts.c.state == "failed")
                    .values(
                        failure=PAID_LATE_SHORT,
                        bank_reference=outcome.bank_reference,
                        updated_at_us=now,
                    )
                )

    # --- passes ---------------------------------------------------------------------------------

    def resend_pending(self, older_than_us: int = RESEND_AFTER_US) -> int:
        """Send again what the bank has not answered (by the same id), one process each."""
        now = now_us()
        po = t.payouts.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.payouts, t.merchant_bank_accounts.c.account_number)
                .join(t.merchant_bank_accounts, t.merchant_bank_accounts.c.id == po.bank_account_id)
                .where(
                    po.state == "pending",
                    po.updated_at_us <= now - older_than_us,
                    po.created_at_us > now - BANK_TIMEOUT_US + RESEND_CUTOFF_US,
                )
            ).all()
        sent = 0
        for row in rows:
            with write_one(self.engine) as conn:
                taken = conn.execute(
                    update(t.payouts)
                    .where(
                        po.id == row.id,
                        po.state == "pending",
                        po.updated_at_us == row.updated_at_us,
                    )
                    .values(updated_at_us=now)
                )
            if taken.rowcount == 1:
                self._send(row.id, row.amount, row.currency, row.account_number)
                sent += 1
        return sent

    def time_out_stale(self) -> int:
        """Give up on payouts the bank never answered: the money goes back to the merchant."""
        cutoff = now_us() - BANK_TIMEOUT_US
        with read(self.engine) as conn:
            stale = list(
                conn.execute(
                    select(t.payouts.c.id).where(
                        t.payouts.c.state == "pending", t.payouts.c.created_at_us < cutoff
                    )
                ).scalars()
            )
        for iid in stale:
            self.answered(BankOutcome(iid, False, "", GAVE_UP))
        return len(stale)

    def retry_failed(self, merchant_id: str) -> int:
        """Pay again, as a new attempt, each settlement the bank rejected (not those given up
        on), now that the merchant has a verified account. Returns how many were sent."""
        bank = self.settlements.accounts.current(merchant_id)
        if bank is None:
            return 0
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.settlements).where(
                    t.settlements.c.merchant_id == merchant_id,
                    t.settlements.c.state == "failed",
                    t.settlements.c.failure != GAVE_UP,
                )
            ).all()
        sent = 0
        for row in rows:
            sent += self._retry(row, bank)
        return sent

    def retry_rejected(self) -> int:
        """Pay again each rejected settlement whose merchant has since had another account
        verified (the rejection may have arrived after the new account was): the sweep behind
        :meth:`retry_failed`, for the background pass."""
        s, a = t.settlements.c, t.merchant_bank_accounts.c
        newer = (
            select(a.id)
            .where(a.merchant_id == s.merchant_id, a.state == "verified", a.id != s.bank_account_id)
            .exists()
        )
        with read(self.engine) as conn:
            merchants = set(
                conn.execute(
                    select(s.merchant_id).where(
                        s.state == "failed", s.failure != GAVE_UP, newer, ~frozen(s.merchant_id)
                    )
                ).scalars()
            )
        return sum(self.retry_failed(merchant_id) for merchant_id in sorted(merchants))

    def _retry(self, row: Any, bank: Any) -> int:
        merchant = self.merchants.get(row.merchant_id)
        attempt = row.attempt + 1
        chain = self.settlements.payout_transfers(row.id, attempt, merchant, row.payout)
        now = now_us()

        def record(unit: Unit) -> None:
            done = unit.execute(
                "UPDATE settlements SET state = 'paying', attempt = :attempt,"
                " instruction_id = :iid, bank_account_id = :bank, failure = '',"
                " updated_at_us = :now"
                " WHERE id = :id AND state = 'failed' AND attempt = :seen",
                {
                    "attempt": attempt,
                    "iid": instruction_id(row.id, attempt),
                    "bank": bank.id,
                    "now": now,
                    "id": row.id,
                    "seen": row.attempt,
                },
            )
            if done.rowcount != 1:
                raise AlreadySettled("the settlement was paid again by another process")
            self._instruct(unit, row, merchant, bank, attempt, now)

        try:
            moved = self.movements.move(chain, record)
        except Frozen:  # paid again once the merchant's freeze is lifted
            return 0
        return 0 if isinstance(moved, Refused) else 1

    def release_reserves(self, merchant_id: str | None = None, now: int | None = None) -> int:
        """Release every reserve whose time has come into its merchant's account, once."""
        now = now_us() if now is None else now
        rs = t.reserves.c
        query = select(t.reserves).where(
            rs.released_transfer_id.is_(None), rs.release_after_us <= now
        )
        if merchant_id is not None:
            query = query.where(rs.merchant_id == merchant_id)
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        released = 0
        for row in rows:
            merchant = self.merchants.get(row.merchant_id)
            ident = derived_id("rsr", row.id)
            transfer = Transfer(
                ident,
                self.settlements.reserve_account,
                merchant.account_id,
                row.amount,
                TransferCode.RESERVE,
                ref=row.settlement_id,
            )

            def record(unit: Unit, reserve_id: str = row.id, ident: str = ident) -> None:
                done = unit.execute(
                    "UPDATE reserves SET released_transfer_id = :tid"
                    " WHERE id = :id AND released_transfer_id IS NULL",
                    {"tid": ident, "id": reserve_id},
                )
                if done.rowcount != 1:
                    raise AlreadySettled("the reserve was released by another process")

            moved = self.movements.move([transfer], record)
            released += 0 if isinstance(moved, Refused) else 1
        return released
