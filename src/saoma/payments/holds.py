"""Pre-authorisation: a merchant asks for a hold (a bike's ¥99 deposit), the payer consents with
the PIN, and the merchant captures part or all of it as a payment, or voids it.

A hold is a pending transfer in the ledger: the amount is reserved in the payer's wallet, not
taken. Capture posts what is taken (with its fee) and releases the rest; void or the hold's
expiry release it all.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    CaptureExceedsHold,
    HoldAlreadyCaptured,
    HoldExpired,
    HoldNotOpen,
    HoldReferenceReused,
    not_found,
)
from saoma.core.ids import new_id, now_us
from saoma.core.money import rate_of
from saoma.db import read, write
from saoma.ledger import Result, Transfer, TransferCode, TransferFlags
from saoma.merchants.service import Merchant, check_text
from saoma.movements import Refused, Unit
from saoma.payments import idempotency, views
from saoma.payments import tables as m
from saoma.payments.checks import (
    authorise,
    check_amount,
    check_currency,
    check_merchant_ref,
    check_seconds,
)
from saoma.payments.context import Context
from saoma.payments.queries import Queries
from saoma.payments.rows import derived_id, first, payment_row
from saoma.wallets.service import Consumer

HOLD_TTL_S_MIN = 60
HOLD_TTL_S_MAX = 30 * 24 * 3600
HELD_SQL = (
    "UPDATE preauths SET state = 'held', consumer_id = :cid"
    " WHERE id = :id AND state = 'requested' AND expires_at_us > :now"
)
CAPTURED_SQL = (
    "UPDATE preauths SET state = 'captured', captured = :amount, payment_id = :pid"
    " WHERE id = :id AND state = 'held'"
)
VOIDED_SQL = "UPDATE preauths SET state = 'voided' WHERE id = :id AND state = 'held'"


class Holds:
    def __init__(self, ctx: Context, queries: Queries) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self.queries = queries

    def _row(self, preauth_id: str) -> Any:
        return first(self.engine, m.preauths, id=preauth_id)

    def create_hold(
        self,
        merchant: Merchant,
        *,
        merchant_ref: str,
        amount: int,
        currency: str,
        expires_in_s: int,
        description: str = "",
    ) -> dict[str, Any]:
        """A hold request the payer consents to by scanning its code (a bike's ¥99 deposit)."""
        merchant_ref = check_merchant_ref(merchant_ref, "merchant_ref")
        amount = check_amount(amount)
        currency = check_currency(currency, merchant.currency)
        description = check_text("description", description, 128, required=False)
        expires_in_s = check_seconds(expires_in_s, "expires_in_s", HOLD_TTL_S_MIN, HOLD_TTL_S_MAX)
        now = now_us()
        preauth_id = new_id("ha")
        try:
            with write(self.engine) as conn:
                conn.execute(
                    m.preauths.insert().values(
                        id=preauth_id,
                        merchant_id=merchant.id,
                        merchant_ref=merchant_ref,
                        description=description,
                        amount=amount,
                        currency=currency,
                        state="requested",
                        transfer_id=derived_id("hold", preauth_id),
                        expires_at_us=now + expires_in_s * 1_000_000,
                        created_at_us=now,
                    )
                )
        except IntegrityError:
            with read(self.engine) as conn:
                row = conn.execute(
                    select(m.preauths).where(
                        m.preauths.c.merchant_id == merchant.id,
                        m.preauths.c.merchant_ref == merchant_ref,
                    )
                ).one()
        else:
            return self.queries.get_hold(merchant, preauth_id)
        if (row.amount, row.description) != (amount, description):
            raise HoldReferenceReused(
                f"hold reference {merchant_ref!r} already exists with other details",
                field="merchant_ref",
            )
        return views.hold(row, merchant)

    def consent_hold(
        self,
        consumer: Consumer,
        preauth_id: str,
        *,
        pin: str | None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """The payer agrees to the hold with the PIN: the amount is reserved, not taken."""
        row = self._row(preauth_id)
        if row is None:
            raise not_found("hold", preauth_id)
        merchant = self.ctx.merchants.get(row.merchant_id)
        state = views.hold_state(row)
        if state == "held" and row.consumer_id == consumer.id:
            return views.hold(row, merchant)
        if state != "requested":
            raise HoldNotOpen(f"this hold is {state}")
        authorisation = authorise(self.ctx.wallets, consumer, pin)
        now = now_us()
        pending = Transfer(
            row.transfer_id,
            consumer.account_id,
            merchant.account_id,
            row.amount,
            TransferCode.HOLD,
            TransferFlags.PENDING,
            timeout_s=max(1, (row.expires_at_us - now) // 1_000_000),
            ref=row.id,
        )
        # The answer, stored with the consent so that a replay returns the very same body.
        view = views.hold(
            SimpleNamespace(**(row._asdict() | {"state": "held", "consumer_id": consumer.id})),
            merchant,
        )

        def record(unit: Unit) -> None:
            taken = unit.execute(HELD_SQL, {"cid": consumer.id, "id": row.id, "now": now})
            if taken.rowcount != 1:
                raise HoldNotOpen("this hold was taken or has expired")
            unit.insert(
                m.hold_consents,
                {
                    "preauth_id": row.id,
                    "consumer_id": consumer.id,
                    "authorisation": authorisation,
                    "transfer_id": row.transfer_id,
                    "created_at_us": now,
                },
            )
            unit.emit(
                "hold.held",
                subject=row.id,
                data={"id": row.id, "merchant_ref": row.merchant_ref, "amount": row.amount},
                at_us=now,
                merchant_id=merchant.id,
                consumer_id=consumer.id,
                url=merchant.webhook_url,
            )
            idempotency.finish_in(unit, claim, 201, view)

        moved = self.ctx.movements.move([pending], record)
        if isinstance(moved, Refused):
            if moved.written_before:  # by this very consent, its answer lost, or by a twin
                now_row = self._row(row.id)
                if views.hold_state(now_row) == "held" and now_row.consumer_id == consumer.id:
                    return view
            raise moved.problem()
        return view

    def capture_hold(
        self,
        merchant: Merchant,
        preauth_id: str,
        *,
        amount: int,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Take part or all of the hold as a payment (with its fee); the rest goes back."""
        amount = check_amount(amount)
        row = self._row(preauth_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("hold", preauth_id)
        if row.state == "captured":
            return self._captured(row, merchant, amount)
        state = views.hold_state(row)
        if state != "held":
            raise HoldNotOpen(f"this hold is {state}")
        if amount > row.amount:
            raise CaptureExceedsHold(f"at most {row.amount} can be captured", field="amount")
        now = now_us()
        payment = payment_row(
            kind="capture",
            merchant_id=merchant.id,
            consumer_id=row.consumer_id,
            amount=amount,
            fee=rate_of(amount, merchant.fee_ppm),
            currency=row.currency,
            note=row.description,
            authorisation=f"hold:{row.id}",
            transfer_id=derived_id("cap", row.id),
            now=now,
        )
        captured = {"state": "captured", "captured": amount, "payment_id": payment["id"]}
        payer = self.ctx.wallets.get(row.consumer_id).display_name
        view = views.hold(SimpleNamespace(**(row._asdict() | captured)), merchant)

        def record(unit: Unit) -> None:
            if self.ctx.admit is not None:  # the merchant's limit before approval
                self.ctx.admit(unit.tx, merchant.id, amount)
            done = unit.execute(
                CAPTURED_SQL, {"amount": amount, "pid": payment["id"], "id": row.id}
            )
            if done.rowcount != 1:
                raise HoldNotOpen("this hold is no longer open")
            unit.insert(m.payments, payment)
            unit.emit(
                "hold.captured",
                subject=row.id,
                data=views.payment(payment, merchant, for_merchant=True, payer=payer)
                | {"hold_id": row.id, "released": row.amount - amount},
                at_us=now,
                merchant_id=merchant.id,
                consumer_id=row.consumer_id,
                url=merchant.webhook_url,
            )
            idempotency.finish_in(unit, claim, 200, view)

        moved = self.ctx.movements.move(self._capture_transfers(row, merchant, payment), record)
        if isinstance(moved, Refused):
            now_row = self._row(row.id)
            if now_row.state == "captured":  # captured meanwhile by a request sent with it
                return self._captured(now_row, merchant, amount)
            raise moved.problem()
        return view

    def _capture_transfers(
        self, row: Any, merchant: Merchant, payment: dict[str, Any]
    ) -> list[Transfer]:
        """Post ``payment``'s amount of the hold and, linked to it, the merchant's fee."""
        fee = payment["fee"]
        post = Transfer(
            payment["transfer_id"],
            0,
            0,
            payment["amount"],
            TransferCode.CAPTURE,
            TransferFlags.POST_PENDING | (TransferFlags.LINKED if fee else 0),
            row.transfer_id,
            ref=row.id,
        )
        if not fee:
            return [post]
        fee_id = derived_id("capfee", row.id)
        charge = Transfer(
            fee_id, merchant.account_id, self.ctx.fees_account, fee, TransferCode.FEE, ref=row.id
        )
        return [post, charge]

    def _captured(self, row: Any, merchant: Merchant, amount: int) -> dict[str, Any]:
        """A capture of a captured hold: the same amount replays it, another is a conflict."""
        if row.captured != amount:
            raise HoldAlreadyCaptured(
                f"this hold was already captured for {row.captured}",
                field="amount",
                captured=row.captured,
            )
        return views.hold(row, merchant)

    def void_hold(self, merchant: Merchant, preauth_id: str) -> dict[str, Any]:
        """Release the whole hold; a hold not consented to yet is simply withdrawn."""
        row = self._row(preauth_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("hold", preauth_id)
        if row.state == "requested":
            with write(self.engine) as conn:
                conn.execute(
                    update(m.preauths)
                    .where(m.preauths.c.id == row.id, m.preauths.c.state == "requested")
                    .values(state="voided")
                )
            return self.queries.get_hold(merchant, row.id)
        if row.state == "voided":
            return views.hold(row, merchant)
        if row.state != "held":
            raise HoldNotOpen(f"this hold is {row.state}")
        void = Transfer(
            derived_id("void", row.id),
            0,
            0,
            0,
            TransferCode.RELEASE,
            TransferFlags.VOID_PENDING,
            row.transfer_id,
            ref=row.id,
        )

        def record(unit: Unit) -> None:
            if unit.execute(VOIDED_SQL, {"id": row.id}).rowcount == 1:
                unit.emit(  # the payer's live wallet only: the merchant asked for it
                    "hold.released",
                    subject=row.id,
                    data={"id": row.id, "hold_id": row.id, "released": row.amount},
                    at_us=now_us(),
                    consumer_id=row.consumer_id,
                )

        moved = self.ctx.movements.move([void], record)
        if isinstance(moved, Refused) and moved.results[0] is not Result.EXISTS:
            if moved.results[0] is Result.PENDING_TRANSFER_EXPIRED:
                self.expire_holds()
                raise HoldExpired("the hold has expired and was released")
            raise moved.problem()
        return self.queries.get_hold(merchant, row.id)

    def expire_holds(self) -> int:
        """Mark holds past their time as expired; the ledger releases the money by itself."""
        now = now_us()
        with read(self.engine) as conn:
            due = conn.execute(
                select(m.preauths).where(
                    m.preauths.c.state.in_(("requested", "held")), m.preauths.c.expires_at_us <= now
                )
            ).all()
        for row in due:
            if row.state == "held":
                account_id = self.ctx.wallets.get(row.consumer_id).account_id
                self.ctx.ledger.expire_due(account_id=account_id)
            with write(self.engine) as conn:
                conn.execute(
                    update(m.preauths)
                    .where(m.preauths.c.id == row.id, m.preauths.c.state == row.state)
                    .values(state="expired")
                )
        return len(due)
