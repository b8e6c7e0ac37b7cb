"""What the events about a payment are filed under, for the merchant's webhook history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.db import read
from saoma.pagination import text_filter
from saoma.payments import tables as m


def event_subjects(engine: Engine, merchant_id: str, payment_id: str | None) -> list[str] | None:
    """The subjects of the events about ``payment_id``: the payment, its order, the charge or
    hold it came from. None when no payment is asked for; [] when it is not this merchant's."""
    payment_id = text_filter(payment_id, "payment_id")
    if payment_id is None:
        return None
    with read(engine) as conn:
        payment = conn.execute(
            select(m.payments.c.order_id).where(
                m.payments.c.id == payment_id, m.payments.c.merchant_id == merchant_id
            )
        ).first()
        if payment is None:
            return []  # not this merchant's: nothing to show
        subjects = [payment_id] + ([payment.order_id] if payment.order_id else [])
        for table in (m.charges, m.preauths):
            subjects += conn.execute(
                select(table.c.id).where(
                    table.c.payment_id == payment_id, table.c.merchant_id == merchant_id
                )
            ).scalars()
    return subjects
