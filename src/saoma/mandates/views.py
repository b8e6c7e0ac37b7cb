"""What a mandate looks like to its payer, to its merchant and in its events."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from saoma.core.ids import rfc3339
from saoma.mandates.rules import earliest_us, next_debit_us


def _at(us: int | None) -> str | None:
    return rfc3339(us) if us is not None else None


def notice_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "amount": row.amount,
        "currency": row.currency,
        "state": row.state,
        "created_at": rfc3339(row.created_at_us),
        "debit_from": rfc3339(row.due_at_us),
        "expires_at": rfc3339(row.expires_at_us),
    }


def debit_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "notice_id": row.notice_id,
        "amount": row.amount,
        "state": row.state,
        "reason": row.reason or None,
        "payment_id": row.payment_id,
        "created_at": rfc3339(row.created_at_us),
    }


def next_debit(row: Any, notices: list[Any], now: int, tz: ZoneInfo) -> dict[str, Any] | None:
    """The next debit to expect: the one a pending notice announced (its amount, from when),
    or else the earliest one could come (no amount yet); None when none can come."""
    if row.state != "active":
        return None
    announced = [n for n in notices if n.state == "pending" and n.expires_at_us > now]
    if announced:
        first = min(announced, key=lambda n: n.due_at_us)
        at = max(first.due_at_us, earliest_us(row, tz))  # not twice in one period
        return {"at": rfc3339(at), "amount": first.amount, "notice_id": first.id}
    at = next_debit_us(row, now, tz)
    return {"at": rfc3339(at), "amount": None, "notice_id": None} if at is not None else None


def summary(row: Any) -> dict[str, Any]:
    """The mandate's terms and state, as its events carry them."""
    return {
        "id": row.id,
        "merchant_mandate_no": row.merchant_mandate_no,
        "purpose": row.purpose,
        "amount_max": row.amount_max,
        "currency": row.currency,
        "frequency": row.frequency,
        "start_on": row.start_on,
        "end_on": row.end_on,
        "state": row.state,
        "debits_made": row.debits,
        "created_at": rfc3339(row.created_at_us),
        "agreed_at": _at(row.agreed_at_us),
        "revoked_at": _at(row.revoked_at_us),
    }


def mandate_view(
    row: Any,
    *,
    notices: list[Any],
    debits: list[Any],
    now: int,
    tz: ZoneInfo,
    merchant: dict[str, Any] | None = None,
    payer: str | None = None,
) -> dict[str, Any]:
    """The mandate with its notices, its debits (newest first) and the next one to expect; the
    payer sees the merchant (``merchant``), the merchant the payer's masked name (``payer``)."""
    view = summary(row)
    if merchant is not None:
        view["merchant"] = merchant
    if payer is not None:
        view["payer"] = payer
    view["next_debit"] = next_debit(row, notices, now, tz)
    view["notices"] = [notice_view(n) for n in notices]
    view["debits"] = [debit_view(d) for d in debits]
    return view
