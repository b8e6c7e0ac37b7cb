"""What a merchant sees of its settlements: the list, one settlement, and its statement.

A statement has one line per movement the settlement took, each tied to the payment (and, for a
refund, the refund) it came from. It is streamed: a settlement of a busy month is never loaded
whole, in JSON pages or as one CSV file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import not_found
from saoma.core.ids import rfc3339
from saoma.core.money import format_minor
from saoma.db import read
from saoma.merchants.service import Merchant
from saoma.pagination import (
    TRANSFER_TIME_CURSOR,
    check_limit,
    choice,
    newest_first,
    parse_time_cursor,
    time_page_of,
)
from saoma.payments import tables as pt
from saoma.payments.rows import derived_id
from saoma.settlement import tables as t

STATES = ("closed", "paying", "paid", "failed", "carried", "nothing")
CSV_COLUMNS = ("time", "kind", "amount", "currency", "payment_id", "refund_id", "reference")
CSV_CHUNK = 1000
PAYMENT_PREFIXES = ("pay", "ord", "chg")  # payment transfer ids (saoma.payments), "fee" for fees


def settlement_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "business_date": row["business_date"],
        "period_start": rfc3339(row["period_start_us"]) if row["period_start_us"] else None,
        "period_end": rfc3339(row["period_end_us"]),
        "currency": row["currency"],
        "lines": row["lines"],
        "gross": row["gross"],
        "fees": row["fees"],
        "refunds": row["refunds"],
        "splits": row["splits"],
        "reserve": row["reserve"],
        "other": row["other"],
        "carried_in": row["carried_in"],
        "net": row["net"],
        "payout": row["payout"],
        "carried_out": row["carried_out"],
        "state": row["state"],
        "attempt": row["attempt"],
        "bank_reference": row["bank_reference"],
        "failure": row["failure"],
        "created_at": rfc3339(row["created_at_us"]),
        "paid_at": rfc3339(row["paid_at_us"]) if row["paid_at_us"] else None,
    }


class Statements:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _row(self, merchant: Merchant, sid: str) -> Any:
        with read(self.engine) as conn:
            row = conn.execute(select(t.settlements).where(t.settlements.c.id == sid)).first()
        if row is None or row.merchant_id != merchant.id or row.state == "open":
            raise not_found("settlement", sid)
        return row

    def get(self, merchant: Merchant, sid: str) -> dict[str, Any]:
        return settlement_view(self._row(merchant, sid)._mapping)

    def list(
        self,
        merchant: Merchant,
        *,
        cursor: str | None = None,
        limit: int = 20,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of the merchant's settlements, newest first."""
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        state = choice(state, "state", STATES)
        s = t.settlements.c
        query = select(t.settlements).where(s.merchant_id == merchant.id, s.state != "open")
        if state is not None:
            query = query.where(s.state == state)
        query = newest_first(query, s.created_at_us, s.id, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        return {"data": [settlement_view(r._mapping) for r in rows], "next_cursor": next_cursor}

    def lines(
        self, merchant: Merchant, sid: str, *, cursor: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """A page of a settlement's statement, newest line first."""
        settlement = self._row(merchant, sid)
        limit = check_limit(limit)
        after = parse_time_cursor(cursor, shape=TRANSFER_TIME_CURSOR)
        sl = t.settlement_lines.c
        query = select(
            sl.at_us.label("created_at_us"), sl.source.label("id"), sl.kind, sl.ref, sl.amount
        ).where(sl.settlement_id == sid)
        query = newest_first(query, sl.at_us, sl.source, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        ids = self._ids(merchant, rows)
        return {
            "data": [self._line(r, settlement.currency, ids) for r in rows],
            "next_cursor": next_cursor,
        }

    def csv(self, merchant: Merchant, sid: str) -> Iterator[str]:
        """The whole statement as CSV, oldest line first, read and written in chunks (the
        settlement is looked up now, so an unknown one is refused before anything is sent)."""
        return self._csv_lines(merchant, self._row(merchant, sid))

    def _csv_lines(self, merchant: Merchant, settlement: Any) -> Iterator[str]:
        sid = settlement.id
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        yield out.getvalue()
        sl = t.settlement_lines.c
        last: tuple[int, str] | None = None
        while True:
            query = select(
                sl.at_us.label("created_at_us"), sl.source.label("id"), sl.kind, sl.ref, sl.amount
            ).where(sl.settlement_id == sid)
            if last is not None:
                query = query.where(
                    (sl.at_us > last[0]) | ((sl.at_us == last[0]) & (sl.source > last[1]))
                )
            with read(self.engine) as conn:
                rows = conn.execute(query.order_by(sl.at_us, sl.source).limit(CSV_CHUNK)).all()
            if not rows:
                return
            ids = self._ids(merchant, rows)
            out.seek(0)
            out.truncate()
            for r in rows:
                line = self._line(r, settlement.currency, ids)
                writer.writerow(
                    (
                        line["time"],
                        line["kind"],
                        format_minor(line["amount"], settlement.currency),
                        settlement.currency,
                        line["payment_id"] or "",
                        line["refund_id"] or "",
                        line["reference"],
                    )
                )
            yield out.getvalue()
            last = (rows[-1].created_at_us, rows[-1].id)

    @staticmethod
    def _line(
        row: Any, currency: str, ids: tuple[dict[str, str], dict[str, str]]
    ) -> dict[str, Any]:
        payments, refunds = ids
        payment_id = payments.get(row.id)
        if payment_id is None and str(row.ref).startswith("pay_"):
            payment_id = row.ref  # refunds, fees given back, splits, subsidies
        return {
            "time": rfc3339(row.created_at_us),
            "kind": row.kind,
            "amount": row.amount,
            "currency": currency,
            "payment_id": payment_id,
            "refund_id": refunds.get(row.id),
            "reference": row.ref,
            "transfer_id": row.id,
        }

    def _ids(
        self, merchant: Merchant, rows: Sequence[Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """The payment behind each payment, capture and fee line, and the refund behind each
        refund line, read for a page of lines at once."""
        return self._payment_ids(merchant, rows), self._refund_ids(merchant, rows)

    def _payment_ids(self, merchant: Merchant, rows: Sequence[Any]) -> dict[str, str]:
        # A payment's fee transfer is its payment transfer's id with "fee" for its prefix; a hold's
        # capture fee names the hold, which names its payment.
        wanted: dict[str, list[str]] = {}
        holds: dict[str, str] = {}
        for r in rows:
            if r.kind in ("payment", "capture"):
                wanted.setdefault(r.id, []).append(r.id)
            elif r.kind == "fee" and r.id.startswith("fee:"):
                for prefix in PAYMENT_PREFIXES:  # a static code's, an order's, a charge's
                    wanted.setdefault(prefix + r.id[3:], []).append(r.id)
            elif r.kind == "fee" and r.id.startswith("capfee:"):
                holds[r.ref] = r.id
        found: dict[str, str] = {}
        with read(self.engine) as conn:
            if wanted:
                for pid, tid in conn.execute(
                    select(pt.payments.c.id, pt.payments.c.transfer_id).where(
                        pt.payments.c.transfer_id.in_(wanted),
                        pt.payments.c.merchant_id == merchant.id,
                    )
                ):
                    found.update(dict.fromkeys(wanted[tid], pid))
            if holds:
                for hold_id, pid in conn.execute(
                    select(pt.preauths.c.id, pt.preauths.c.payment_id).where(
                        pt.preauths.c.id.in_(holds)
                    )
                ):
                    if pid is not None:
                        found[holds[hold_id]] = pid
        return found

    def _refund_ids(self, merchant: Merchant, rows: Sequence[Any]) -> dict[str, str]:
        """The refund behind each refund line (its transfer id derives from the refund's
        number, so the refunds of the lines' payments are read and their ids worked out)."""
        payments = {r.ref for r in rows if r.kind == "refund"}
        if not payments:
            return {}
        with read(self.engine) as conn:
            refunds = conn.execute(
                select(pt.refunds.c.id, pt.refunds.c.merchant_refund_no).where(
                    pt.refunds.c.payment_id.in_(payments)
                )
            ).all()
        return {derived_id("rfd", merchant.id, r.merchant_refund_no): r.id for r in refunds}
