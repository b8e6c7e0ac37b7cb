"""Reading disputes: one with its timeline, a list, a photo; every read answers only its parties.

A dispute of another payer or another merchant is "not found", the same answer as for one that
does not exist. What operators read goes through :mod:`saoma.disputes.service`, which writes the
audit entry first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import InvalidRequest, not_found
from saoma.core.ids import rfc3339
from saoma.db import read
from saoma.disputes import tables as t
from saoma.merchants.service import Merchants

STATES = (
    "open",
    "contested",
    "escalated",
    "refunded",
    "decided_for_payer",
    "decided_for_merchant",
    "withdrawn",
)
LIST_MAX = 200


class Reads:
    def __init__(self, engine: Engine, merchants: Merchants) -> None:
        self.engine = engine
        self.merchants = merchants

    def row(self, dispute_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(t.disputes).where(t.disputes.c.id == dispute_id)).first()

    def owned(self, dispute_id: str, *, consumer_id: str = "", merchant_id: str = "") -> Any:
        """The dispute if it is this payer's or this merchant's; not found otherwise."""
        row = self.row(dispute_id)
        if row is None or (consumer_id and row.consumer_id != consumer_id):
            raise not_found("dispute", dispute_id)
        if merchant_id and row.merchant_id != merchant_id:
            raise not_found("dispute", dispute_id)
        return row

    def view(self, row: Any, *, ops: bool = False) -> dict[str, Any]:
        """The dispute as the parties see it, with its timeline (oldest first)."""
        e = t.dispute_events.c
        with read(self.engine) as conn:
            events = conn.execute(
                select(t.dispute_events).where(e.dispute_id == row.id).order_by(e.seq)
            ).all()
        merchant = self.merchants.get(row.merchant_id)
        out: dict[str, Any] = {
            "id": row.id,
            "payment_id": row.payment_id,
            "merchant_id": row.merchant_id,
            "merchant_name": merchant.name,
            "amount": row.amount,
            "currency": row.currency,
            "reason": row.reason,
            "text": row.text,
            "state": row.state,
            "decision": row.decision or None,
            "refund_id": row.refund_id,
            "answer_by": rfc3339(row.answer_by_us),
            "created_at": rfc3339(row.created_at_us),
            "updated_at": rfc3339(row.updated_at_us),
            "timeline": [
                {
                    "at": rfc3339(ev.at_us),
                    "actor": ev.actor,
                    "kind": ev.kind,
                    "text": ev.text,
                    "file_id": ev.file_id,
                }
                for ev in events
            ],
        }
        if ops:
            out["consumer_id"] = row.consumer_id
        return out

    def summary(self, row: Any, merchant_name: str) -> dict[str, Any]:
        """The dispute as the operators' queue lists it: no words, photos or payer (those are
        read one dispute at a time, audited)."""
        return {
            "id": row.id,
            "payment_id": row.payment_id,
            "merchant_id": row.merchant_id,
            "merchant_name": merchant_name,
            "amount": row.amount,
            "currency": row.currency,
            "reason": row.reason,
            "state": row.state,
            "decision": row.decision or None,
            "answer_by": rfc3339(row.answer_by_us),
            "created_at": rfc3339(row.created_at_us),
            "updated_at": rfc3339(row.updated_at_us),
        }

    def listed(
        self,
        *,
        consumer_id: str | None = None,
        merchant_id: str | None = None,
        state: str | None = None,
        ops: bool = False,
    ) -> dict[str, Any]:
        """The newest disputes (at most ``LIST_MAX``) matching every filter given: for
        ``ops``, as the queue's summaries."""
        d = t.disputes.c
        query = select(t.disputes)
        if state is not None:
            if state not in STATES:
                raise InvalidRequest(f"state is one of {', '.join(STATES)}", field="state")
            query = query.where(d.state == state)
        if consumer_id is not None:
            query = query.where(d.consumer_id == consumer_id)
        if merchant_id is not None:
            query = query.where(d.merchant_id == merchant_id)
        query = query.order_by(d.created_at_us.desc(), d.id).limit(LIST_MAX)
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        if not ops:
            return {"disputes": [self.view(r) for r in rows]}
        found = self.merchants.many(r.merchant_id for r in rows)  # one statement for the page
        names = {mid: merchant.name for mid, merchant in found.items()}
        return {"disputes": [self.summary(r, names.get(r.merchant_id, "")) for r in rows]}

    def file(self, row: Any, file_id: str) -> tuple[str, bytes]:
        """A photo of this dispute: its content type and bytes."""
        f = t.dispute_files.c
        with read(self.engine) as conn:
            found = conn.execute(
                select(f.content_type, f.data).where(f.id == file_id, f.dispute_id == row.id)
            ).first()
        if found is None:
            raise not_found("file", file_id)
        return found.content_type, bytes(found.data)
