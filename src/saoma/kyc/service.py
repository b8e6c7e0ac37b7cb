"""Onboarding: a merchant submits its business details, risk approves or rejects them.

Until its details are approved a merchant takes at most ``pending_daily_limit`` per local day:
:meth:`Onboarding.take_in` runs inside the record hook of every payment into a merchant, so the
allowance is taken with the money, by ONE conditional UPDATE, or the payment is refused. An
approved merchant costs one primary-key read the first time and nothing after (approval is
final). A decision is one conditional UPDATE from ``pending`` with its audit entry and its
webhook in the same transaction: of many concurrent decisions exactly one is made.
"""

from __future__ import annotations

from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine

from saoma.audit.chain import append
from saoma.core.errors import (
    InvalidRequest,
    KycAlreadySubmitted,
    KycNotPending,
    MerchantNotVerified,
)
from saoma.core.ids import now_us, rfc3339
from saoma.db import read, write
from saoma.kyc import tables as k
from saoma.kyc.crypto import Sealer
from saoma.kyc.details import checked, masked
from saoma.ledger.tx import Tx
from saoma.merchants.service import Merchant, Merchants
from saoma.movements import Movements, Unit
from saoma.wallets.service import day_of

PENDING_DAILY_LIMIT_DEFAULT = 200_000  # ¥2,000
MESSAGE_MIN = 3
MESSAGE_MAX = 500
STATES = ("unverified", "pending", "approved", "rejected")
_APPROVED_CACHE_MAX = 100_000

_ENSURE_ROW = (
    "INSERT INTO merchant_kyc (merchant_id, state) VALUES (:id, 'unverified')"
    " ON CONFLICT (merchant_id) DO NOTHING"
)
_TAKE = (
    "UPDATE merchant_kyc SET"
    " taken = CASE WHEN day = :day THEN taken + :amount ELSE :amount END, day = :day"
    " WHERE merchant_id = :id AND state IN ('unverified', 'pending')"
    " AND CASE WHEN day = :day THEN taken ELSE 0 END + :amount <= :limit"
)
_SUBMIT = (
    "UPDATE merchant_kyc SET state = 'pending', legal_name = :legal_name,"
    " licence_number = :licence_number, category = :category, owner_id_cipher = :cipher,"
    " owner_id_last4 = :last4, message = '', submitted_at_us = :now, decided_at_us = NULL,"
    " decided_by = '', decided_role = ''"
    " WHERE merchant_id = :id AND state IN ('unverified', 'rejected')"
)
_DECIDE = (
    "UPDATE merchant_kyc SET state = :state, message = :message, decided_at_us = :now,"
    " decided_by = :by, decided_role = :role WHERE merchant_id = :id AND state = 'pending'"
)


class Acting(Protocol):
    """An operator making a request (``saoma.api.ops_deps.Actor``)."""

    @property
    def operator(self) -> Any: ...
    @property
    def address(self) -> str: ...
    @property
    def reason(self) -> str: ...


def not_verified() -> MerchantNotVerified:
    return MerchantNotVerified(
        "this merchant has reached what it can take before its business details are approved"
    )


class Onboarding:
    def __init__(
        self,
        engine: Engine,
        merchants: Merchants,
        movements: Movements,
        sealer: Sealer,
        *,
        pending_daily_limit: int = PENDING_DAILY_LIMIT_DEFAULT,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.engine = engine
        self.merchants = merchants
        self.movements = movements
        self.sealer = sealer
        self.limit = pending_daily_limit
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self._approved: set[str] = set()  # approval is final: never asked again

    # --- the limit while not approved -----------------------------------------------------------

    def take_in(self, tx: Tx, merchant_id: str, amount: int) -> None:
        """Take ``amount`` from the merchant's allowance in the payment's own transaction, or
        raise ``MerchantNotVerified``: call it from the record hook of every payment into a
        merchant, so the allowance commits or rolls back with the money."""
        if merchant_id in self._approved:
            return
        state = self._state_in(tx, merchant_id)
        if state == "approved":
            self._remember(merchant_id)
            return
        if state == "rejected":
            raise not_verified()
        if state is None:
            tx.execute(_ENSURE_ROW, {"id": merchant_id})
        params = {
            "id": merchant_id,
            "amount": amount,
            "day": day_of(now_us(), self.tz),
            "limit": self.limit,
        }
        if tx.execute(_TAKE, params).rowcount == 1:
            return
        if self._state_in(tx, merchant_id) == "approved":  # approved a moment ago
            self._remember(merchant_id)
            return
        raise not_verified()

    def _state_in(self, tx: Tx, merchant_id: str) -> str | None:
        row = tx.execute(
            "SELECT state FROM merchant_kyc WHERE merchant_id = :id", {"id": merchant_id}
        ).fetchone()
        return None if row is None else str(row[0])

    def _remember(self, merchant_id: str) -> None:
        if len(self._approved) >= _APPROVED_CACHE_MAX:
            self._approved.clear()
        self._approved.add(merchant_id)

    # --- the merchant's side --------------------------------------------------------------------

    def _row(self, merchant_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(k.merchant_kyc).where(k.merchant_kyc.c.merchant_id == merchant_id)
            ).first()

    def state_of(self, merchant_id: str) -> str:
        """``unverified``, ``pending``, ``approved`` or ``rejected``."""
        if merchant_id in self._approved:
            return "approved"
        row = self._row(merchant_id)
        return "unverified" if row is None else str(row.state)

    def status(self, merchant: Merchant) -> dict[str, Any]:
        """What the merchant sees: the state, its details (owner ID masked), the reason of a
        rejection, and the limit while not approved."""
        return self._view(self._row(merchant.id), merchant.currency)

    def _view(self, row: Any, currency: str) -> dict[str, Any]:
        state = "unverified" if row is None else row.state
        today = day_of(now_us(), self.tz)
        taken = int(row.taken) if row is not None and row.day == today else 0
        limit = None
        if state != "approved":
            per_day = 0 if state == "rejected" else self.limit
            limit = {"per_day": per_day, "taken_today": taken, "currency": currency}
        return {
            "state": state,
            "legal_name": row.legal_name if row is not None else "",
            "licence_number": row.licence_number if row is not None else "",
            "category": row.category if row is not None else "",
            "owner_id": masked(row.owner_id_last4) if row is not None else "",
            "reason": row.message if row is not None and state == "rejected" else None,
            "submitted_at": _time(row.submitted_at_us if row is not None else None),
            "decided_at": _time(row.decided_at_us if row is not None else None),
            "limit": limit,
        }

    def reseal(self, batch: int = 500) -> tuple[int, int]:
        """Re-encrypt every owner's ID number sealed under an older key with the key file's
        first (after ``saoma rotate-kyc-key``): how many moved, and how many are still under an
        older key. Each row moves by a conditional UPDATE: one its merchant sent again meanwhile
        (sealed anew) is left as it is."""
        c = k.merchant_kyc.c
        current = self.sealer.current()
        moved, after = 0, ""
        while True:
            with read(self.engine) as conn:
                rows = conn.execute(
                    select(c.merchant_id, c.owner_id_cipher)
                    .where(c.merchant_id > after, c.owner_id_cipher != "")
                    .order_by(c.merchant_id)
                    .limit(batch)
                ).all()
            if not rows:
                break
            after = rows[-1].merchant_id
            for row in rows:
                if row.owner_id_cipher.startswith(current + ":"):
                    continue
                plain = self.sealer.open(row.merchant_id, row.owner_id_cipher)
                with write(self.engine) as conn:
                    moved += conn.execute(
                        update(k.merchant_kyc)
                        .where(
                            c.merchant_id == row.merchant_id,
                            c.owner_id_cipher == row.owner_id_cipher,
                        )
                        .values(owner_id_cipher=self.sealer.seal(row.merchant_id, plain))
                    ).rowcount
        with read(self.engine) as conn:
            older = conn.execute(
                select(func.count())
                .select_from(k.merchant_kyc)
                .where(c.owner_id_cipher != "", c.owner_id_cipher.not_like(current + ":%"))
            ).scalar_one()
        return moved, int(older)

    def submit(self, merchant: Merchant, raw: dict[str, Any]) -> dict[str, Any]:
        """The merchant's business details, checked, the owner's ID encrypted: now pending."""
        details = checked(raw)
        params = {
            "id": merchant.id,
            "legal_name": details.legal_name,
            "licence_number": details.licence_number,
            "category": details.category,
            "cipher": self.sealer.seal(merchant.id, details.owner_id_number),
            "last4": details.owner_id_number[-4:],
            "now": now_us(),
        }
        with write(self.engine) as conn:
            conn.execute(text(_ENSURE_ROW), {"id": merchant.id})
            done = conn.execute(text(_SUBMIT), params)
            if done.rowcount != 1:
                raise KycAlreadySubmitted(
                    "the business details are waiting for a decision or were approved"
                )
        return self.status(merchant)

    # --- risk's side ----------------------------------------------------------------------------

    def queue(self, state: str = "pending", limit: int = 200) -> list[dict[str, Any]]:
        """Merchants in ``state``, oldest submission first: ids, names, submission times."""
        if state not in STATES or state == "unverified":
            raise InvalidRequest("state is pending, approved or rejected", field="state")
        c = k.merchant_kyc.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(c.merchant_id, c.legal_name, c.submitted_at_us)
                .where(c.state == state)
                .order_by(c.submitted_at_us, c.merchant_id)
                .limit(limit)
            ).all()
        return [
            {
                "merchant_id": r.merchant_id,
                "legal_name": r.legal_name,
                "submitted_at": _time(r.submitted_at_us),
            }
            for r in rows
        ]

    def look(self, actor: Acting, merchant_id: str) -> dict[str, Any]:
        """An operator reads a merchant's details: the audit entry commits first."""
        merchant = self.merchants.get(merchant_id)
        with write(self.engine) as conn:
            append(
                conn,
                operator_id=actor.operator.id,
                role=actor.operator.role,
                action="kyc.view",
                subject_kind="merchant",
                subject_id=merchant_id,
                what="business details, owner ID masked",
                reason=actor.reason,
                address=actor.address,
            )
        return {"merchant_id": merchant.id, "name": merchant.name} | self.status(merchant)

    def approve(self, actor: Acting, merchant_id: str) -> dict[str, Any]:
        return self._decide(actor, merchant_id, "approved", "")

    def reject(self, actor: Acting, merchant_id: str, message: str) -> dict[str, Any]:
        message = " ".join(str(message or "").split())
        if not MESSAGE_MIN <= len(message) <= MESSAGE_MAX:
            raise InvalidRequest(
                f"message is {MESSAGE_MIN} to {MESSAGE_MAX} characters: the merchant reads it",
                field="message",
            )
        return self._decide(actor, merchant_id, "rejected", message)

    def _decide(self, actor: Acting, merchant_id: str, state: str, message: str) -> dict[str, Any]:
        merchant = self.merchants.get(merchant_id)
        now = now_us()
        verb = "approve" if state == "approved" else "reject"

        def record(unit: Unit) -> None:
            done = unit.execute(
                _DECIDE,
                {
                    "state": state,
                    "message": message,
                    "now": now,
                    "by": actor.operator.id,
                    "role": actor.operator.role,
                    "id": merchant_id,
                },
            )
            if done.rowcount != 1:
                raise KycNotPending("these business details are not waiting for a decision")
            append(
                unit.tx,
                operator_id=actor.operator.id,
                role=actor.operator.role,
                action=f"kyc.{verb}",
                subject_kind="merchant",
                subject_id=merchant_id,
                what=f"{verb}: {message}" if message else f"{verb} business details",
                reason=actor.reason,
                address=actor.address,
            )
            unit.emit(
                f"merchant.kyc.{state}",
                subject=merchant_id,
                data={
                    "merchant_id": merchant_id,
                    "state": state,
                    "reason": message or None,
                    "decided_at": rfc3339(now),
                },
                at_us=now,
                merchant_id=merchant_id,
                url=merchant.webhook_url,
            )

        self.movements.record_alone(record)
        return {"merchant_id": merchant.id, "name": merchant.name} | self.status(merchant)


def _time(us: int | None) -> str | None:
    return None if us is None else rfc3339(us)


def approve_directly(engine: Engine, merchant_id: str, *, by: str = "tests") -> None:
    """Approve a merchant without a review: the demo world's shops and the test suites' ones,
    which take more than the pending limit. Never called by a route."""
    now = now_us()
    with write(engine) as conn:
        conn.execute(
            text(
                "INSERT INTO merchant_kyc (merchant_id, state, decided_at_us, decided_by,"
                " decided_role) VALUES (:id, 'approved', :now, :by, 'system')"
                " ON CONFLICT (merchant_id) DO UPDATE SET state = 'approved',"
                " decided_at_us = :now, decided_by = :by, decided_role = 'system'"
            ),
            {"id": merchant_id, "now": now, "by": by},
        )
