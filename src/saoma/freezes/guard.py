"""The freeze rule, checked inside every money movement: one statement, atomic with the money.

:class:`saoma.movements.Movements` calls :func:`refuse_frozen` in the ledger's batch transaction,
after the ledger locked (PostgreSQL: ``SELECT … FOR NO KEY UPDATE``; SQLite: the one writer) and
updated the accounts the movement touches. A freeze locks its account's row in the same way
before it inserts the freeze (:mod:`saoma.freezes.service`), so the two take turns: a movement
either committed before the freeze, or its check (a statement of its own, which in READ
COMMITTED sees every commit made before it) sees the freeze and refuses, rolling back only its
own request.

What is refused, transfer by transfer:

- a new debit of a frozen account (a single-phase transfer or a new hold; not the post or void of
  a hold placed before the freeze: that was consented to before). This covers payments, holds,
  payment-code charges, transfers, red packets and withdrawals of a frozen wallet, and the
  settlement, payouts, splits and budgets of a frozen merchant. Two exceptions: a movement that
  holds a ``REFUND`` transfer gives money back to a payer, so every debit in it (the refund, the
  subsidy and the split shares given back with it) goes through, and an ``ALLOWANCE`` transfer
  only moves the platform's own overdraft line (lowering it must not wait for a lift).
- a credit of a payment to a frozen merchant: codes ``PAYMENT``, ``HOLD`` and ``CAPTURE``. A
  capture posts a hold and names no accounts (0, 0): its merchant is the hold's credit account,
  read from ``holds`` in the same statement.

Credits to a frozen wallet (refunds, top-ups, transfers received) are never refused, nor a split
share (code ``SPLIT``) to a frozen merchant: no payer pays it, the agreement was accepted before,
and the share stays in the frozen account, unsettled, until the lift.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.engine import Engine

from saoma.core.errors import MerchantFrozen, WalletFrozen
from saoma.db import read
from saoma.freezes.tables import frozen
from saoma.ledger.domain import Transfer, TransferCode, TransferFlags
from saoma.ledger.tx import Tx

_RESOLVES = TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING
_PAYMENT_CREDITS = frozenset({TransferCode.PAYMENT, TransferCode.HOLD, TransferCode.CAPTURE})
_SQL: dict[tuple[int, int], str] = {}


@dataclass(frozen=True, slots=True)
class Watch:
    """What a movement's check looks for: accounts whose debit, or whose payment credit, a
    freeze refuses, and the holds whose capture credits a merchant."""

    debits: frozenset[int]
    credits: frozenset[int]
    captures: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.debits or self.credits or self.captures)


def watch(transfers: Sequence[Transfer]) -> Watch:
    """The accounts ``transfers`` would move money out of (or pay a merchant into)."""
    refund = any(t.code == TransferCode.REFUND for t in transfers)
    debits: set[int] = set()
    credits: set[int] = set()
    captures: list[str] = []
    for t in transfers:
        if t.flags & _RESOLVES:
            if t.code == TransferCode.CAPTURE and t.flags & TransferFlags.POST_PENDING:
                if t.credit_account_id:
                    credits.add(t.credit_account_id)
                elif t.pending_id:
                    captures.append(t.pending_id)
            continue
        if not refund and t.code != TransferCode.ALLOWANCE:
            debits.add(t.debit_account_id)
        if t.code in _PAYMENT_CREDITS:
            credits.add(t.credit_account_id)
    debits.discard(0)
    credits.discard(0)
    return Watch(frozenset(debits), frozenset(credits), tuple(sorted(set(captures))))


def _sql(accounts: int, holds: int) -> str:
    sql = _SQL.get((accounts, holds))
    if sql is None:
        parts = []
        if accounts:
            marks = ", ".join(f":a{i}" for i in range(accounts))
            parts.append(
                "SELECT subject_kind, account_id, 0 FROM freezes"
                f" WHERE lifted_at_us = 0 AND account_id IN ({marks})"
            )
        if holds:
            marks = ", ".join(f":h{i}" for i in range(holds))
            parts.append(
                "SELECT f.subject_kind, f.account_id, 1 FROM freezes f"
                " JOIN holds h ON h.credit_account_id = f.account_id"
                f" WHERE f.lifted_at_us = 0 AND h.transfer_id IN ({marks})"
            )
        sql = _SQL[(accounts, holds)] = " UNION ALL ".join(parts)
    return sql


def refuse_frozen(tx: Tx, seen: Watch) -> Callable[[], None] | None:
    """Refuse with :class:`WalletFrozen` or :class:`MerchantFrozen` if the movement ``seen``
    describes takes money out of a frozen account or pays a frozen merchant. One indexed
    statement, sent now; its answer is looked at with the batch's others, before the commit
    (:meth:`saoma.ledger.tx.Tx.later`). Returns that look (None: nothing to look for), for a
    caller refusing for another reason meanwhile to look first: a freeze is heard first."""
    if seen.empty:
        return None
    accounts = sorted(seen.debits | seen.credits)
    params: dict[str, object] = {f"a{i}": a for i, a in enumerate(accounts)}
    params.update({f"h{i}": h for i, h in enumerate(seen.captures)})
    found = tx.execute(_sql(len(accounts), len(seen.captures)), params)

    def look() -> None:
        _refuse(found.fetchall(), seen)

    tx.later(look)
    return look


def _refuse(rows: Sequence[Any], seen: Watch) -> None:
    if not rows:
        return
    for kind, account, captured in rows:
        if not captured and int(account) in seen.debits:
            raise _error(str(kind))
    for kind, account, captured in rows:
        if str(kind) == "merchant" and (captured or int(account) in seen.credits):
            raise _error("merchant")


def _error(kind: str) -> WalletFrozen | MerchantFrozen:
    if kind == "merchant":
        return MerchantFrozen("this merchant is frozen: it cannot take payments or be paid out")
    return WalletFrozen(
        "this wallet is frozen: money cannot leave it (its owner's account page says why and how"
        " to appeal)"
    )


def refuse_payout(engine: Engine, merchant_id: str) -> None:
    """Raise :class:`MerchantFrozen` if the merchant is frozen now (a payout asked for)."""
    with read(engine) as conn:
        if conn.execute(select(frozen(literal(merchant_id)))).scalar():
            raise MerchantFrozen("this merchant is frozen: it cannot be paid out")
