"""Disputes: a payer questions a payment, the merchant refunds or contests, support decides.

States: ``open`` (the merchant has until ``answer_by``) → ``refunded`` (the merchant refunded) |
``contested`` (the merchant answered with its side) | ``escalated`` (no answer in time, moved by
maintenance) | ``withdrawn`` (the payer let it go); ``contested``/``escalated`` →
``decided_for_payer`` | ``decided_for_merchant`` (support). Every change is one conditional
UPDATE (``WHERE state IN (...)``): of two requests sent together, one changes the state and the
other finds it moved on (409), whatever the order.

Money moves only as a refund from the merchant to the payer, through the payments' own refund
(:meth:`saoma.payments.refunds.Refunds.refund`) under the refund number ``dispute-<id>``. The
state change is written by the refund's own ``record`` hook (the ``also`` argument), in the
ledger transaction that moves the money: the refund and "refunded" commit together or not at
all, and if the state moved on meanwhile (a contest won the race) the hook refuses and the
refund is rolled back. The refund number is one per dispute, so a retry, a double click or a
merchant refund racing support's decision can never refund twice: the loser finds the refund
made and the state already changed. No consumer wallet is ever debited here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.audit.chain import append
from saoma.core.errors import (
    AnswerTooLate,
    DisputeClosed,
    DisputeExists,
    InvalidRequest,
    PaymentNotDisputable,
    not_found,
)
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read
from saoma.disputes import tables as t
from saoma.disputes.photos import Photo
from saoma.disputes.reads import Reads
from saoma.disputes.rules import check_text, gross_for, payer_left
from saoma.merchants.service import Merchant
from saoma.movements import Unit
from saoma.payments import idempotency
from saoma.payments import tables as pm
from saoma.payments.rows import first
from saoma.payments.service import Payments
from saoma.wallets.service import Consumer

REASONS = ("not_received", "not_as_described", "charged_twice", "unauthorised", "other")
ANSWER_S_DEFAULT = 3 * 86_400
DISPUTABLE_FOR_US = 180 * 86_400 * 1_000_000
OPEN = ("open",)
DECIDABLE = ("contested", "escalated")
WITHDRAWABLE = ("open", "contested", "escalated")
MOVE_SQL = (
    "UPDATE disputes SET state = :to, updated_at_us = :now{extra}"
    " WHERE id = :id AND state IN ({states}){cond}"
)
INSERT_SQL = (
    "INSERT INTO disputes (id, payment_id, consumer_id, merchant_id, amount, currency, reason,"
    " text, state, answer_by_us, merchant_text, decision, decided_by_role, refund_id,"
    " created_at_us, updated_at_us) VALUES (:id, :payment_id, :consumer_id, :merchant_id,"
    " :amount, :currency, :reason, :text, 'open', :answer_by_us, '', '', '', NULL, :now, :now)"
    " ON CONFLICT (payment_id) DO NOTHING"
)
REFUND_ID_SQL = (
    "(SELECT id FROM refunds WHERE merchant_id = :merchant_id AND merchant_refund_no = :no)"
)


@dataclass(frozen=True, slots=True)
class Deciding:
    """The operator deciding, as the audit log records them."""

    operator_id: str
    role: str
    reason: str
    address: str = ""


class Disputes:
    def __init__(
        self, engine: Engine, payments: Payments, *, answer_s: int = ANSWER_S_DEFAULT
    ) -> None:
        self.engine = engine
        self.payments = payments
        self.answer_us = answer_s * 1_000_000
        self.reads = Reads(engine, payments.merchants)

    # --- the payer ------------------------------------------------------------------------

    def open(
        self,
        consumer: Consumer,
        payment_id: str,
        *,
        reason: str,
        text_: str,
        photo: Photo | Callable[[], Photo | None] | None = None,
        amount: int | None = None,
    ) -> dict[str, Any]:
        """A dispute of one of the payer's payments; one per payment (409 for a second).

        ``photo`` may be a function checking one: it runs once the payment is found disputable,
        so a photo costs its decoding only then."""
        if reason not in REASONS:
            raise InvalidRequest(f"reason is one of {', '.join(REASONS)}", field="reason")
        body = check_text("text", text_, required=True)
        payment = first(self.engine, pm.payments, id=payment_id)
        if payment is None or payment.consumer_id != consumer.id:
            raise not_found("payment", payment_id)
        now = now_us()
        url = self.payments.merchants.get(payment.merchant_id).webhook_url
        left = payer_left(payment)
        if now - payment.created_at_us > DISPUTABLE_FOR_US or left <= 0:
            raise PaymentNotDisputable("this payment is too old or already refunded in full")
        if amount is not None and not 1 <= amount <= left:
            raise InvalidRequest(f"amount is 1 to {left}", field="amount", refundable=left)
        if callable(photo):
            photo = photo()
        row = {
            "id": new_id("dp"),
            "payment_id": payment.id,
            "consumer_id": consumer.id,
            "merchant_id": payment.merchant_id,
            "amount": left if amount is None else amount,
            "currency": payment.currency,
            "reason": reason,
            "text": body,
            "answer_by_us": now + self.answer_us,
            "now": now,
        }

        def record(unit: Unit) -> None:
            if unit.execute(INSERT_SQL, row).rowcount != 1:
                raise DisputeExists("this payment already has a dispute", field="payment_id")
            file_id = self._file(unit, row["id"], photo, "payer", now)
            self._event(unit, row["id"], now, "payer", "opened", body, file_id)
            self._emit(unit, "dispute.opened", row["id"], now, url)

        self.payments.movements.record_alone(record)
        return self.reads.view(self.reads.row(row["id"]))

    def withdraw(self, consumer: Consumer, dispute_id: str) -> dict[str, Any]:
        row = self.reads.owned(dispute_id, consumer_id=consumer.id)
        return self._move(row, WITHDRAWABLE, "withdrawn", "payer", "withdrawn", "")

    # --- the merchant ---------------------------------------------------------------------

    def contest(
        self,
        merchant: Merchant,
        dispute_id: str,
        *,
        text_: str,
        photo: Photo | Callable[[], Photo | None] | None = None,
    ) -> dict[str, Any]:
        """The merchant's side, with a photo if it has one (or a function checking one, run once
        the dispute is found to be the merchant's): only while open and in time."""
        row = self.reads.owned(dispute_id, merchant_id=merchant.id)
        body = check_text("text", text_, required=True)
        now = now_us()
        cond = " AND answer_by_us > :now"
        if row.state == "open" and row.answer_by_us <= now:
            raise AnswerTooLate("the time to answer has passed: support decides")
        if callable(photo):
            photo = photo()
        return self._move(
            row, OPEN, "contested", "merchant", "contested", body, photo=photo, cond=cond, now=now
        )

    def merchant_refund(
        self, merchant: Merchant, dispute_id: str, *, claim: idempotency.Claim | None = None
    ) -> dict[str, Any]:
        """Give the payer what they ask by a refund from the merchant, while it is open."""
        row = self.reads.owned(dispute_id, merchant_id=merchant.id)
        return self._refund(row, OPEN, "refunded", "merchant", claim=claim)

    # --- support and maintenance ------------------------------------------------------------

    def decide(
        self,
        deciding: Deciding,
        dispute_id: str,
        *,
        for_: str,
        note: str,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Support's decision on a contested or escalated dispute: for the payer a refund from
        the merchant, for the merchant nothing moves. Audited for both parties with the change."""
        if for_ not in ("payer", "merchant"):
            raise InvalidRequest("for is payer or merchant", field="for")
        note = check_text("note", note, required=True)
        row = self.reads.row(dispute_id)
        if row is None:
            raise not_found("dispute", dispute_id)

        def audit(unit: Unit) -> None:
            for kind, subject in (("consumer", row.consumer_id), ("merchant", row.merchant_id)):
                append(
                    unit.tx,
                    operator_id=deciding.operator_id,
                    role=deciding.role,
                    action="dispute.decide",
                    subject_kind=kind,
                    subject_id=subject,
                    what=f"dispute {row.id}: for the {for_}",
                    reason=deciding.reason,
                    address=deciding.address,
                )

        if for_ == "payer":
            return self._refund(
                row,
                DECIDABLE,
                "decided_for_payer",
                "support",
                note=note,
                also=audit,
                claim=claim,
                decided=deciding.role,
            )
        return self._move(
            row,
            DECIDABLE,
            "decided_for_merchant",
            "support",
            "decided",
            note,
            also=audit,
            decided=deciding.role,
        )

    def escalate_due(self, now: int | None = None) -> int:
        """Open disputes past their answer time go to support; how many did."""
        now = now_us() if now is None else now
        with read(self.engine) as conn:
            due = conn.execute(
                text(
                    "SELECT id FROM disputes WHERE state = 'open' AND answer_by_us <= :now"
                    " ORDER BY answer_by_us LIMIT 500"
                ),
                {"now": now},
            ).all()
        moved = 0
        for (dispute_id,) in due:
            row = self.reads.row(dispute_id)
            if row.state != "open":
                continue  # answered meanwhile
            try:
                self._move(
                    row,
                    OPEN,
                    "escalated",
                    "system",
                    "escalated",
                    "",
                    now=now,
                    cond=" AND answer_by_us <= :now",
                )
            except DisputeClosed:
                continue  # answered meanwhile
            moved += 1
        return moved

    # --- reads for operators: the audit entry first, in its own transaction ------------------

    def for_ops(self, deciding: Deciding, dispute_id: str) -> dict[str, Any]:
        row = self.reads.row(dispute_id)
        if row is None:
            raise not_found("dispute", dispute_id)
        self._audit_read(deciding, row, f"dispute {row.id}: claim, answer, timeline")
        return self.reads.view(self.reads.row(dispute_id), ops=True)

    def file_for_ops(self, deciding: Deciding, dispute_id: str, file_id: str) -> tuple[str, bytes]:
        row = self.reads.row(dispute_id)
        if row is None:
            raise not_found("dispute", dispute_id)
        self._audit_read(deciding, row, f"dispute {row.id}: photo {file_id}"[:200])
        return self.reads.file(row, file_id)

    def _audit_read(self, deciding: Deciding, row: Any, what: str) -> None:
        def record(unit: Unit) -> None:
            append(
                unit.tx,
                operator_id=deciding.operator_id,
                role=deciding.role,
                action="dispute.view",
                subject_kind="consumer",
                subject_id=row.consumer_id,
                what=what,
                reason=deciding.reason,
                address=deciding.address,
            )

        self.payments.movements.record_alone(record)

    # --- changes ------------------------------------------------------------------------------

    def _move(
        self,
        row: Any,
        states: tuple[str, ...],
        to: str,
        actor: str,
        kind: str,
        body: str,
        *,
        photo: Photo | None = None,
        cond: str = "",
        now: int | None = None,
        also: Callable[[Unit], None] | None = None,
        decided: str = "",
    ) -> dict[str, Any]:
        """One change of state without money: one conditional UPDATE, its timeline entry and
        webhook in the same transaction; 409 if the dispute is no longer in ``states``."""
        if row.state == to:
            return self.reads.view(row)  # the same step again: already done
        if row.state not in states:
            raise DisputeClosed(f"the dispute is {row.state}")
        now = now_us() if now is None else now
        sql, params = self._move_sql(row, states, to, body, cond, now, decided)
        url = self.payments.merchants.get(row.merchant_id).webhook_url

        def record(unit: Unit) -> None:
            if unit.execute(sql, params).rowcount != 1:
                raise DisputeClosed("the dispute has moved on meanwhile")
            file_id = self._file(unit, row.id, photo, actor, now)
            self._event(unit, row.id, now, actor, kind, body, file_id)
            self._emit(unit, f"dispute.{kind}", row.id, now, url)
            if also is not None:
                also(unit)

        self.payments.movements.record_alone(record)
        return self.reads.view(self.reads.row(row.id))

    @staticmethod
    def _move_sql(
        row: Any,
        states: tuple[str, ...],
        to: str,
        body: str,
        cond: str,
        now: int,
        decided: str,
    ) -> tuple[str, dict[str, Any]]:
        extra = ""
        params: dict[str, Any] = {"to": to, "now": now, "id": row.id}
        if to == "contested":
            extra = ", merchant_text = :body"
            params["body"] = body
        if decided:
            extra += ", decision = :decision, decided_by_role = :role"
            params |= {"decision": to.removeprefix("decided_for_"), "role": decided}
        names = ", ".join(f":s{i}" for i in range(len(states)))
        params |= {f"s{i}": s for i, s in enumerate(states)}
        return MOVE_SQL.format(extra=extra, states=names, cond=cond), params

    def _refund(
        self,
        row: Any,
        states: tuple[str, ...],
        to: str,
        actor: str,
        *,
        note: str = "",
        also: Callable[[Unit], None] | None = None,
        claim: idempotency.Claim | None = None,
        decided: str = "",
    ) -> dict[str, Any]:
        """A refund of what the payer asks, from the merchant, and the change to ``to``, in one
        commit (the refund's ``record`` hook); see the module's docstring.

        ``claim`` (an Idempotency-Key) is not stored with the refund: the answer is the dispute
        as it is after the commit, stored by the caller right after. A crash in between is safe:
        the retry finds the dispute moved on and answers it, the refund number refunds once.
        """
        del claim
        if row.state == to:
            return self.reads.view(row)
        if row.state not in states:
            raise DisputeClosed(f"the dispute is {row.state}")
        payment = first(self.engine, pm.payments, id=row.payment_id)
        merchant = self.payments.merchants.get(row.merchant_id)
        number = f"dispute-{row.id}"
        if payer_left(payment) <= 0:  # refunded meanwhile: by this dispute, or in full apart
            done = self.reads.row(row.id)
            if done.state == to:
                return self.reads.view(done)
            raise DisputeClosed("nothing is left to refund of this payment")
        gross = gross_for(payment, min(row.amount, payer_left(payment)))
        extra = ", refund_id = " + REFUND_ID_SQL
        if decided:
            extra += ", decision = 'payer', decided_by_role = :role"
        names = ", ".join(f":s{i}" for i in range(len(states)))
        sql = MOVE_SQL.format(extra=extra, states=names, cond="")
        kind = "decided" if decided else "refunded"

        def record(unit: Unit) -> None:
            now = now_us()
            params = {"to": to, "now": now, "id": row.id, "role": decided, "no": number}
            params |= {"merchant_id": row.merchant_id} | {f"s{i}": s for i, s in enumerate(states)}
            if unit.execute(sql, params).rowcount != 1:
                raise DisputeClosed("the dispute has moved on meanwhile")
            self._event(unit, row.id, now, actor, kind, note, None)
            self._emit(unit, f"dispute.{kind}", row.id, now, merchant.webhook_url)
            if also is not None:
                also(unit)

        self.payments.refund(
            merchant,
            row.payment_id,
            amount=gross,
            merchant_refund_no=number,
            reason=f"dispute {row.id}",
            also=record,
        )
        done = self.reads.row(row.id)
        if done.state != to:  # the refund was made by the other side's step
            raise DisputeClosed(f"the dispute is {done.state}")
        return self.reads.view(done)

    # --- rows written with a change -----------------------------------------------------------

    @staticmethod
    def _file(unit: Unit, dispute_id: str, photo: Photo | None, by: str, now: int) -> str | None:
        if photo is None:
            return None
        file_id = new_id("df")
        unit.insert(
            t.dispute_files,
            {
                "id": file_id,
                "dispute_id": dispute_id,
                "content_type": photo.content_type,
                "data": photo.data,
                "created_at_us": now,
                "uploaded_by": by,
            },
        )
        return file_id

    @staticmethod
    def _event(
        unit: Unit, dispute_id: str, now: int, actor: str, kind: str, body: str, file_id: str | None
    ) -> None:
        unit.insert(
            t.dispute_events,
            {
                "dispute_id": dispute_id,
                "at_us": now,
                "actor": actor,
                "kind": kind,
                "text": body,
                "file_id": file_id,
            },
        )

    @staticmethod
    def _emit(unit: Unit, event_type: str, dispute_id: str, now: int, url: str) -> None:
        """The webhook to the merchant (at ``url``, read before the transaction: nothing here
        takes a second connection), with the dispute as it is in this transaction."""
        found = unit.execute(
            "SELECT payment_id, consumer_id, merchant_id, amount, currency, reason, state,"
            " decision, refund_id, answer_by_us FROM disputes WHERE id = :id",
            {"id": dispute_id},
        ).fetchone()
        payment_id, consumer_id, merchant_id, amount, currency, reason, state = found[:7]
        decision, refund_id, answer_by_us = found[7:]
        data = {
            "id": dispute_id,
            "payment_id": payment_id,
            "amount": amount,
            "currency": currency,
            "reason": reason,
            "state": state,
            "decision": decision or None,
            "refund_id": refund_id,
            "answer_by": rfc3339(answer_by_us),
        }
        unit.emit(
            event_type,
            subject=payment_id,
            data=data,
            at_us=now,
            merchant_id=merchant_id,
            consumer_id=consumer_id,
            url=url,
        )
