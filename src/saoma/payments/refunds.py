"""Refunds: a merchant gives back part or all of a payment, under its own refund number.

The fee goes back in proportion, so a full refund returns the whole fee; so does the campaign's
part of a discounted payment, back to its budget. The refund number is the merchant's: the same
number refunds once, however often it is sent. A payment split with other merchants
(:mod:`saoma.settlement.splits`) takes back from each receiver its part of the refund.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple

from sqlalchemy import text

from saoma.core.errors import (
    InsufficientFunds,
    RefundExceedsPayment,
    RefundNumberReused,
    RefundRaced,
    not_found,
)
from saoma.core.ids import new_id, now_us
from saoma.core.money import split
from saoma.db import read
from saoma.ledger import Result, Transfer, TransferCode, TransferFlags
from saoma.ledger.tx import Refusal
from saoma.merchants.service import Merchant, check_text
from saoma.movements import Refused, Unit
from saoma.payments import idempotency, views
from saoma.payments import tables as m
from saoma.payments.checks import check_amount, check_merchant_ref
from saoma.payments.context import Context
from saoma.payments.queries import Queries
from saoma.payments.rows import derived_id, first
from saoma.wallets.service import Consumer

# A refund works its fee and subsidy shares out again when another refund of the same payment
# committed first; each lost try means another refund went through, so this bounds the waiting.
REFUND_RACE_MAX = 64
REFUND_LOCK_STRIPES = 256
# Compare-and-set on the refunded total the shares were worked out from.
REFUNDED_SQL = (
    "UPDATE payments SET refunded = refunded + :amount,"
    " subsidy_refunded = subsidy_refunded + :sub"
    " WHERE id = :pid AND refunded = :seen AND refunded + :amount <= amount"
)
# A payment's splits live in the settlement package's payment_splits table, read here by SQL:
# the settlement package builds on payments, not the other way round.
SPLITS_SQL = (
    "SELECT id, receiver_id, amount, returned FROM payment_splits"
    " WHERE payment_id = :pid ORDER BY created_at_us, id"
)
SPLITS_COUNT_SQL = "SELECT COUNT(*) FROM payment_splits WHERE payment_id = :pid"
# A refunded subsidy goes to its campaign's budget, or to the funder once the campaign ended: the
# refund's commit checks the campaign still sends it where the refund was worked out to (and holds
# the campaign's row till then, so an end waits for it and then returns all the budget holds).
SUBSIDY_HOME_SQL = (
    "UPDATE campaigns SET updated_at_us = updated_at_us WHERE id = :cid"
    " AND CASE WHEN state = 'ended' THEN funder_account_id ELSE budget_account_id END = :home"
)
# Compare-and-set on what a split has given back, as the refund's part was worked out from.
RETURNED_SQL = (
    "UPDATE payment_splits SET returned = returned + :back"
    " WHERE id = :id AND returned = :seen AND returned + :back <= amount"
)


class SplitBack(NamedTuple):
    """What one split's receiver gives back of a refund: ``back`` of its ``returned`` so far."""

    split_id: str
    receiver_id: str
    returned: int
    back: int


def split_backs(refund: int, left: int, splits: list[tuple[str, str, int, int]]) -> list[SplitBack]:
    """Each split's part of a refund of ``refund`` when ``left`` of the payment is unrefunded.

    The refund is divided with ``money.split`` (largest remainder) over what the merchant still
    holds of the payment and what each split still holds (amount less returned), so the parts
    add up to the refund, and a refund of all that is left returns every split exactly.
    """
    if not splits:
        return []
    held = [amount - returned for _, _, amount, returned in splits]
    own = max(0, left - sum(held))
    parts = split(refund, [own, *held])[1:]
    return [
        SplitBack(split_id, receiver_id, returned, back)
        for (split_id, receiver_id, _, returned), back in zip(splits, parts, strict=True)
    ]


def refund_share(part: int, refunded: int, amount: int) -> int:
    """What of ``part`` (a payment's fee or subsidy) goes back once ``refunded`` of ``amount`` has:
    rounded down, so the refunds' shares always sum to exactly this, and to all of it at the end.

    A refund returns ``refund_share(part, seen + its amount) - refund_share(part, seen)``. That is
    never negative and never more than is left of ``part``, and the refunds' returns add up to
    the share of their total, whatever their sizes and order: all of ``part`` once the payment is
    refunded in full. ``money.split`` (largest remainder) is not used: it divides a total among
    parts known at once, while refunds come one at a time. Splitting what is left between each
    refund and the rest would also sum exactly, but what had gone back would then depend on how
    the refunds were cut (a fee of 1 on 4 refunded as 1 + 1 returns 0, as 2 at once 1), where
    here it depends on the refunded total alone: the compare-and-set on that total and the books
    check (``saoma.ledger.check``) rest on it.
    """
    return part * refunded // amount


class SharesStale(Refusal):
    """Raised in a refund's hook when another refund of the payment committed since its shares
    were worked out: the refund is rolled back and worked out again."""


class Refunds:
    def __init__(self, ctx: Context, queries: Queries, read_payment: Callable[[str], Any]) -> None:
        self.ctx = ctx
        self.queries = queries
        self._read_payment = read_payment
        self._locks = [threading.Lock() for _ in range(REFUND_LOCK_STRIPES)]

    def refund(
        self,
        merchant: Merchant,
        payment_id: str,
        *,
        amount: int,
        merchant_refund_no: str,
        reason: str = "",
        claim: idempotency.Claim | None = None,
        also: Callable[[Unit], None] | None = None,
    ) -> dict[str, Any]:
        """Refund ``amount`` of the payment under ``merchant_refund_no``.

        ``also`` writes more facts in the refund's own transaction (a dispute's state, say): a
        refusal it raises rolls the refund back and is raised here.
        """
        amount = check_amount(amount)
        merchant_refund_no = check_merchant_ref(merchant_refund_no, "merchant_refund_no")
        reason = check_text("reason", reason, 128, required=False)
        # Refunds of one payment through this service go one at a time (striped by payment): sent
        # together they would all work their shares out from the same total and all but one go
        # again. Between processes the compare-and-set in the refund's hook decides.
        lock = self._locks[hash(payment_id) % REFUND_LOCK_STRIPES]
        for _ in range(REFUND_RACE_MAX):
            with lock:
                payment = self._read_payment(payment_id)
                if payment is None or payment.merchant_id != merchant.id:
                    raise not_found("payment", payment_id)
                existing = self._refund_by_no(merchant.id, merchant_refund_no)
                if existing is not None:
                    return self._same_refund(existing, payment_id, amount)
                done = self._refund_from(
                    payment, merchant, amount, merchant_refund_no, reason, (claim, also)
                )
            if done is not None:
                return done
        raise RefundRaced("other refunds of this payment kept committing first; retry")

    def _refund_by_no(self, merchant_id: str, merchant_refund_no: str) -> Any:
        return first(
            self.ctx.engine,
            m.refunds,
            merchant_id=merchant_id,
            merchant_refund_no=merchant_refund_no,
        )

    def _same_refund(self, existing: Any, payment_id: str, amount: int) -> dict[str, Any]:
        if (existing.payment_id, existing.amount) == (payment_id, amount):
            return self.queries.refund_view(existing)
        raise RefundNumberReused(
            f"refund number {existing.merchant_refund_no!r} was used for another refund",
            field="merchant_refund_no",
        )

    def _refund_from(
        self,
        payment: Any,
        merchant: Merchant,
        amount: int,
        merchant_refund_no: str,
        reason: str,
        hooks: tuple[idempotency.Claim | None, Callable[[Unit], None] | None],
    ) -> dict[str, Any] | None:
        """One try at a refund worked out from ``payment`` as read; None if another refund of
        the payment committed since (the caller reads it again and works the shares out anew)."""
        seen = payment.refunded
        left = payment.amount - seen
        if amount > left:
            raise RefundExceedsPayment(
                f"only {left} of this payment is left to refund", field="amount", refundable=left
            )
        consumer = self.ctx.wallets.get(payment.consumer_id)
        splits = self._splits(payment.id)
        backs = split_backs(amount, left, splits)
        # Each refund returns the share of the refunded total minus what earlier refunds
        # returned: the hook below commits it only if no other refund moved the total meanwhile.
        fee_back, sub_back = (
            refund_share(part, seen + amount, payment.amount)
            - refund_share(part, seen, payment.amount)
            for part in (payment.fee, payment.subsidy)
        )
        now = now_us()
        claim, also = hooks
        row = {
            "id": new_id("rf"),
            "payment_id": payment.id,
            "merchant_id": merchant.id,
            "merchant_refund_no": merchant_refund_no,
            "amount": amount,
            "fee_returned": fee_back,
            "subsidy_returned": sub_back,
            "reason": reason,
            "created_at_us": now,
        }
        home = self._subsidy_home(payment.campaign_id) if sub_back else 0
        transfers = self._transfers(payment, merchant, consumer, row, backs, home)
        view = views.refund(row)

        def record(unit: Unit) -> None:
            _as_worked_out(unit, payment, {"amount": amount, "sub": sub_back, "seen": seen}, home)
            self._return_splits(unit, payment.id, backs)
            unit.insert(m.refunds, row)
            unit.emit(
                "refund.succeeded",
                subject=payment.order_id or payment.id,
                data=view,
                at_us=now,
                merchant_id=merchant.id,
                consumer_id=consumer.id,
                url=merchant.webhook_url,
            )
            if also is not None:
                also(unit)
            idempotency.finish_in(unit, claim, 201, view)

        try:
            moved = self.ctx.movements.move(transfers, record)
        except SharesStale:
            return None
        if isinstance(moved, Refused):
            return self._not_moved(moved, payment, merchant, amount, merchant_refund_no, backs)
        return view

    def _splits(self, payment_id: str) -> list[tuple[str, str, int, int]]:
        with read(self.ctx.engine) as conn:
            rows = conn.execute(text(SPLITS_SQL), {"pid": payment_id}).all()
        return [(r.id, r.receiver_id, r.amount, r.returned) for r in rows]

    @staticmethod
    def _return_splits(unit: Unit, payment_id: str, backs: list[SplitBack]) -> None:
        """Advance what each split gave back, as the parts were worked out; stale if another
        refund moved one meanwhile or a split was made since (it took the payment's row too)."""
        for b in backs:
            if b.back:
                params = {"back": b.back, "id": b.split_id, "seen": b.returned}
                if unit.execute(RETURNED_SQL, params).rowcount != 1:
                    raise SharesStale(payment_id)
        if unit.execute(SPLITS_COUNT_SQL, {"pid": payment_id}).fetchone()[0] != len(backs):
            raise SharesStale(payment_id)

    def _not_moved(
        self,
        refused: Refused,
        payment: Any,
        merchant: Merchant,
        amount: int,
        number: str,
        backs: list[SplitBack],
    ) -> dict[str, Any] | None:
        """The same refund number, committed by a request sent with this one; None if another
        refund made the amounts stale (a fen short, say); else why the ledger refused it."""
        stored = self._refund_by_no(merchant.id, number)
        if stored is not None:
            return self._same_refund(stored, payment.id, amount)
        now_row = self._read_payment(payment.id)
        if now_row is not None and now_row.refunded != payment.refunded:
            return None
        left = payment.amount - payment.refunded
        if backs != split_backs(amount, left, self._splits(payment.id)):
            return None  # a split was made meanwhile
        short = {
            transfer.id: result
            for result, transfer in zip(refused.results, refused.transfers, strict=True)
            if result is Result.EXCEEDS_CREDITS
        }
        refund_id = derived_id("rfd", merchant.id, number)
        for b in backs:
            if derived_id("rsp", refund_id, b.split_id) in short:
                receiver = self.ctx.merchants.get(b.receiver_id)
                raise InsufficientFunds(
                    f"{receiver.name} (a receiver of this payment's split) does not hold the"
                    f" {b.back} it would give back of this refund",
                    field="amount",
                    receiver_id=receiver.id,
                )
        raise refused.problem()

    def _transfers(
        self,
        payment: Any,
        merchant: Merchant,
        payer: Consumer,
        refund: dict[str, Any],
        backs: list[SplitBack],
        home: int,
    ) -> list[Transfer]:
        """The returned fee first (it can fund the refund), then what split receivers give
        back, the payer's part, then the campaign's part back to ``home``, where it came from;
        linked, all or nothing."""
        transfer_id = derived_id("rfd", merchant.id, refund["merchant_refund_no"])
        merchant_account = merchant.account_id
        fee_back, sub_back = refund["fee_returned"], refund["subsidy_returned"]
        to_payer = refund["amount"] - sub_back
        chain: list[Transfer] = []
        if fee_back:
            chain.append(
                Transfer(
                    "rff" + transfer_id[3:],
                    self.ctx.fees_account,
                    merchant_account,
                    fee_back,
                    TransferCode.FEE,
                    ref=payment.id,
                )
            )
        for b in backs:
            if b.back:
                chain.append(
                    Transfer(
                        derived_id("rsp", transfer_id, b.split_id),
                        self.ctx.merchants.get(b.receiver_id).account_id,
                        merchant_account,
                        b.back,
                        TransferCode.SPLIT,
                        ref=payment.id,
                    )
                )
        if to_payer:
            chain.append(
                Transfer(
                    transfer_id,
                    merchant_account,
                    payer.account_id,
                    to_payer,
                    TransferCode.REFUND,
                    ref=payment.id,
                )
            )
        if sub_back and home != merchant_account:  # a merchant's own campaign: it keeps it
            chain.append(
                Transfer(
                    "rsb" + transfer_id[3:],
                    merchant_account,
                    home,
                    sub_back,
                    TransferCode.SUBSIDY,
                    ref=payment.id,
                )
            )
        return [replace(t, flags=TransferFlags.LINKED) for t in chain[:-1]] + chain[-1:]

    def _subsidy_home(self, campaign_id: str) -> int:
        promotions = self.ctx.promotions
        assert promotions is not None  # a payment with a subsidy came through the promotions
        return promotions.subsidy_home(campaign_id)


def _as_worked_out(unit: Unit, payment: Any, refund: dict[str, int], home: int) -> None:
    """In the refund's commit: the payment's refunded total is still the one it was worked out
    from (``seen``), and the campaign's part still goes to ``home``; stale otherwise."""
    if unit.execute(REFUNDED_SQL, refund | {"pid": payment.id}).rowcount != 1:
        raise SharesStale(payment.id)
    if home:
        params = {"cid": payment.campaign_id, "home": home}
        if unit.execute(SUBSIDY_HOME_SQL, params).rowcount != 1:
            raise SharesStale(payment.id)  # the campaign ended meanwhile
