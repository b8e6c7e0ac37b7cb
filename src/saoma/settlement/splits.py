"""Split payments (profit sharing): a merchant passes a share of a payment to another merchant
under an agreement the receiver accepted (see :mod:`saoma.settlement.agreements`).

A split is one ledger transfer merchant -> receiver (code SPLIT) whose id derives from the
payment and the agreement, so a payment is split at most once under an agreement however often
it is asked (and the ``payment_splits`` unique constraint says the same in the rows). What a
split may take is worked out from the payment as read: its amount less refunds less what other
splits still hold. The split's record commits only if neither moved meanwhile: a no-op UPDATE of
the payment's ``refunded`` with ``WHERE refunded = :seen`` (which also takes the payment's row,
the one a refund's compare-and-set takes) and a count of the payment's splits. A refund gives
back each split in proportion (:mod:`saoma.payments.refunds`).

A standing agreement splits every payment made after it was accepted: :meth:`Splits.apply_standing`
is called by the maintenance loop and by the settlement run before it takes lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import and_, exists, select, text
from sqlalchemy.engine import Connection, Engine

from saoma.core.errors import AlreadySettled, Conflict, InsufficientFunds, SaomaError, not_found
from saoma.core.ids import now_us, rfc3339
from saoma.core.money import rate_of
from saoma.db import is_sqlite, read, write
from saoma.ledger import Transfer, TransferCode
from saoma.ledger.tx import Refusal
from saoma.merchants.service import Merchant, Merchants
from saoma.movements import Refused, Unit
from saoma.payments import tables as p
from saoma.payments.rows import derived_id
from saoma.payments.service import Payments
from saoma.settlement import tables as t
from saoma.settlement.agreements import Agreements

log = logging.getLogger(__name__)
SPLIT_WINDOW_DAYS = 7
SPLIT_WINDOW_US = SPLIT_WINDOW_DAYS * 86_400 * 1_000_000
SPLIT_RACE_MAX = 16
STANDING_BATCH = 200  # payments read per query of apply_standing
SCAN_LAG_US = 60 * 1_000_000  # how long a payment may take to commit after its seq was given
_UNCHANGED_SQL = "UPDATE payments SET refunded = refunded WHERE id = :pid AND refunded = :seen"
_COUNT_SQL = "SELECT COUNT(*) FROM payment_splits WHERE payment_id = :pid"
# A settlement took the payment meanwhile (looked at again in the split's commit).
_SETTLED_SQL = "SELECT 1 FROM settlement_lines WHERE source = :tid"
# PostgreSQL: a settlement's close and a split of the same merchant meet on one advisory lock, not
# a row (the terms' own updates, some made inside ledger batches, must never wait for a close).
# The close holds it whole while it takes its lines (``hold_for_close``), so it waits for a split
# committing and takes the split with its payment. A split's commit shares it, before the look
# for a settlement line; finding it held by a close, the split is tried again once the close has
# committed (``_split`` waits for it on its own): waiting in the batch would hold its accounts.
_CLOSE_KEY = "hashtextextended('settlement close ' || CAST(:mid AS text), 0)"
_CLOSE_SHARED = f"SELECT pg_try_advisory_xact_lock_shared({_CLOSE_KEY})"
_CLOSE_HELD = text(f"SELECT pg_advisory_xact_lock({_CLOSE_KEY})")
_CLOSE_WAITED = text(f"SELECT pg_advisory_xact_lock_shared({_CLOSE_KEY})")


def hold_for_close(conn: Connection, merchant_id: str) -> None:
    """A settlement's close of ``merchant_id`` under way in ``conn``'s transaction: splits of
    its payments wait for its commit (PostgreSQL; SQLite's one writer does so already)."""
    if not is_sqlite(conn.engine):
        conn.execute(_CLOSE_HELD, {"mid": merchant_id})


# The agreement is still accepted, and stays so until the split commits (its row is taken).
_STILL_ACCEPTED_SQL = (
    "UPDATE split_agreements SET updated_at_us = updated_at_us"
    " WHERE id = :id AND state = 'accepted'"
)
_ZERO_SQL = (
    "INSERT INTO payment_splits (id, payment_id, agreement_id, merchant_id, receiver_id,"
    " amount, returned, created_at_us) VALUES (:id, :payment_id, :agreement_id, :merchant_id,"
    " :receiver_id, 0, 0, :created_at_us) ON CONFLICT DO NOTHING"
)


class _Stale(Refusal):
    """A refund or another split of the payment committed since it was read: read again."""


class _Closing(_Stale):
    """A settlement of the merchant is closing: read again once it has."""


def split_view(row: Mapping[Any, Any], currency: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "payment_id": row["payment_id"],
        "agreement_id": row["agreement_id"],
        "merchant_id": row["merchant_id"],
        "receiver_id": row["receiver_id"],
        "amount": row["amount"],
        "returned": row["returned"],
        "currency": currency,
        "created_at": rfc3339(row["created_at_us"]),
    }


def split_amount(payment: Any, agreement: Any, held_by_splits: int) -> int:
    """The agreement's share of the payment: the percentage (rounded half up) or the fixed
    amount, at most the cap, and never more than is left after refunds and other splits."""
    share = agreement.fixed
    if agreement.share_ppm:
        share = rate_of(payment.amount, agreement.share_ppm)
    if agreement.cap:
        share = min(share, agreement.cap)
    left = payment.amount - payment.refunded - held_by_splits
    return int(max(0, min(share, left)))


class Splits:
    def __init__(self, engine: Engine, payments: Payments, merchants: Merchants) -> None:
        self.engine = engine
        self.payments = payments
        self.merchants = merchants
        self.agreements = Agreements(engine, payments, merchants)
        # Per standing agreement: every payment up to this seq has been split (apply_standing).
        self._scanned: dict[str, int] = {}
        self.propose = self.agreements.propose
        self.agreements_of = self.agreements.of

    def accept(self, merchant: Merchant, agreement_id: str) -> dict[str, Any]:
        return self.agreements.change(merchant, agreement_id, "accepted")

    def decline(self, merchant: Merchant, agreement_id: str) -> dict[str, Any]:
        return self.agreements.change(merchant, agreement_id, "declined")

    def end(self, merchant: Merchant, agreement_id: str) -> dict[str, Any]:
        return self.agreements.change(merchant, agreement_id, "ended")

    # --- splitting a payment ---------------------------------------------------------------------

    def split_payment(
        self, merchant: Merchant, payment_id: str, agreement_id: str
    ) -> dict[str, Any]:
        """Split the merchant's own payment under one of its accepted agreements, once."""
        agreement = self.agreements.row_of(merchant, agreement_id)
        if agreement.merchant_id != merchant.id:
            raise not_found("split agreement", agreement_id)  # the receiver's side of it
        for _ in range(SPLIT_RACE_MAX):
            payment = self._payment(payment_id)
            if payment is None or payment.merchant_id != merchant.id:
                raise not_found("payment", payment_id)
            done = self._split(merchant, payment, agreement)
            if done is not None:
                return done
        raise Conflict("refunds or other splits of this payment kept committing first; retry")

    def _split(self, merchant: Merchant, payment: Any, agreement: Any) -> dict[str, Any] | None:
        """One try; None when a refund or another split of the payment committed meanwhile."""
        split_id = derived_id("spl", payment.id, agreement.id)
        existing = self._split_row(split_id)
        if existing is not None:
            return split_view(existing._mapping, merchant.currency)
        self._check_splittable(payment, agreement)
        splits = self.splits_rows(payment.id)
        amount = split_amount(payment, agreement, sum(s.amount - s.returned for s in splits))
        row = {
            "id": split_id,
            "payment_id": payment.id,
            "agreement_id": agreement.id,
            "merchant_id": merchant.id,
            "receiver_id": agreement.receiver_id,
            "amount": amount,
            "returned": 0,
            "created_at_us": now_us(),
        }

        def record(unit: Unit) -> None:
            params = {"pid": payment.id, "seen": payment.refunded}
            if unit.execute(_UNCHANGED_SQL, params).rowcount != 1:
                raise _Stale(payment.id)
            if unit.execute(_COUNT_SQL, {"pid": payment.id}).fetchone()[0] != len(splits):
                raise _Stale(payment.id)
            if unit.execute(_STILL_ACCEPTED_SQL, {"id": agreement.id}).rowcount != 1:
                raise Conflict("the split agreement was ended meanwhile")
            if (
                unit.tx.postgres
                and not unit.execute(_CLOSE_SHARED, {"mid": merchant.id}).fetchone()[0]
            ):
                raise _Closing(payment.id)
            if unit.execute(_SETTLED_SQL, {"tid": payment.transfer_id}).fetchone() is not None:
                raise AlreadySettled("the payment was settled meanwhile: it can no longer be split")
            if amount:
                unit.insert(t.payment_splits, row)
            else:  # nothing to pass on (a share that rounds to 0): marked as done all the same
                unit.execute(_ZERO_SQL, row)

        try:
            if not amount:
                self.payments.movements.record_alone(record)
                return self._done(split_id, merchant)
            moved = self.payments.movements.move([self._transfer(row, payment, agreement)], record)
        except _Closing:
            with write(self.engine) as conn:  # holding nothing else, until the close commits
                conn.execute(_CLOSE_WAITED, {"mid": merchant.id})
            return None
        except _Stale:
            return None
        if isinstance(moved, Refused):
            stored = self._split_row(split_id)  # the same split, sent at the same moment
            if stored is not None:
                return split_view(stored._mapping, merchant.currency)
            problem = moved.problem()
            if isinstance(problem, InsufficientFunds):
                problem.detail = f"the account does not hold the {amount} this split passes on"
                problem.args = (problem.detail,)
            raise problem
        return split_view(row, merchant.currency)

    def _done(self, split_id: str, merchant: Merchant) -> dict[str, Any]:
        stored = self._split_row(split_id)
        assert stored is not None  # inserted, or there already
        return split_view(stored._mapping, merchant.currency)

    def _transfer(self, row: dict[str, Any], payment: Any, agreement: Any) -> Transfer:
        giver = self.merchants.get(agreement.merchant_id)
        receiver = self.merchants.get(agreement.receiver_id)
        return Transfer(
            row["id"],
            giver.account_id,
            receiver.account_id,
            row["amount"],
            TransferCode.SPLIT,
            ref=payment.id,
        )

    def _check_splittable(self, payment: Any, agreement: Any) -> None:
        if agreement.state != "accepted":
            raise Conflict(f"the split agreement is {agreement.state}, not accepted")
        if now_us() - payment.created_at_us > SPLIT_WINDOW_US:
            raise Conflict(f"a payment can be split within {SPLIT_WINDOW_DAYS} days only")
        if payment.refunded >= payment.amount:
            raise Conflict("the payment was refunded in full: nothing is left to split")
        if self._settled(payment.transfer_id):
            raise AlreadySettled("the payment was settled already: it can no longer be split")

    # --- standing agreements ---------------------------------------------------------------------

    def apply_standing(self, before_us: int | None = None) -> int:
        """Split every payment made since a standing agreement was accepted (within the split
        window, before ``before_us`` if given) that has no split under it yet; the number made.

        Only payments without a split row are read, a batch at a time, by the payments'
        (merchant, seq) index, and from where the last call left off: below a payment's ``seq``
        every earlier one is split once it is older than ``SCAN_LAG_US`` (a payment committed
        late, with a lower ``seq``, is still read until then). A payment that could not be split
        (the merchant short of money, say) holds the mark back and is tried again."""
        made = 0
        for agreement in self._standing():
            made += self._apply(agreement, before_us)
        return made

    def _apply(self, agreement: Any, before_us: int | None) -> int:
        merchant = self.merchants.get(agreement.merchant_id)
        old_enough = now_us() - SCAN_LAG_US
        mark, held_back, made = None, False, 0
        for payment in self._unsplit(agreement, before_us, self._scanned.get(agreement.id, 0)):
            try:
                done = self._split(merchant, payment, agreement)
            except SaomaError as exc:  # short of money for now, say: tried again later
                log.info("standing split of %s under %s: %s", payment.id, agreement.id, exc)
                done = None
            if done is None:
                held_back = True
            elif done["amount"]:
                made += 1
            if not held_back and payment.created_at_us < old_enough:
                mark = payment.seq
        if mark is not None:
            self._scanned[agreement.id] = mark
        return made

    def _standing(self) -> list[Any]:
        a = t.split_agreements
        query = select(a).where(a.c.standing == 1, a.c.state == "accepted").order_by(a.c.id)
        with read(self.engine) as conn:
            return list(conn.execute(query).all())

    def _unsplit(self, agreement: Any, before_us: int | None, seq: int) -> Iterator[Any]:
        pay, s, lines = p.payments, t.payment_splits, t.settlement_lines
        since = max(agreement.updated_at_us, now_us() - SPLIT_WINDOW_US)
        while True:
            query = (
                select(pay)
                .where(
                    pay.c.merchant_id == agreement.merchant_id,
                    pay.c.seq > seq,
                    pay.c.created_at_us >= since,
                    pay.c.refunded < pay.c.amount,
                    ~exists().where(
                        and_(s.c.payment_id == pay.c.id, s.c.agreement_id == agreement.id)
                    ),
                    ~exists().where(lines.c.source == pay.c.transfer_id),
                )
                .order_by(pay.c.seq)
                .limit(STANDING_BATCH)
            )
            if before_us is not None:
                query = query.where(pay.c.created_at_us < before_us)
            with read(self.engine) as conn:
                batch = conn.execute(query).all()
            yield from batch
            if len(batch) < STANDING_BATCH:
                return
            seq = batch[-1].seq

    # --- reads -----------------------------------------------------------------------------------

    def splits_of(self, merchant: Merchant, payment_id: str) -> dict[str, Any]:
        """A payment's splits, for the merchant that was paid."""
        payment = self._payment(payment_id)
        if payment is None or payment.merchant_id != merchant.id:
            raise not_found("payment", payment_id)
        rows = self.splits_rows(payment_id)
        return {"data": [split_view(r._mapping, merchant.currency) for r in rows]}

    def splits_rows(self, payment_id: str) -> list[Any]:
        s = t.payment_splits
        query = select(s).where(s.c.payment_id == payment_id).order_by(s.c.created_at_us, s.c.id)
        with read(self.engine) as conn:
            return list(conn.execute(query).all())

    def _split_row(self, split_id: str) -> Any:
        s = t.payment_splits
        with read(self.engine) as conn:
            return conn.execute(select(s).where(s.c.id == split_id)).first()

    def _payment(self, payment_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(p.payments).where(p.payments.c.id == payment_id)).first()

    def _settled(self, transfer_id: str) -> bool:
        lines = t.settlement_lines
        with read(self.engine) as conn:
            found = conn.execute(
                select(lines.c.source).where(lines.c.source == transfer_id)
            ).first()
        return found is not None
