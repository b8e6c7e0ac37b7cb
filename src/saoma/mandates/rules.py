"""The rules of a mandate, pure: its period, how often it may be debited, what a notice allows.

A debit is allowed only when all of these hold at the moment it is made: the mandate is active
(agreed, not paused, not revoked); the moment is within its period (from the start date's
midnight to the end of the end date, in the server's zone); the amount is at most the mandate's
maximum; no debit was made yet in the current day, week (Monday to Sunday) or month, as the
frequency says; and a notice of this mandate announced exactly this amount at least 24 hours
ago (the UPI AutoPay rule), was not objected to, not used, and has not expired.

The service decides with ONE conditional UPDATE on the mandate and one on the notice, in the
transaction that moves the money; :func:`refusal` only names why a debit was refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from saoma.core.errors import (
    InvalidRequest,
    MandateAmountAboveMax,
    MandateEnded,
    MandateNotAgreed,
    MandateNoticeAmount,
    MandateNoticeExpired,
    MandateNoticeMissing,
    MandateNoticeObjected,
    MandateNoticeTooRecent,
    MandateNoticeUsed,
    MandateNotStarted,
    MandatePaused,
    MandateRevoked,
    MandateTooSoon,
    SaomaError,
)

FREQUENCIES = ("daily", "weekly", "monthly")
NOTICE_LEAD_US = 24 * 3600 * 1_000_000  # a notice comes at least a day before its debit
NOTICE_VALID_US = 7 * 24 * 3600 * 1_000_000  # then a week to debit on it, no longer
MANDATE_DAYS_MAX = 5 * 366  # a mandate runs five years at most
PURPOSE_CHARS_MAX = 128


@dataclass(frozen=True, slots=True)
class Period:
    """A mandate's period: its dates as given and the instants they stand for."""

    start_on: str
    end_on: str
    starts_at_us: int
    ends_at_us: int


def _date(value: str, field: str) -> date:
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or len(value) != 10:
        raise InvalidRequest(f"{field} must be a date, YYYY-MM-DD", field=field)
    return parsed


def _midnight_us(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(), tz).timestamp() * 1_000_000)


def period_of(start_on: str, end_on: str, tz: ZoneInfo, now: int) -> Period:
    """The period from ``start_on`` to ``end_on`` (both included, days in ``tz``): it ends
    in the future, does not end before it starts, and lasts at most ``MANDATE_DAYS_MAX`` days."""
    start, end = _date(start_on, "start_on"), _date(end_on, "end_on")
    if end < start:
        raise InvalidRequest("end_on must not be before start_on", field="end_on")
    if (end - start).days >= MANDATE_DAYS_MAX:
        raise InvalidRequest(f"a mandate lasts {MANDATE_DAYS_MAX} days at most", field="end_on")
    if end >= date.max - timedelta(days=1):  # the day after it must exist
        raise InvalidRequest("end_on is too far ahead", field="end_on")
    ends = _midnight_us(end + timedelta(days=1), tz)
    if ends <= now:
        raise InvalidRequest("end_on has passed", field="end_on")
    return Period(start.isoformat(), end.isoformat(), _midnight_us(start, tz), ends)


def check_frequency(value: str) -> str:
    if value not in FREQUENCIES:
        raise InvalidRequest("frequency is daily, weekly or monthly", field="frequency")
    return value


def period_index(frequency: str, at_us: int, tz: ZoneInfo) -> int:
    """The day, week (from Monday) or month ``at_us`` falls in, as one growing number."""
    day = datetime.fromtimestamp(at_us / 1_000_000, UTC).astimezone(tz).date()
    if frequency == "daily":
        return day.toordinal()
    if frequency == "weekly":
        return (day.toordinal() - 1) // 7  # day 1 of the proleptic calendar is a Monday
    return day.year * 12 + day.month - 1


def period_start_us(frequency: str, index: int, tz: ZoneInfo) -> int:
    """When the period ``index`` of ``frequency`` begins: the inverse of :func:`period_index`."""
    if frequency == "daily":
        day = date.fromordinal(index)
    elif frequency == "weekly":
        day = date.fromordinal(index * 7 + 1)
    else:
        day = date(index // 12, index % 12 + 1, 1)
    return _midnight_us(day, tz)


def mandate_refusal(mandate: Any, amount: int, now: int, period: int) -> SaomaError | None:
    """Why the mandate allows no debit of ``amount`` at ``now`` (None when it does)."""
    if mandate.state == "requested":
        return MandateNotAgreed("the payer has not agreed to this mandate yet")
    if mandate.state == "revoked":
        return MandateRevoked("the payer revoked this mandate")
    if mandate.state == "paused":
        return MandatePaused("the payer paused this mandate")
    if now < mandate.starts_at_us:
        return MandateNotStarted(f"the mandate starts on {mandate.start_on}")
    if now >= mandate.ends_at_us:
        return MandateEnded(f"the mandate ended on {mandate.end_on}")
    if amount > mandate.amount_max:
        return MandateAmountAboveMax(
            f"the payer allowed {mandate.amount_max} per debit at most",
            field="amount",
            amount_max=mandate.amount_max,
        )
    if mandate.last_period is not None and mandate.last_period >= period:
        return MandateTooSoon(f"this mandate was debited already this {_unit(mandate.frequency)}")
    return None


def notice_refusal(notice: Any, mandate_id: str, amount: int, now: int) -> SaomaError | None:
    """Why ``notice`` allows no debit of ``amount`` at ``now`` (None when it does)."""
    if notice is None or notice.mandate_id != mandate_id:
        return MandateNoticeMissing("no notice of this mandate has that id", field="notice_id")
    if notice.state == "objected":
        return MandateNoticeObjected("the payer objected to this notice", field="notice_id")
    if notice.state == "used":
        return MandateNoticeUsed("a debit was made on this notice already", field="notice_id")
    if notice.amount != amount:
        return MandateNoticeAmount(
            f"the notice announced {notice.amount}", field="amount", notice_amount=notice.amount
        )
    if now < notice.due_at_us:
        return MandateNoticeTooRecent(
            "a notice must be 24 hours old before its debit", field="notice_id"
        )
    if now >= notice.expires_at_us:
        return MandateNoticeExpired("the notice has expired: send a new one", field="notice_id")
    return None


def debit_refusal(
    mandate: Any, notice: Any, amount: int, now: int, period: int
) -> SaomaError | None:
    """Why no debit of ``amount`` can be made at ``now`` on ``notice`` (None when it can): a
    notice missing or used first (a debit racing another on one notice learns the notice was
    used), then the mandate's rules, then the rest of the notice's."""
    if notice is None or notice.mandate_id != mandate.id or notice.state == "used":
        return notice_refusal(notice, mandate.id, amount, now)
    return mandate_refusal(mandate, amount, now, period) or notice_refusal(
        notice, mandate.id, amount, now
    )


def _unit(frequency: str) -> str:
    return {"daily": "day", "weekly": "week"}.get(frequency, "month")


def earliest_us(mandate: Any, tz: ZoneInfo) -> int:
    """The earliest the frequency and the start date allow the next debit."""
    if mandate.last_period is None:
        return int(mandate.starts_at_us)
    following = period_start_us(mandate.frequency, mandate.last_period + 1, tz)
    return max(following, int(mandate.starts_at_us))


def next_debit_us(mandate: Any, now: int, tz: ZoneInfo) -> int | None:
    """The earliest a next debit may come without a notice sent yet: a day after now, in a
    period not yet debited, within the mandate's period; None if no debit can come."""
    if mandate.state in ("revoked", "paused"):
        return None
    at = max(now + NOTICE_LEAD_US, earliest_us(mandate, tz))
    return at if at < mandate.ends_at_us else None
