"""What a merchant reads: takings today, per hour and per day, and statements for any dates.

Days and hours are the merchant's local ones (``SAOMA_TIMEZONE``, Shenzhen by default).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import column, select, table

from saoma.core.errors import InvalidRequest
from saoma.core.ids import now_us
from saoma.core.money import format_minor
from saoma.merchants.service import Merchant
from saoma.payments import tables as m
from saoma.replicas import Freshness, Replicas

STATEMENT_DAYS_MAX = 366
CHART_DAYS_MAX = 90
HEADER = [
    *("time", "payment_id", "kind", "order_id", "note", "currency"),
    *("gross", "fee", "refunded", "net", "discount_paid_by_campaign", "mandate_id"),
]
# The debits made under mandates, named here rather than imported: the mandates package builds
# on this one. A mandate's debit shows the mandate it rests on in the statement.
_MANDATE_DEBITS = table("mandate_debits", column("payment_id"), column("mandate_id"))


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _start_of(day: date, tz: ZoneInfo) -> int:
    return _us(datetime.combine(day, time(), tzinfo=tz))


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


DAY_FIRST, DAY_LAST = date(1970, 1, 1), date(9998, 12, 31)  # the day after is a date too


def parse_day(value: str, field: str) -> date:
    try:
        if not _DAY.fullmatch(value):  # fromisoformat takes 20261127 and 2026-W48-5 too
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            f"{field} must be a date like 2026-11-27 (got {value[:40]!r})", field=field
        ) from None
    if not DAY_FIRST <= day <= DAY_LAST:
        raise InvalidRequest(f"{field} must be a date from {DAY_FIRST} to {DAY_LAST}", field=field)
    return day


def statement_range(start: str, end: str) -> tuple[date, date]:
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if last < first:
        raise InvalidRequest("to must be on or after from", field="to")
    if (last - first).days >= STATEMENT_DAYS_MAX:
        raise InvalidRequest(f"a statement covers {STATEMENT_DAYS_MAX} days at most", field="to")
    return first, last


class Reports:
    """Read from the standby when one is set (``saoma.replicas``): each answer says how old."""

    def __init__(self, replicas: Replicas, tz: ZoneInfo) -> None:
        self.replicas = replicas
        self.tz = tz

    def today(self) -> date:
        return datetime.now(self.tz).date()

    def _rows(
        self, merchant: Merchant, since_us: int, until_us: int
    ) -> tuple[list[Any], Freshness]:
        p, d = m.payments, _MANDATE_DEBITS
        query = (
            select(p.c.id, p.c.kind, p.c.amount, p.c.fee, p.c.refunded, p.c.subsidy)
            .add_columns(p.c.note, p.c.currency, p.c.order_id, p.c.created_at_us, d.c.mandate_id)
            .outerjoin(d, d.c.payment_id == p.c.id)
            .where(p.c.merchant_id == merchant.id)
            .where(p.c.created_at_us >= since_us, p.c.created_at_us < until_us)
            .order_by(p.c.seq)
        )
        with self.replicas.reading() as (conn, freshness):
            return list(conn.execute(query).all()), freshness

    def summary(self, merchant: Merchant, *, days: int = 7) -> dict[str, Any]:
        """Today's totals, today per hour, and the last ``days`` days per day."""
        if not 1 <= days <= CHART_DAYS_MAX:
            raise InvalidRequest(f"days must be between 1 and {CHART_DAYS_MAX}", field="days")
        today = self.today()
        first = today - timedelta(days=days - 1)
        rows, freshness = self._rows(merchant, _start_of(first, self.tz), now_us() + 1)
        per_day = {first + timedelta(days=i): [0, 0] for i in range(days)}
        per_hour = [[0, 0] for _ in range(24)]
        totals = {"count": 0, "gross": 0, "fees": 0, "refunded": 0, "net": 0}
        for row in rows:
            local = datetime.fromtimestamp(row.created_at_us / 1_000_000, self.tz)
            bucket = per_day.get(local.date())
            if bucket is not None:
                bucket[0] += 1
                bucket[1] += row.amount
            if local.date() == today:
                per_hour[local.hour][0] += 1
                per_hour[local.hour][1] += row.amount
                totals["count"] += 1
                totals["gross"] += row.amount
                totals["fees"] += row.fee
                totals["refunded"] += row.refunded
        totals["net"] = totals["gross"] - totals["fees"] - totals["refunded"]
        return {
            "currency": merchant.currency,
            "timezone": str(self.tz),
            "date": today.isoformat(),
            "today": totals,
            "per_hour": [{"hour": h, "count": c, "amount": a} for h, (c, a) in enumerate(per_hour)],
            "per_day": [
                {"date": d.isoformat(), "count": c, "amount": a} for d, (c, a) in per_day.items()
            ],
            **freshness.view(),
        }

    def statement_csv(
        self, merchant: Merchant, first: date, last: date
    ) -> tuple[Iterator[str], Freshness]:
        """CSV lines, header first: every payment from ``first`` to ``last`` inclusive (read
        now), and how old they may be."""
        rows, freshness = self._rows(
            merchant, _start_of(first, self.tz), _start_of(last + timedelta(days=1), self.tz)
        )
        return self._csv(merchant, rows), freshness

    def _csv(self, merchant: Merchant, rows: list[Any]) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def line(values: list[Any]) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(values)
            return buffer.getvalue()

        yield line(HEADER)
        totals = [0, 0, 0, 0]
        for row in rows:
            local = datetime.fromtimestamp(row.created_at_us / 1_000_000, self.tz)
            net = row.amount - row.fee - row.refunded
            money = [row.amount, row.fee, row.refunded, net]
            totals = [t + v for t, v in zip(totals, money, strict=True)]
            yield line(
                [local.isoformat(timespec="seconds"), row.id, row.kind, row.order_id or ""]
                + [_cell(row.note), row.currency]
                + [format_minor(v, row.currency) for v in money]
                + [format_minor(row.subsidy, row.currency), row.mandate_id or ""]
            )
        yield line(
            ["total", "", "", "", "", merchant.currency]
            + [format_minor(v, merchant.currency) for v in totals]
            + ["", ""]
        )


def _cell(text: str) -> str:
    """Keep a spreadsheet from reading a note as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
