"""When and how each merchant is paid: the schedule's cut-offs, and the overdraft allowance.

A schedule is a daily or weekly cut-off hour in the installation's time zone. ``daily`` at 00:00
is T+1 (a day's payments are paid the next morning), ``daily`` at a later hour is T+0 (paid the
same day at that hour); ``weekly`` adds a weekday.

The overdraft allowance lets refunds take a merchant below zero after its money was paid out,
up to a limit the operator sets, without the ledger ever overdrawing an account: the allowance
is moved into the merchant's account from the platform's overdraft account, and everything shown
to the merchant is its balance less the allowance. The ledger's own rule (an account never goes
below zero) is therefore the limit, enforced in the same atomic step as the refund.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import AlreadySettled, InvalidRequest
from saoma.core.ids import now_us
from saoma.db import read, write
from saoma.ledger import Transfer, TransferCode
from saoma.merchants import tables as merchant_tables
from saoma.movements import Movements, Refused, Unit
from saoma.payments.rows import derived_id
from saoma.settlement import tables as t

SCHEDULES = ("daily", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def run_time(text: str, field: str = "at") -> int:
    """The microseconds of an ISO 8601 time with a zone, between the years 2000 and 2200: the
    moment a settlement run is made as of (``saoma settle --at``, ``POST /v1/sandbox/settle``)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{field} must be an ISO 8601 time", field=field) from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{field} needs a time zone, like +08:00", field=field)
    if not 2000 <= moment.year <= 2200:
        raise InvalidRequest(f"{field} must be between the years 2000 and 2200", field=field)
    return int(moment.timestamp() * 1_000_000)


def last_cutoff(now: int, tz: ZoneInfo, schedule: str, hour: int, weekday: int) -> int:
    """The newest cut-off at or before ``now`` (microseconds) for this schedule."""
    local = datetime.fromtimestamp(now / 1_000_000, tz)
    cutoff = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if cutoff > local:
        cutoff -= timedelta(days=1)
    if schedule == "weekly":
        cutoff -= timedelta(days=(cutoff.weekday() - weekday) % 7)
    return int(cutoff.timestamp() * 1_000_000)


def business_date(cutoff_us: int, tz: ZoneInfo) -> str:
    """The day a period ending at ``cutoff_us`` is named by: the day of its last moment."""
    return datetime.fromtimestamp((cutoff_us - 1) / 1_000_000, tz).date().isoformat()


def terms_view(row: Any) -> dict[str, Any]:
    return {
        "schedule": row["schedule"],
        "cutoff_hour": row["cutoff_hour"],
        "weekday": WEEKDAYS[row["weekday"]],
        "reserve_percent": row["reserve_ppm"] / 10_000,
        "reserve_days": row["reserve_days"],
        "overdraft_limit": row["overdraft_limit"],
    }


class Terms:
    def __init__(
        self,
        engine: Engine,
        movements: Movements,
        *,
        overdraft_account: int,
        default_overdraft: int,
    ) -> None:
        self.engine = engine
        self.movements = movements
        self.overdraft_account = overdraft_account
        self.default_overdraft = default_overdraft

    def ensure(self, now: int | None = None) -> int:
        """Give every merchant without terms the defaults (T+1, no reserve, the default
        overdraft limit). Returns how many were added. Several processes may run it at once."""
        now = now_us() if now is None else now
        try:
            with write(self.engine) as conn:
                done = conn.execute(
                    text(
                        "INSERT INTO settlement_terms (merchant_id, schedule, cutoff_hour,"
                        " weekday, reserve_ppm, reserve_days, overdraft_limit,"
                        " overdraft_granted, settled_through_us, updated_at_us)"
                        " SELECT m.id, 'daily', 0, 0, 0, 0, :overdraft, 0, 0, :now"
                        " FROM merchants m WHERE NOT EXISTS"
                        " (SELECT 1 FROM settlement_terms s WHERE s.merchant_id = m.id)"
                    ),
                    {"overdraft": self.default_overdraft, "now": now},
                )
                return int(done.rowcount or 0)
        except IntegrityError:  # another process added the same merchant's terms first
            return 0

    def get(self, merchant_id: str) -> Any:
        """A merchant's terms (the defaults are given to it first if it has none yet)."""
        query = select(t.settlement_terms).where(t.settlement_terms.c.merchant_id == merchant_id)
        with read(self.engine) as conn:
            row = conn.execute(query).first()
        if row is None:
            self.ensure()
            with read(self.engine) as conn:
                row = conn.execute(query).first()
        return row

    def granted(self, merchant_id: str) -> int:
        with read(self.engine) as conn:
            value = conn.execute(
                select(t.settlement_terms.c.overdraft_granted).where(
                    t.settlement_terms.c.merchant_id == merchant_id
                )
            ).scalar()
        return int(value or 0)

    def set(self, merchant_id: str, **changes: Any) -> dict[str, Any]:
        """Change a merchant's terms; each value is checked and named when wrong."""
        values: dict[str, Any] = {}
        schedule = changes.get("schedule")
        if schedule is not None:
            if schedule not in SCHEDULES:
                raise InvalidRequest("schedule is daily or weekly", field="schedule")
            values["schedule"] = schedule
        for name, low, high in (
            ("cutoff_hour", 0, 23),
            ("reserve_ppm", 0, 1_000_000),
            ("reserve_days", 0, 365),
            ("overdraft_limit", 0, 10**12),
        ):
            value = changes.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidRequest(
                    f"{name} must be a whole number from {low} to {high}", field=name
                )
            values[name] = value
        weekday = changes.get("weekday")
        if weekday is not None:
            if weekday not in WEEKDAYS:
                raise InvalidRequest(
                    "weekday is a day's English name, like monday", field="weekday"
                )
            values["weekday"] = WEEKDAYS.index(weekday)
        row = self.get(merchant_id)
        if row is None:
            raise InvalidRequest(f"no merchant {merchant_id!r}", field="merchant_id")
        if values:
            with write(self.engine) as conn:
                conn.execute(
                    t.settlement_terms.update()
                    .where(t.settlement_terms.c.merchant_id == merchant_id)
                    .values(**values, updated_at_us=now_us())
                )
        self.sync_allowances(merchant_id)
        return terms_view(self.get(merchant_id)._mapping)

    def sync_allowances(self, merchant_id: str | None = None) -> int:
        """Move each merchant's overdraft allowance to its limit. Lowering it takes money back
        from the merchant, which waits until the merchant holds it. Returns how many moved."""
        st = t.settlement_terms.c
        query = (
            select(t.settlement_terms, merchant_tables.merchants.c.account_id)
            .join(
                merchant_tables.merchants,
                merchant_tables.merchants.c.id == st.merchant_id,
            )
            .where(st.overdraft_limit != st.overdraft_granted)
        )
        if merchant_id is not None:
            query = query.where(st.merchant_id == merchant_id)
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        moved = 0
        for row in rows:
            moved += self._sync_one(row)
        return moved

    def _sync_one(self, row: Any) -> int:
        old, new = row.overdraft_granted, row.overdraft_limit
        delta = new - old
        ident = derived_id("odl", row.merchant_id, str(row.updated_at_us), str(old), str(new))
        debit, credit = (
            (self.overdraft_account, row.account_id)
            if delta > 0
            else (row.account_id, self.overdraft_account)
        )
        transfer = Transfer(
            ident, debit, credit, abs(delta), TransferCode.ALLOWANCE, ref=row.merchant_id
        )

        def record(unit: Unit) -> None:
            done = unit.execute(
                "UPDATE settlement_terms SET overdraft_granted = :new"
                " WHERE merchant_id = :m AND overdraft_granted = :old",
                {"new": new, "m": row.merchant_id, "old": old},
            )
            if done.rowcount != 1:
                raise AlreadySettled("the allowance was moved by another process")

        moved = self.movements.move([transfer], record)
        return 0 if isinstance(moved, Refused) else 1
