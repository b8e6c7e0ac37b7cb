"""Freezing and lifting: an operator stops a wallet's or a merchant's money from leaving.

A freeze never moves money. It is one row in ``freezes`` (at most one active per subject: a
unique index over the rows not lifted) written in one transaction with its audit entry and, for a
merchant, its ``merchant.frozen`` webhook. What it refuses is refused inside each money movement
(:mod:`saoma.freezes.guard`).

Why a movement either committed before a freeze or sees it: the freeze's transaction first locks
the frozen account's ledger row (PostgreSQL ``SELECT … FOR NO KEY UPDATE``, the lock the ledger
takes on every account a movement touches; on SQLite the one writer is the lock), and only then
inserts the freeze. A movement that locked the account first commits before the freeze can
insert; a movement that waits for the lock gets it once the freeze committed, and its check (a
later statement under READ COMMITTED) sees the freeze. Lifting needs no lock: it only lets more
through.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.audit.chain import append
from saoma.core.errors import AlreadyFrozen, NotFrozen
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read
from saoma.freezes import tables as f
from saoma.merchants.service import Merchants
from saoma.wallets.service import Wallets

if TYPE_CHECKING:
    from saoma.movements import Movements, Unit

KINDS = ("consumer", "merchant")
DEFAULT_APPEAL = (
    "If you think this is a mistake, contact support and quote your account id: a person who"
    " decides on risk reviews every appeal."
)

_LOCK_PG = "SELECT id FROM accounts WHERE id = :a FOR NO KEY UPDATE"
_LAST_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM transfers"
_INSERT = (
    "INSERT INTO freezes (id, subject_kind, subject_id, account_id, reason_shown, appeal,"
    " frozen_by, by_role, frozen_at_us, lifted_at_us, lifted_by, lift_note, since_seq, until_seq)"
    " VALUES (:id, :subject_kind, :subject_id, :account_id, :reason_shown, :appeal,"
    " :frozen_by, :by_role, :frozen_at_us, 0, '', '', :since_seq, 0)"
    " ON CONFLICT (subject_id) WHERE lifted_at_us = 0 DO NOTHING"
)
_LIFT = (
    "UPDATE freezes SET lifted_at_us = :now, until_seq = :seq, lifted_by = :by, lift_note = :note"
    " WHERE subject_id = :s AND subject_kind = :k AND lifted_at_us = 0"
)


def _locked(unit: Unit, account_id: int) -> tuple[int, int]:
    """Lock the account's ledger row (PostgreSQL; on SQLite the transaction is the one writer
    already); then the time, and the last transfer committed: every movement of the account
    committed before this point is numbered at most that, every later one above it."""
    if unit.tx.postgres:
        unit.execute(_LOCK_PG, {"a": account_id})
    return now_us(), int(unit.execute(_LAST_SEQ).fetchone()[0])


@dataclass(frozen=True, slots=True)
class Freeze:
    id: str
    subject_kind: str
    subject_id: str
    reason: str  # shown to the person
    appeal: str  # how to appeal
    since: int  # microseconds since the epoch
    by_role: str
    lifted_at: int = 0
    lift_note: str = ""

    @classmethod
    def of(cls, row: Any) -> Freeze:
        return cls(
            row.id,
            row.subject_kind,
            row.subject_id,
            row.reason_shown,
            row.appeal,
            row.frozen_at_us,
            row.by_role,
            row.lifted_at_us,
            row.lift_note,
        )

    def shown(self) -> dict[str, Any]:
        """What the person sees: why, since when, and how to appeal."""
        return {"reason": self.reason, "since": rfc3339(self.since), "appeal": self.appeal}

    def view(self) -> dict[str, Any]:
        """What an operator sees."""
        return {
            "id": self.id,
            "subject_kind": self.subject_kind,
            "subject_id": self.subject_id,
            "reason": self.reason,
            "appeal": self.appeal,
            "since": rfc3339(self.since),
            "by_role": self.by_role,
            "lifted_at": rfc3339(self.lifted_at) if self.lifted_at else None,
            "lift_note": self.lift_note,
        }


@dataclass(frozen=True, slots=True)
class Doer:
    """Who freezes or lifts, for the row and the audit entry."""

    operator_id: str
    role: str
    reason: str  # typed by the operator: goes to the audit log, never to the person
    address: str = ""


class Freezes:
    def __init__(
        self,
        engine: Engine,
        movements: Movements,
        wallets: Wallets,
        merchants: Merchants,
        *,
        default_appeal: str = DEFAULT_APPEAL,
    ) -> None:
        self.engine = engine
        self.movements = movements
        self.wallets = wallets
        self.merchants = merchants
        self.default_appeal = default_appeal

    def _subject(self, kind: str, subject_id: str) -> tuple[int, str]:
        """The subject's ledger account and webhook URL (404 if there is no such subject)."""
        if kind == "consumer":
            return self.wallets.get(subject_id).account_id, ""
        merchant = self.merchants.get(subject_id)
        return merchant.account_id, merchant.webhook_url

    def freeze(
        self, doer: Doer, kind: str, subject_id: str, reason_shown: str, appeal: str = ""
    ) -> Freeze:
        """Freeze the subject: one transaction with the audit entry (409 if already frozen)."""
        if kind not in KINDS:
            raise ValueError(kind)
        account_id, url = self._subject(kind, subject_id)
        appeal = appeal or self.default_appeal
        row: dict[str, Any] = {
            "id": new_id("fz"),
            "subject_kind": kind,
            "subject_id": subject_id,
            "account_id": account_id,
            "reason_shown": reason_shown,
            "appeal": appeal,
            "frozen_by": doer.operator_id,
            "by_role": doer.role,
        }

        def record(unit: Unit) -> None:
            row["frozen_at_us"], row["since_seq"] = _locked(unit, account_id)
            if unit.execute(_INSERT, row).rowcount != 1:
                raise AlreadyFrozen(f"{subject_id} is frozen already: lift that freeze first")
            self._audit(unit, doer, f"{kind}.freeze", kind, subject_id, f"freeze: {reason_shown}")
            if kind == "merchant":
                shown = Freeze.of(SimpleNamespace(**row, lifted_at_us=0, lift_note="")).shown()
                unit.emit(
                    "merchant.frozen",
                    subject=subject_id,
                    data={"merchant_id": subject_id, **shown},
                    at_us=row["frozen_at_us"],
                    merchant_id=subject_id,
                    url=url,
                )

        self.movements.record_alone(record)
        return Freeze.of(SimpleNamespace(**row, lifted_at_us=0, lift_note=""))

    def unfreeze(self, doer: Doer, kind: str, subject_id: str, note: str = "") -> Freeze:
        """Lift the subject's freeze: one transaction with the audit entry (409 if not frozen)."""
        if kind not in KINDS:
            raise ValueError(kind)
        account_id, url = self._subject(kind, subject_id)

        def record(unit: Unit) -> None:
            now, seq = _locked(unit, account_id)
            params = {"now": now, "seq": seq, "by": doer.operator_id, "note": note}
            if unit.execute(_LIFT, params | {"s": subject_id, "k": kind}).rowcount != 1:
                raise NotFrozen(f"{subject_id} is not frozen")
            what = f"unfreeze: {note}" if note else "unfreeze"
            self._audit(unit, doer, f"{kind}.unfreeze", kind, subject_id, what)
            if kind == "merchant":
                unit.emit(
                    "merchant.unfrozen",
                    subject=subject_id,
                    data={"merchant_id": subject_id, "lifted_at": rfc3339(now)},
                    at_us=now,
                    merchant_id=subject_id,
                    url=url,
                )

        self.movements.record_alone(record)
        return self.history(subject_id)[0]

    @staticmethod
    def _audit(unit: Unit, doer: Doer, action: str, kind: str, subject_id: str, what: str) -> None:
        append(
            unit.tx,
            operator_id=doer.operator_id,
            role=doer.role,
            action=action,
            subject_kind=kind,
            subject_id=subject_id,
            what=what,
            reason=doer.reason,
            address=doer.address,
        )

    def active(self, subject_id: str) -> Freeze | None:
        """The subject's freeze in force, if any."""
        c = f.freezes.c
        query = select(f.freezes).where(c.subject_id == subject_id, c.lifted_at_us == 0)
        with read(self.engine) as conn:
            row = conn.execute(query).first()
        return Freeze.of(row) if row is not None else None

    def history(self, subject_id: str) -> list[Freeze]:
        """Every freeze of the subject, newest first (the active one, if any, among them)."""
        c = f.freezes.c
        query = (
            select(f.freezes)
            .where(c.subject_id == subject_id)
            .order_by(c.frozen_at_us.desc(), c.id.desc())
        )
        with read(self.engine) as conn:
            return [Freeze.of(row) for row in conn.execute(query)]
