"""A merchant's webhook deliveries: the events with every attempt (newest first), and a replay
of one of them. The dispatcher (:mod:`saoma.webhooks.dispatcher`) does the sending."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from saoma.core.ids import now_us
from saoma.db import read, write
from saoma.pagination import check_limit, page_of, parse_cursor, text_filter
from saoma.webhooks import tables as m
from saoma.webhooks.dispatcher import GAVE_UP_US

_D = m.outbox_due.c


def replay(engine: Engine, merchant_id: str, event_id: str) -> bool:
    """Send an event again now (delivered or given up); False if it is not this merchant's.

    An attempt under way meanwhile is not cut short: the event is sent again after it."""
    now = now_us()
    with write(engine) as conn:
        event = conn.execute(
            update(m.outbox)
            .where(
                m.outbox.c.id == event_id,
                m.outbox.c.merchant_id == merchant_id,
                m.outbox.c.url != "",
            )
            .values(delivered_at_us=None, next_attempt_at_us=now)
            .returning(m.outbox.c.seq, m.outbox.c.subject)
        ).first()
        if event is None:
            return False
        # Due now, in its old place among its subject's events (a lease under way is kept).
        again = conn.execute(
            update(m.outbox_due).where(_D.seq == event.seq).values(next_attempt_at_us=now)
        )
        if again.rowcount == 0:
            conn.execute(
                insert(m.outbox_due).values(
                    seq=event.seq, subject=event.subject, next_attempt_at_us=now, leased_until_us=0
                )
            )
    return True


def deliveries(
    engine: Engine,
    merchant_id: str,
    *,
    cursor: str | None = None,
    limit: int = 50,
    subjects: list[str] | None = None,
    subject: str | None = None,
    event_type: str | None = None,
) -> dict[str, Any]:
    """A page of the merchant's webhook events with every attempt, newest first.

    ``subjects`` keeps the events filed under any of them (the events about one payment: see
    :func:`saoma.payments.subjects.event_subjects`); ``subject`` keeps one subject.
    """
    limit = check_limit(limit)
    after = parse_cursor(cursor)
    subject = text_filter(subject, "subject")
    event_type = text_filter(event_type, "type", most=48)
    o = m.outbox.c
    query = select(m.outbox).where(o.merchant_id == merchant_id, o.url != "")
    if subject is not None:
        query = query.where(o.subject == subject)
    if event_type is not None:
        query = query.where(o.type == event_type)
    if after is not None:
        query = query.where(o.seq < after)
    with read(engine) as conn:
        if subjects is not None:
            query = query.where(o.subject.in_(subjects))
        events, next_cursor = page_of(
            list(conn.execute(query.order_by(o.seq.desc()).limit(limit + 1))), limit
        )
        ids = [e.id for e in events]
        attempts = (
            conn.execute(
                select(m.webhook_attempts)
                .where(m.webhook_attempts.c.event_id.in_(ids))
                .order_by(m.webhook_attempts.c.seq)
            ).all()
            if ids
            else []
        )
    by_event: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        by_event.setdefault(a.event_id, []).append(
            {
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
                "attempted_at_us": a.attempted_at_us,
            }
        )
    data = [
        {
            "id": e.id,
            "type": e.type,
            "subject": e.subject,
            "url": e.url,
            "state": "delivered"
            if e.delivered_at_us is not None
            else ("failed" if e.next_attempt_at_us >= GAVE_UP_US else "pending"),
            "created_at_us": e.created_at_us,
            "attempts": by_event.get(e.id, []),
        }
        for e in events
    ]
    return {"data": data, "next_cursor": next_cursor}
