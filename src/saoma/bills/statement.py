"""A consumer's bills: every movement of the wallet's money, one row each, with names.

The rows are the ledger's transfers that debit or credit the wallet's account, so every amount
is what moved: a refund of a discounted payment shows what went back to the payer, not the price
refunded. Each transfer is joined with the business row it was made for (its ``ref``, or for a
payment its ``transfer_id``) for the other party's name, the note and the state. A withdrawal's
bank answer (the post or release of its hold) is folded into the withdrawal's own row; a hold at
a merchant keeps its rows: reserved, then captured or released.

Pages are newest first by the ledger's sequence number (keyset: ``next_cursor`` is the last
row's ``seq``); a month is a calendar month in the platform's time zone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from saoma.bills import rows as named
from saoma.core.errors import InvalidRequest, NotFound
from saoma.db import read
from saoma.ledger import TransferCode as C
from saoma.ledger import tables as lt
from saoma.pagination import check_limit, choice, page_of, parse_cursor
from saoma.wallets.service import Consumer

# What each filter shows, by the ledger's transfer codes.
KINDS: dict[str, tuple[int, ...]] = {
    "payment": (C.PAYMENT, C.CAPTURE),
    "refund": (C.REFUND,),
    "transfer": (C.TRANSFER,),
    "red_packet": (C.RED_PACKET,),
    "top_up": (C.TOP_UP,),
    "withdrawal": (C.WITHDRAWAL,),
    "hold": (C.HOLD, C.CAPTURE, C.RELEASE, C.EXPIRY),
}
ALL_CODES = tuple(sorted({c for codes in KINDS.values() for c in codes}))
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
BILL_ID_MAX = 64


def month_range(value: str | None, tz: ZoneInfo, field: str = "month") -> tuple[int, int] | None:
    """``YYYY-MM`` as [first microsecond, first microsecond of the next month) in ``tz``."""
    if value is None or value == "":
        return None
    found = _MONTH.fullmatch(value) if value.isascii() else None
    if (
        found is None
        or not 1 <= int(found.group(2)) <= 12
        or not 1970 <= int(found.group(1)) <= 9998
    ):
        raise InvalidRequest(f"{field} must be a month as YYYY-MM, such as 2026-12", field=field)
    year, month = int(found.group(1)), int(found.group(2))
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000


class Bills:
    """Reads the bills of a wallet; writes nothing."""

    def __init__(self, engine: Engine, tz: ZoneInfo) -> None:
        self.engine = engine
        self.tz = tz

    def page(
        self,
        consumer: Consumer,
        *,
        month: str | None = None,
        kind: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """One page of the wallet's bills, newest first, with the names of the other parties."""
        span = month_range(month, self.tz)
        codes = KINDS[k] if (k := choice(kind, "kind", tuple(KINDS))) else ALL_CODES
        before = parse_cursor(cursor)
        limit = check_limit(limit)
        with read(self.engine) as conn:
            found: list[Any] = []
            for side in (lt.transfers.c.debit_account_id, lt.transfers.c.credit_account_id):
                query = _movements(side == consumer.account_id, codes, span, before, limit)
                found += conn.execute(query).all()
            found.sort(key=lambda r: r.seq, reverse=True)
            page, next_cursor = page_of(found[: limit + 1], limit)
            data = named.rows(conn, consumer, page)
        return {"data": data, "next_cursor": next_cursor}

    def one(self, consumer: Consumer, bill_id: str) -> dict[str, Any]:
        """The receipt of one row: the row as the list shows it, found by its id."""
        if len(bill_id) > BILL_ID_MAX or not bill_id.isprintable():  # nothing a database refuses
            raise NotFound("no such bill")
        t = lt.transfers.c
        mine = or_(
            t.debit_account_id == consumer.account_id, t.credit_account_id == consumer.account_id
        )
        with read(self.engine) as conn:
            row = conn.execute(
                _movements(and_(mine, t.id == bill_id), ALL_CODES, None, None, 0)
            ).first()
            if row is None:
                raise NotFound("no such bill")
            return named.rows(conn, consumer, [row])[0]


def _movements(
    where: Any, codes: tuple[int, ...], span: tuple[int, int] | None, before: int | None, limit: int
) -> Any:
    """The transfers ``where`` selects, with the hold each post or release resolves (its code,
    ref and amount) and the state of the hold each pending transfer made; a withdrawal's post or
    release is left out (its hold's row says how it ended)."""
    t = lt.transfers
    pending = aliased(lt.transfers, name="pending")
    query = (
        select(
            t.c.seq,
            t.c.id,
            t.c.debit_account_id,
            t.c.credit_account_id,
            t.c.amount,
            t.c.code,
            t.c.flags,
            t.c.ref,
            t.c.created_at_us,
            pending.c.code.label("pending_code"),
            pending.c.ref.label("pending_ref"),
            pending.c.amount.label("pending_amount"),
            lt.holds.c.state.label("hold_state"),
        )
        .outerjoin(pending, pending.c.id == t.c.pending_id)
        .outerjoin(lt.holds, lt.holds.c.transfer_id == t.c.id)
        .where(
            where,
            t.c.code.in_(codes),
            or_(pending.c.code.is_(None), pending.c.code != int(C.WITHDRAWAL)),
        )
        .order_by(t.c.seq.desc())
    )
    if span is not None:
        query = query.where(t.c.created_at_us >= span[0], t.c.created_at_us < span[1])
    if before is not None:
        query = query.where(t.c.seq < before)
    return query.limit(limit + 1) if limit else query
