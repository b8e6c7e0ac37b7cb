"""Writing events: in the same transaction as the money movement they report."""

from __future__ import annotations

import json
from typing import Any

from saoma.core.ids import new_id, rfc3339
from saoma.ledger.tx import Tx

INSERT = (
    "INSERT INTO outbox (id, type, merchant_id, consumer_id, subject, url, payload,"
    " created_at_us, delivered_at_us, attempts, next_attempt_at_us, request_id)"
    " VALUES (:id, :type, :merchant_id, :consumer_id, :subject, :url, :payload,"
    " :at, :delivered, 0, :at, :request_id)"
)
# A webhook is also put among the events to deliver, under the seq the outbox gave it: on
# PostgreSQL in the same statement. Every event is written with this one statement there, so that
# two events of one hook are never joined into one statement, whose parts run in no promised
# order (see saoma.ledger.tx): the seq still follows the order they were written in.
INSERT_DUE_POSTGRES = (
    f"WITH emitted AS ({INSERT} RETURNING seq, subject, next_attempt_at_us, url)"
    " INSERT INTO outbox_due (seq, subject, next_attempt_at_us, leased_until_us)"
    " SELECT seq, subject, next_attempt_at_us, 0 FROM emitted WHERE url <> ''"
)
DUE_SQLITE = (
    "INSERT INTO outbox_due (seq, subject, next_attempt_at_us, leased_until_us)"
    " SELECT seq, subject, next_attempt_at_us, 0 FROM outbox WHERE id = :id"
)


def emit_in(
    tx: Tx,
    event_type: str,
    *,
    subject: str,
    data: dict[str, Any],
    at_us: int,
    merchant_id: str | None = None,
    consumer_id: str | None = None,
    url: str = "",
    request_id: str | None = None,
) -> str:
    """Record an event; a URL makes it a webhook to deliver, the rest only feeds live pages.

    ``request_id`` is the API request that caused it: its deliveries carry it.
    """
    event_id = new_id("evt")
    payload = json.dumps(
        {"type": event_type, "timestamp": rfc3339(at_us), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    params = {
        "id": event_id,
        "type": event_type,
        "merchant_id": merchant_id,
        "consumer_id": consumer_id,
        "subject": subject,
        "url": url,
        "payload": payload,
        "at": at_us,
        "delivered": None if url else at_us,
        "request_id": request_id,
    }
    if tx.postgres:
        tx.write(INSERT_DUE_POSTGRES, params)
    else:
        tx.write(INSERT, params)
        if url:
            tx.write(DUE_SQLITE, params)
    return event_id
