"""A debit under a mandate: ONE decision, in the transaction that moves the money.

In the ledger's transaction, before the commit, one conditional UPDATE takes the mandate's
current period (it must be active, within its period, at most its maximum, and not debited yet
this day, week or month) and one takes the notice (pending, of this mandate and amount, at least
24 hours old, not expired); the payment row and the debit's row are written and
``mandate.debited`` is emitted. If either UPDATE finds nothing, the whole movement is rolled back
and the debit is refused with the problem naming why. The transfer's id derives from the notice,
so the ledger too moves money at most once per notice.

A refusal is recorded on its own (a ``refused`` debit row and ``mandate.debit_refused``), so the
payer and the merchant see each one: once per notice and reason, however often it is retried.
"""

from __future__ import annotations

import hashlib
from typing import Any

from saoma.core.errors import (
    DatabaseUnavailable,
    MandateNoticeUsed,
    RequestInProgress,
    SaomaError,
)
from saoma.core.ids import new_id
from saoma.core.money import rate_of
from saoma.ledger import Result
from saoma.mandates import rules, views
from saoma.mandates import tables as t
from saoma.mandates.service import Mandates, _Row
from saoma.merchants.service import Merchant
from saoma.movements import Refused, Unit, insert_sql
from saoma.payments import idempotency
from saoma.payments import tables as pt
from saoma.payments import views as payment_views
from saoma.payments.checks import check_amount, check_currency
from saoma.payments.rows import derived_id, payment_row, payment_transfers
from saoma.wallets.service import Consumer

TAKE_MANDATE_SQL = (
    "UPDATE mandates SET last_period = :period, last_debit_at_us = :now, debits = debits + 1,"
    " updated_at_us = :now"
    " WHERE id = :id AND state = 'active' AND starts_at_us <= :now AND ends_at_us > :now"
    " AND amount_max >= :amount AND (last_period IS NULL OR last_period < :period)"
)
TAKE_NOTICE_SQL = (
    "UPDATE mandate_notices SET state = 'used', debit_id = :debit"
    " WHERE id = :id AND mandate_id = :m AND state = 'pending' AND amount = :amount"
    " AND due_at_us <= :now AND expires_at_us > :now"
)


def _one(unit: Unit, sql: str, params: dict[str, Any]) -> Any:
    cursor = unit.execute(sql, params)
    found = cursor.fetchone()
    if found is None:
        return None
    return _Row(dict(zip([d[0] for d in cursor.description], found, strict=True)))


class Debits:
    def __init__(self, mandates: Mandates) -> None:
        self.mandates = mandates
        self.ctx = mandates.ctx

    def debit(
        self,
        merchant: Merchant,
        mandate_id: str,
        *,
        notice_id: str,
        amount: int,
        currency: str,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Debit the payer under the mandate, on a notice of this amount sent a day before."""
        row = self.mandates.of_merchant(merchant, mandate_id)
        amount = check_amount(amount)
        check_currency(currency, row.currency)
        notice_id = (notice_id or "").strip()[:32]
        consumer = self.ctx.wallets.get(row.consumer_id)
        now = self.mandates.clock()
        period = rules.period_index(row.frequency, now, self.mandates.tz)
        # A first look, so an obvious refusal moves nothing; the UPDATEs below decide.
        refused = rules.debit_refusal(row, self.mandates.notice(notice_id), amount, now, period)
        try:
            if refused is not None:
                raise refused
            return self._move(merchant, consumer, row, notice_id, amount, now, period, claim)
        except (DatabaseUnavailable, RequestInProgress):
            raise  # not a refusal: the debit may be made, and a retry learns it
        except SaomaError as exc:
            self._refused(merchant, row, notice_id, amount, exc)
            raise

    def _move(
        self,
        merchant: Merchant,
        consumer: Consumer,
        mandate: Any,
        notice_id: str,
        amount: int,
        now: int,
        period: int,
        claim: idempotency.Claim | None,
    ) -> dict[str, Any]:
        debit_id = new_id("mdb")
        transfer_id = derived_id("mdt", notice_id)
        payment = payment_row(
            kind="mandate",
            merchant_id=merchant.id,
            consumer_id=consumer.id,
            amount=amount,
            fee=rate_of(amount, merchant.fee_ppm),
            currency=mandate.currency,
            note=mandate.purpose,
            authorisation=f"mandate:{debit_id}",
            transfer_id=transfer_id,
            now=now,
        )
        transfers = payment_transfers(
            transfer_id,
            consumer.account_id,
            merchant.account_id,
            self.ctx.fees_account,
            amount,
            payment["fee"],
            mandate.id,
        )
        debit = {
            "id": debit_id,
            "mandate_id": mandate.id,
            "notice_id": notice_id,
            "amount": amount,
            "state": "made",
            "reason": "",
            "payment_id": payment["id"],
            "created_at_us": now,
        }
        view = views.debit_view(_Row(debit)) | {
            "mandate_id": mandate.id,
            "payment": payment_views.payment(payment, merchant, for_merchant=True),
        }
        params = {"id": mandate.id, "now": now, "amount": amount, "period": period}

        def record(unit: Unit) -> None:
            if self.ctx.admit is not None:  # the merchant's limit before approval
                self.ctx.admit(unit.tx, merchant.id, amount)
            taken = {**params, "id": notice_id, "m": mandate.id, "debit": debit_id}
            if (
                unit.execute(TAKE_MANDATE_SQL, params).rowcount != 1
                or unit.execute(TAKE_NOTICE_SQL, taken).rowcount != 1
            ):
                self._why(unit, mandate.id, notice_id, amount, now, period)
            unit.insert(pt.payments, payment)
            unit.insert(t.mandate_debits, debit)
            self.mandates.emit(unit, "mandate.debited", mandate.id, merchant, debit=view)
            idempotency.finish_in(unit, claim, 201, view)

        moved = self.ctx.movements.move(transfers, record)
        if isinstance(moved, Refused):
            raise _not_moved(moved)
        return view

    @staticmethod
    def _why(
        unit: Unit, mandate_id: str, notice_id: str, amount: int, now: int, period: int
    ) -> None:
        """Raise the refusal a failed UPDATE stands for, as its transaction sees the rows."""
        row = _one(unit, "SELECT * FROM mandates WHERE id = :id", {"id": mandate_id})
        notice = _one(unit, "SELECT * FROM mandate_notices WHERE id = :id", {"id": notice_id})
        refused = rules.debit_refusal(row, notice, amount, now, period)
        raise refused or MandateNoticeUsed("a debit was made on this notice already")

    def _refused(
        self, merchant: Merchant, mandate: Any, notice_id: str, amount: int, exc: SaomaError
    ) -> None:
        """Record a refused debit, and tell the merchant why: once per notice and reason (a
        retry refused for the same reason adds no row and no webhook)."""
        now = self.mandates.clock()
        reason = exc.slug if exc.cause == exc.slug else exc.cause
        row = {
            "id": _refusal_id(mandate.id, notice_id, reason) if notice_id else new_id("mdb"),
            "mandate_id": mandate.id,
            "notice_id": notice_id or None,
            "amount": amount,
            "state": "refused",
            "reason": reason,
            "payment_id": None,
            "created_at_us": now,
        }

        def record(unit: Unit) -> None:
            sql = insert_sql(t.mandate_debits, list(row)) + " ON CONFLICT (id) DO NOTHING"
            if unit.execute(sql, row).rowcount != 1:
                return  # this notice was refused for this reason already: told once
            refusal = views.debit_view(_Row(row)) | {"detail": exc.detail}
            self.mandates.emit(unit, "mandate.debit_refused", mandate.id, merchant, debit=refusal)

        self.ctx.movements.record_alone(record)


def _refusal_id(mandate_id: str, notice_id: str, reason: str) -> str:
    """The id of a refusal of the mandate's debit on ``notice_id`` (whatever the merchant sent)
    for ``reason``: the same for every retry (32 characters)."""
    key = "\x1f".join((mandate_id, notice_id, reason))
    return "mdb_" + hashlib.blake2b(key.encode(), digest_size=14).hexdigest()


def _not_moved(moved: Refused) -> SaomaError:
    """Why a debit's movement was not made, in the merchant's words."""
    if moved.uncertain:
        return moved.problem()  # made by this request, perhaps: "try again", no refusal
    if moved.results[0] in (Result.EXISTS, Result.EXISTS_WITH_DIFFERENT_FIELDS):
        return MandateNoticeUsed("a debit was made on this notice already")
    return moved.problem()
