"""Split agreements: a merchant offers another merchant a share of its payments, the receiver
accepts or declines, and either side ends it.

Each change of state is one conditional UPDATE (``WHERE state = 'proposed'``…) in the same
transaction as the outbox event that tells the other party, so two answers sent at once leave
one of them standing and one event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from saoma.core.errors import Conflict, CurrencyMismatch, InvalidRequest, not_found
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.core.money import AMOUNT_MINOR_MAX
from saoma.db import read
from saoma.merchants.service import Merchant, Merchants
from saoma.movements import Unit
from saoma.payments.service import Payments
from saoma.settlement import tables as t

SHARE_PPM_MAX = 1_000_000
# Who may move an agreement from which states to which, and who is told.
CHANGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "accepted": ("receiver", ("proposed",)),
    "declined": ("receiver", ("proposed",)),
    "ended": ("either", ("proposed", "accepted")),
}
_CHANGE_SQL = (
    "UPDATE split_agreements SET state = :to, updated_at_us = :now"
    " WHERE id = :id AND state IN ({states}) AND ({who})"
)
_WHO = {
    "receiver": "receiver_id = :me",
    "either": "receiver_id = :me OR merchant_id = :me",
}


def agreement_view(row: Mapping[Any, Any], currency: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "merchant_id": row["merchant_id"],
        "receiver_id": row["receiver_id"],
        "share_ppm": row["share_ppm"],
        "fixed": row["fixed"],
        "cap": row["cap"],
        "currency": currency,
        "standing": bool(row["standing"]),
        "state": row["state"],
        "created_at": rfc3339(row["created_at_us"]),
        "updated_at": rfc3339(row["updated_at_us"]),
    }


def _whole(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"{field} must be a whole number from {low} to {high}", field=field)
    return value


def check_terms(share_ppm: Any, fixed: Any, cap: Any) -> tuple[int, int, int]:
    """Exactly one of a percentage (``share_ppm``, 1 to 1,000,000) or a fixed amount; a cap
    of 0 (none) or more."""
    share_ppm = _whole("share_ppm", share_ppm, 0, SHARE_PPM_MAX)
    fixed = _whole("fixed", fixed, 0, AMOUNT_MINOR_MAX)
    cap = _whole("cap", cap, 0, AMOUNT_MINOR_MAX)
    if share_ppm and fixed:
        raise InvalidRequest("give share_ppm or fixed, not both", field="fixed")
    if not share_ppm and not fixed:
        raise InvalidRequest(
            "share_ppm (1 to 1000000) or fixed (above 0) is required", field="share_ppm"
        )
    return share_ppm, fixed, cap


class Agreements:
    def __init__(self, engine: Engine, payments: Payments, merchants: Merchants) -> None:
        self.engine = engine
        self.payments = payments  # its movements, read at each call (a test may swap them)
        self.merchants = merchants

    def propose(
        self,
        merchant: Merchant,
        receiver_id: str,
        *,
        share_ppm: int = 0,
        fixed: int = 0,
        cap: int = 0,
        standing: bool = False,
    ) -> dict[str, Any]:
        """Offer ``receiver_id`` (another merchant, same currency) a share of payments."""
        share_ppm, fixed, cap = check_terms(share_ppm, fixed, cap)
        receiver = self._receiver(merchant, receiver_id)
        now = now_us()
        row = {
            "id": new_id("sa"),
            "merchant_id": merchant.id,
            "receiver_id": receiver.id,
            "share_ppm": share_ppm,
            "fixed": fixed,
            "cap": cap,
            "standing": 1 if standing else 0,
            "state": "proposed",
            "created_at_us": now,
            "updated_at_us": now,
        }
        view = agreement_view(row, merchant.currency)

        def record(unit: Unit) -> None:
            unit.insert(t.split_agreements, row)
            self._tell(unit, "split_agreement.proposed", view, receiver, now)

        self.payments.movements.record_alone(record)
        return view

    def _receiver(self, merchant: Merchant, receiver_id: Any) -> Merchant:
        if not isinstance(receiver_id, str) or not receiver_id or len(receiver_id) > 32:
            raise InvalidRequest("receiver_id must be a merchant id", field="receiver_id")
        if receiver_id == merchant.id:
            raise InvalidRequest("receiver_id must be another merchant", field="receiver_id")
        try:
            receiver = self.merchants.get(receiver_id)
        except Exception as exc:
            raise InvalidRequest(f"no merchant {receiver_id!r}", field="receiver_id") from exc
        if receiver.currency != merchant.currency:
            raise CurrencyMismatch(
                f"the receiver is paid in {receiver.currency}, not {merchant.currency}",
                field="receiver_id",
            )
        return receiver

    def change(self, merchant: Merchant, agreement_id: str, state: str) -> dict[str, Any]:
        """Accept or decline (the receiver) or end (either side): one conditional UPDATE."""
        who, states = CHANGES[state]
        row = self.row_of(merchant, agreement_id)
        if row.state == state:
            return agreement_view(row._mapping, merchant.currency)  # sent again
        if who == "receiver" and row.receiver_id != merchant.id:
            raise not_found("split agreement", agreement_id)  # the giver cannot accept
        now = now_us()
        other = self.merchants.get(
            row.merchant_id if row.receiver_id == merchant.id else row.receiver_id
        )
        changed = {**row._mapping, "state": state, "updated_at_us": now}
        view = agreement_view(changed, other.currency)
        sql = _CHANGE_SQL.format(
            states=", ".join(f"'{s}'" for s in states),  # constants of CHANGES, never input
            who=_WHO[who],
        )

        def record(unit: Unit) -> None:
            params = {"to": state, "now": now, "id": agreement_id, "me": merchant.id}
            if unit.execute(sql, params).rowcount != 1:
                raise Conflict(f"the split agreement is {self._state(agreement_id)}, not {state}")
            self._tell(unit, f"split_agreement.{state}", view, other, now)

        self.payments.movements.record_alone(record)
        return view

    def _state(self, agreement_id: str) -> str:
        with read(self.engine) as conn:
            found = conn.execute(
                select(t.split_agreements.c.state).where(t.split_agreements.c.id == agreement_id)
            ).scalar()
        return str(found)

    @staticmethod
    def _tell(unit: Unit, event: str, view: dict[str, Any], to: Merchant, now: int) -> None:
        unit.emit(
            event,
            subject=view["id"],
            data=view,
            at_us=now,
            merchant_id=to.id,
            url=to.webhook_url,
        )

    def row_of(self, merchant: Merchant, agreement_id: str) -> Any:
        """The agreement if ``merchant`` is a party to it (giver or receiver)."""
        a = t.split_agreements
        with read(self.engine) as conn:
            row = conn.execute(
                select(a).where(
                    a.c.id == agreement_id,
                    or_(a.c.merchant_id == merchant.id, a.c.receiver_id == merchant.id),
                )
            ).first()
        if row is None:
            raise not_found("split agreement", agreement_id)
        return row

    def of(self, merchant: Merchant) -> dict[str, Any]:
        """The agreements the merchant gives and those it receives, newest first."""
        a = t.split_agreements
        query = (
            select(a)
            .where(or_(a.c.merchant_id == merchant.id, a.c.receiver_id == merchant.id))
            .order_by(a.c.created_at_us.desc(), a.c.id.desc())
        )
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        return {"data": [agreement_view(r._mapping, merchant.currency) for r in rows]}
