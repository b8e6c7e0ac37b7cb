"""Payments: dynamic orders, static codes, refunds and top-ups, each one linked set of transfers.

Every money movement goes to the ledger with a hook that writes the business facts (order paid,
payment row, refund row, outbox event, the stored idempotent response) in the same database
transaction, so money and facts commit together or not at all. Transfer ids derive from the
business object (an order can be paid once; a refund number refunds once), so a retry, a
takeover after a crash or a concurrent double click moves money at most once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.db import read, write
from saoma.ledger import Account, AccountKind, Ledger, Result, Transfer, TransferCode, TransferFlags
from saoma.ledger.errors import error_for
from saoma.ledger.tx import Refusal, Tx
from saoma.merchants.service import Merchant, Merchants, check_text, check_webhook_url
from saoma.money import AMOUNT_MINOR_MAX, BY_ALPHA, rate_of
from saoma.movements import Movements
from saoma.pagination import (
    PAGE_LIMIT_MAX,
    check_limit,
    choice,
    newest_first,
    parse_cursor,
    parse_time_cursor,
    text_filter,
    time_page_of,
)
from saoma.payments import idempotency
from saoma.payments import models as m
from saoma.payments.ids import new_id, now_us
from saoma.problems import Problem, from_ledger_error, invalid, not_found
from saoma.wallets.service import Consumer, OverNoPinLimit, Wallets

if TYPE_CHECKING:
    from saoma.paycode.service import PaymentCodes
    from saoma.promotions.service import Promotions
from saoma.webhooks.outbox import emit_in, rfc3339

ORDER_TTL_S_DEFAULT = 15 * 60
ORDER_TTL_S_MIN = 5
ORDER_TTL_S_MAX = 24 * 3600
HOLD_TTL_S_MAX = 30 * 24 * 3600
CHARGE_WAIT_US = 60 * 1_000_000  # a terminal waits a minute for the payer's PIN
PAYMENT_KINDS = ("order", "static", "paycode", "capture")
HOLD_STATES = ("requested", "held", "captured", "voided", "expired")
# A refund works its fee and subsidy shares out again when another refund of the same payment
# committed first; each lost try means another refund went through, so this bounds the waiting.
REFUND_RACE_MAX = 64
REFUND_LOCK_STRIPES = 256
INSERT_ORDER = m.orders.insert()  # built once; the row's values are bound per call


def system_account_id(currency_code: str, kind: AccountKind) -> int:
    """The platform's own accounts per currency: fees 1561, bank clearing 1562 for CNY."""
    slot = {AccountKind.PLATFORM_FEES: 1, AccountKind.BANK_CLEARING: 2}[kind]
    return int(BY_ALPHA[currency_code].numeric) * 10 + slot


def derived_id(prefix: str, *parts: str) -> str:
    """A transfer id derived from the business key, so the same request maps to the same id."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
    return f"{prefix}:{digest}"


def check_amount(amount: Any, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid(field, f"{field} must be an integer number of minor units (fen)")
    if amount <= 0:
        raise invalid(field, f"{field} must be positive")
    if amount > AMOUNT_MINOR_MAX:
        raise invalid(field, f"{field} must be at most {AMOUNT_MINOR_MAX}")
    return amount


def check_currency(code: str, expected: str, *, whose: str = "this merchant is paid") -> str:
    if code not in BY_ALPHA:
        raise invalid("currency", f"unknown currency {code!r}: use an ISO 4217 code such as CNY")
    if code != expected:
        raise Problem("currency-mismatch", 422, f"{whose} in {expected}", field="currency")
    return code


def check_merchant_ref(value: str, field: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 64 or not value.isprintable():
        raise invalid(field, f"{field} must be 1 to 64 printable characters")
    return value


@dataclass
class Sent:
    """What a hook reports back to the service after the commit."""

    events: list[str] = field(default_factory=list)
    wrote: bool = False


def refund_share(part: int, refunded: int, amount: int) -> int:
    """What of ``part`` (a payment's fee or subsidy) goes back once ``refunded`` of ``amount`` has:
    rounded down, so the refunds' shares always sum to exactly this, and to all of it at the end.
    """
    return part * refunded // amount


class RefundRaced(Refusal):
    """Raised in a refund's hook when another refund of the payment committed since its shares
    were worked out: the refund is rolled back and worked out again."""


def code_hash(code: str) -> str:
    """What a charge keeps of the payer's one-time code: enough to recognise it, not to use it."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def _insert(tx: Tx, table: str, values: dict[str, Any]) -> None:
    cols = ", ".join(values)
    names = ", ".join(f":{k}" for k in values)
    tx.execute(f"INSERT INTO {table} ({cols}) VALUES ({names})", values)


class Payments:
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        wallets: Wallets,
        merchants: Merchants,
        *,
        on_events: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.wallets = wallets
        self.merchants = merchants
        self.currency = wallets.currency
        self.fees_account = system_account_id(self.currency, AccountKind.PLATFORM_FEES)
        self.bank_account = system_account_id(self.currency, AccountKind.BANK_CLEARING)
        self._on_events = on_events or (lambda _ids: None)
        self.movements = Movements(ledger, on_events=self._on_events)
        self.promotions: Promotions | None = None
        self.paycodes: PaymentCodes | None = None
        self._refund_locks = [threading.Lock() for _ in range(REFUND_LOCK_STRIPES)]

    def ensure_system_accounts(self) -> None:
        self.ledger.create_accounts(
            [
                Account(self.fees_account, self.currency, AccountKind.PLATFORM_FEES),
                Account(self.bank_account, self.currency, AccountKind.BANK_CLEARING),
            ]
        )

    # --- running a money movement ----------------------------------------------------------------

    def _move(
        self, transfers: list[Transfer], write: Callable[[Tx], None]
    ) -> tuple[list[Result], Sent]:
        """Apply ``transfers``; when all are new, ``write`` records the facts in the same commit."""
        sent = Sent()

        def hook(tx: Tx, results: list[Result]) -> None:
            sent.wrote = False  # a failed batch is retried request by request: the last run counts
            if results and all(r is Result.OK for r in results):
                write(tx)
                sent.wrote = True

        results = self.ledger.submit(transfers, hook=hook).result()
        return results, sent

    def _events_committed(self, tx_events: list[str]) -> None:
        if tx_events:
            self._on_events(tx_events)

    @staticmethod
    def _raise_for(results: list[Result], transfers: list[Transfer]) -> None:
        for result, transfer in zip(results, transfers, strict=True):
            if not result.ok and result is not Result.LINKED_EVENT_FAILED:
                raise from_ledger_error(error_for(result, transfer.id))
        for result, transfer in zip(results, transfers, strict=True):
            if not result.ok:
                raise from_ledger_error(error_for(result, transfer.id))

    def _payment_transfers(
        self,
        transfer_id: str,
        fee_id: str,
        payer: Consumer,
        merchant: Merchant,
        amount: int,
        fee: int,
        ref: str,
        *,
        code: TransferCode = TransferCode.PAYMENT,
    ) -> list[Transfer]:
        pay = Transfer(
            transfer_id,
            payer.account_id,
            merchant.account_id,
            amount,
            code,
            TransferFlags.LINKED if fee else 0,
            ref=ref,
        )
        if not fee:
            return [pay]
        return [
            pay,
            Transfer(
                fee_id, merchant.account_id, self.fees_account, fee, TransferCode.FEE, ref=ref
            ),
        ]

    def _authorise(self, consumer: Consumer, amount: int, pin: str | None) -> str:
        """The authorisation a wallet debit rests on: ``pin:<check id>``, the recorded check.

        Debits without the PIN (payment-code charges under the payer's limits) do not come here:
        they say ``no_pin_limit:...`` and take their share of the day's allowance with
        ``Wallets.reserve_no_pin`` inside the transaction that records them.
        """
        if pin is not None:
            return "pin:" + self.wallets.verify_pin(consumer.id, pin)
        raise Problem("pin-required", 401, "confirm the payment with your PIN", field="pin")

    # --- orders ----------------------------------------------------------------------------------

    def create_order(
        self,
        merchant: Merchant,
        *,
        merchant_order_no: str,
        amount: int,
        currency: str,
        description: str = "",
        expires_in_s: int = ORDER_TTL_S_DEFAULT,
        notify_url: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """The order and whether it is new; the same number with the same details replays."""
        merchant_order_no = check_merchant_ref(merchant_order_no, "merchant_order_no")
        amount = check_amount(amount)
        currency = check_currency(currency, merchant.currency)
        description = check_text("description", description, 128, required=False)
        if (
            isinstance(expires_in_s, bool)
            or not isinstance(expires_in_s, int)
            or not (ORDER_TTL_S_MIN <= expires_in_s <= ORDER_TTL_S_MAX)
        ):
            raise invalid(
                "expires_in_s",
                f"expires_in_s must be between {ORDER_TTL_S_MIN} and {ORDER_TTL_S_MAX}",
            )
        notify_url = check_webhook_url(notify_url, "notify_url")
        now = now_us()
        row = {
            "id": new_id("ord"),
            "merchant_id": merchant.id,
            "merchant_order_no": merchant_order_no,
            "amount": amount,
            "currency": currency,
            "description": description,
            "state": "created",
            "expires_at_us": now + expires_in_s * 1_000_000,
            "notify_url": notify_url,
            "created_at_us": now,
            "updated_at_us": now,
        }
        try:
            with write(self.engine) as conn:
                conn.execute(INSERT_ORDER, row)
        except IntegrityError:
            existing = self._order_by_no(merchant.id, merchant_order_no)
            if existing is None:  # pragma: no cover - the conflicting row vanished
                raise
            if (existing.amount, existing.currency, existing.description) != (
                amount,
                currency,
                description,
            ):
                raise Problem(
                    "order-number-reused",
                    409,
                    f"order number {merchant_order_no!r} already exists with other details",
                    field="merchant_order_no",
                ) from None
            return self.order_view(existing, merchant), False
        # The view of the row as written: reading it back would only repeat it.
        return self.order_view(SimpleNamespace(payment_id=None, **row), merchant), True

    def _order_by_no(self, merchant_id: str, merchant_order_no: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(m.orders).where(
                    m.orders.c.merchant_id == merchant_id,
                    m.orders.c.merchant_order_no == merchant_order_no,
                )
            ).first()

    def _order_row(self, order_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(m.orders).where(m.orders.c.id == order_id)).first()

    @staticmethod
    def order_state(row: Any, now: int | None = None) -> str:
        if row.state == "created" and row.expires_at_us <= (now or now_us()):
            return "expired"
        return str(row.state)

    def order_view(self, row: Any, merchant: Merchant) -> dict[str, Any]:
        from saoma.payments import codes

        return {
            "id": row.id,
            "merchant_id": row.merchant_id,
            "merchant_order_no": row.merchant_order_no,
            "amount": row.amount,
            "currency": row.currency,
            "description": row.description,
            "state": self.order_state(row),
            "payment_id": row.payment_id,
            "created_at": rfc3339(row.created_at_us),
            "expires_at": rfc3339(row.expires_at_us),
            "qr_payload": codes.order_payload(merchant, row),
            "qr_image_url": f"/v1/orders/{row.id}/qr.svg",
        }

    def get_order(self, merchant: Merchant, order_id: str) -> dict[str, Any]:
        row = self._order_row(order_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("order", order_id)
        return self.order_view(row, merchant)

    def find_order(self, merchant: Merchant, merchant_order_no: str) -> dict[str, Any]:
        row = self._order_by_no(merchant.id, merchant_order_no)
        if row is None:
            raise not_found("order", merchant_order_no)
        return self.order_view(row, merchant)

    def close_order(self, merchant: Merchant, order_id: str) -> dict[str, Any]:
        row = self._order_row(order_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("order", order_id)
        state = self.order_state(row)
        if state in ("closed", "expired"):
            return self.order_view(row, merchant)
        if state == "paid":
            raise Problem("order-paid", 409, "the order is paid: refund it instead of closing it")
        with write(self.engine) as conn:
            done = conn.execute(
                update(m.orders)
                .where(m.orders.c.id == order_id, m.orders.c.state == "created")
                .values(state="closed", updated_at_us=now_us())
            )
        if done.rowcount != 1:  # paid in the meantime
            return self.get_order(merchant, order_id)
        return self.get_order(merchant, order_id)

    # --- paying -----------------------------------------------------------------------------------

    def pay_order(
        self,
        consumer: Consumer,
        order_id: str,
        *,
        pin: str | None,
        offer_id: str | None = None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        row = self._order_row(order_id)
        if row is None:
            raise not_found("order", order_id)
        merchant = self.merchants.get(row.merchant_id)
        state = self.order_state(row)
        if state == "paid":
            mine = self._payment_of_order(order_id)
            if mine is not None and mine.consumer_id == consumer.id:
                return self.payment_view(mine, for_merchant=False)
            raise Problem("order-already-paid", 409, "this order has already been paid")
        if state == "closed":
            raise Problem("order-closed", 409, "the merchant closed this order")
        if state == "expired":
            raise Problem("order-expired", 409, "this order has expired: ask for a new code")
        if row.currency != consumer.currency:
            raise Problem("currency-mismatch", 422, "the order is in another currency")
        offer = self._offer(consumer, offer_id, merchant.id, row.amount, row.id)
        authorisation = self._authorise(consumer, row.amount, pin)
        return self._settle(
            consumer,
            merchant,
            amount=row.amount,
            kind="order",
            order=row,
            note=row.description,
            authorisation=authorisation,
            transfer_id=derived_id("ord", row.id),
            claim=claim,
            offer=offer,
        )

    def _offer(
        self, consumer: Consumer, offer_id: str | None, merchant_id: str, amount: int, subject: str
    ) -> Any:
        if offer_id is None:
            return None
        if self.promotions is None:
            raise invalid("offer_id", "promotions are not running here")
        return self.promotions.take(consumer, offer_id, merchant_id, amount, subject)

    def pay_static(
        self,
        consumer: Consumer,
        merchant_id: str,
        *,
        amount: int,
        pin: str | None,
        note: str = "",
        offer_id: str | None = None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        amount = check_amount(amount)
        note = check_text("note", note, 128, required=False)
        merchant = self.merchants.get(merchant_id)
        if merchant.currency != consumer.currency:
            raise Problem("currency-mismatch", 422, "this merchant is paid in another currency")
        offer = self._offer(consumer, offer_id, merchant.id, amount, f"static:{amount}")
        authorisation = self._authorise(consumer, amount, pin)
        # A retry with the same Idempotency-Key maps to the same transfer id.
        seed = f"{claim.scope}\x1f{claim.key}" if claim else new_id("p")
        return self._settle(
            consumer,
            merchant,
            amount=amount,
            kind="static",
            order=None,
            note=note,
            authorisation=authorisation,
            transfer_id=derived_id("pay", seed),
            claim=claim,
            offer=offer,
        )

    def _settle(
        self,
        consumer: Consumer,
        merchant: Merchant,
        *,
        amount: int,
        kind: str,
        order: Any,
        note: str,
        authorisation: str,
        transfer_id: str,
        claim: idempotency.Claim | None,
        offer: Any = None,
    ) -> dict[str, Any]:
        fee = rate_of(amount, merchant.fee_ppm)
        now = now_us()
        payment_id = new_id("pay")
        ref = order.id if order is not None else transfer_id
        subsidy = offer.discount if offer is not None else 0
        transfers = self._payment_transfers(
            transfer_id, "fee" + transfer_id[3:], consumer, merchant, amount - subsidy, fee, ref
        )
        if offer is not None:
            # Payer's part, the campaign's part, then the fee on the full price: all or nothing.
            assert self.promotions is not None
            head = replace(transfers[0], flags=transfers[0].flags | TransferFlags.LINKED)
            sub = self.promotions.subsidy_transfer(offer, transfer_id, merchant.account_id, ref)
            if fee:
                sub = replace(sub, flags=TransferFlags.LINKED)
            transfers = [head, sub, *transfers[1:]]
        row = {
            "id": payment_id,
            "merchant_id": merchant.id,
            "consumer_id": consumer.id,
            "order_id": order.id if order is not None else None,
            "kind": kind,
            "amount": amount,
            "fee": fee,
            "refunded": 0,
            "currency": consumer.currency,
            "note": note,
            "authorisation": authorisation,
            "transfer_id": transfer_id,
            "subsidy": subsidy,
            "campaign_id": offer.campaign_id if offer is not None else None,
            "subsidy_refunded": 0,
            "created_at_us": now,
        }
        view = self._view(row, merchant, for_merchant=False)
        events: list[str] = []

        def record(tx: Tx) -> None:
            if offer is not None:
                assert self.promotions is not None
                self.promotions.record_use(tx, offer, consumer, now)
            if order is not None:
                paid = tx.execute(
                    "UPDATE orders SET state = 'paid', payment_id = :pid, updated_at_us = :now"
                    " WHERE id = :oid AND state = 'created' AND expires_at_us > :now",
                    {"pid": payment_id, "now": now, "oid": order.id},
                )
                if paid.rowcount != 1:
                    raise Problem("order-not-payable", 409, "the order was closed or expired")
            _insert(tx, "payments", row)
            data = self._view(row, merchant, for_merchant=True)
            if order is not None:
                data["merchant_order_no"] = order.merchant_order_no
            events.append(
                emit_in(
                    tx,
                    "payment.succeeded",
                    subject=order.id if order is not None else payment_id,
                    data=data,
                    at_us=now,
                    merchant_id=merchant.id,
                    consumer_id=consumer.id,
                    url=(order.notify_url if order is not None else "") or merchant.webhook_url,
                )
            )
            idempotency.finish_in(tx, claim, 201, view)

        results, sent = self._move(transfers, record)
        if sent.wrote:
            self._events_committed(events)
            return view
        if results[0] is Result.EXISTS:  # the same payment, already made
            existing = self._payment_by_transfer(transfer_id)
            if existing is not None:
                return self.payment_view(existing, for_merchant=False)
        if order is not None and results[0] is Result.EXISTS_WITH_DIFFERENT_FIELDS:
            raise Problem("order-already-paid", 409, "this order has already been paid")
        if offer is not None and results[1] not in (Result.OK, Result.LINKED_EVENT_FAILED):
            assert self.promotions is not None
            raise self.promotions.unavailable()  # the budget ran out since the preview
        self._raise_for(results, transfers)
        raise Problem("conflict", 409, "the payment could not be recorded; retry")

    # --- refunds ---------------------------------------------------------------------------------

    def refund(
        self,
        merchant: Merchant,
        payment_id: str,
        *,
        amount: int,
        merchant_refund_no: str,
        reason: str = "",
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        amount = check_amount(amount)
        merchant_refund_no = check_merchant_ref(merchant_refund_no, "merchant_refund_no")
        reason = check_text("reason", reason, 128, required=False)
        # Refunds of one payment through this service go one at a time (striped by payment): sent
        # together they would all work their shares out from the same total and all but one go
        # again. Between processes the compare-and-set in the refund's hook decides.
        lock = self._refund_locks[hash(payment_id) % REFUND_LOCK_STRIPES]
        for _ in range(REFUND_RACE_MAX):
            with lock:
                payment = self._payment(payment_id)
                if payment is None or payment.merchant_id != merchant.id:
                    raise not_found("payment", payment_id)
                existing = self._refund_by_no(merchant.id, merchant_refund_no)
                if existing is not None:
                    return self._same_refund(existing, payment_id, amount)
                done = self._refund_from(
                    payment, merchant, amount, merchant_refund_no, reason, claim
                )
            if done is not None:
                return done
        raise Problem("conflict", 409, "other refunds of this payment kept committing first; retry")

    def _same_refund(self, existing: Any, payment_id: str, amount: int) -> dict[str, Any]:
        if (existing.payment_id, existing.amount) == (payment_id, amount):
            return self.refund_view(existing)
        raise Problem(
            "refund-number-reused",
            409,
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
        claim: idempotency.Claim | None,
    ) -> dict[str, Any] | None:
        """One try at a refund worked out from ``payment`` as read; None if another refund of
        the payment committed since (the caller reads it again and works the shares out anew)."""
        payment_id = payment.id
        seen = payment.refunded
        left = payment.amount - seen
        if amount > left:
            raise Problem(
                "refund-exceeds-payment",
                422,
                f"only {left} of this payment is left to refund",
                field="amount",
                refundable=left,
            )
        consumer = self.wallets.get(payment.consumer_id)
        # The fee goes back in proportion, so a full refund returns the whole fee; so does the
        # campaign's part of a discounted payment, back to its budget. Each refund returns the
        # share of the refunded total minus what earlier refunds returned: the hook below
        # commits it only if no other refund moved the total meanwhile.
        fee_back = refund_share(payment.fee, seen + amount, payment.amount) - refund_share(
            payment.fee, seen, payment.amount
        )
        sub_back = refund_share(payment.subsidy, seen + amount, payment.amount) - refund_share(
            payment.subsidy, seen, payment.amount
        )
        to_payer = amount - sub_back
        transfer_id = derived_id("rfd", merchant.id, merchant_refund_no)
        chain: list[Transfer] = []
        if fee_back:  # first, so the returned fee can fund the refund
            chain.append(
                Transfer(
                    "rff" + transfer_id[3:],
                    self.fees_account,
                    merchant.account_id,
                    fee_back,
                    TransferCode.FEE,
                    ref=payment_id,
                )
            )
        if to_payer:
            chain.append(
                Transfer(
                    transfer_id,
                    merchant.account_id,
                    consumer.account_id,
                    to_payer,
                    TransferCode.REFUND,
                    ref=payment_id,
                )
            )
        home = self._subsidy_home(payment.campaign_id) if sub_back else 0
        if sub_back and home != merchant.account_id:  # a merchant's own campaign: it keeps it
            chain.append(
                Transfer(
                    "rsb" + transfer_id[3:],
                    merchant.account_id,
                    home,
                    sub_back,
                    TransferCode.SUBSIDY,
                    ref=payment_id,
                )
            )
        transfers = [replace(t, flags=TransferFlags.LINKED) for t in chain[:-1]] + chain[-1:]
        now = now_us()
        row = {
            "id": new_id("rf"),
            "payment_id": payment_id,
            "merchant_id": merchant.id,
            "merchant_refund_no": merchant_refund_no,
            "amount": amount,
            "fee_returned": fee_back,
            "subsidy_returned": sub_back,
            "reason": reason,
            "created_at_us": now,
        }
        view = self._refund_view(row)
        events: list[str] = []

        def record(tx: Tx) -> None:
            # Compare-and-set on the total the shares were worked out from.
            moved = tx.execute(
                "UPDATE payments SET refunded = refunded + :amount,"
                " subsidy_refunded = subsidy_refunded + :sub"
                " WHERE id = :pid AND refunded = :seen AND refunded + :amount <= amount",
                {"amount": amount, "sub": sub_back, "pid": payment_id, "seen": seen},
            )
            if moved.rowcount != 1:
                raise RefundRaced(payment_id)
            _insert(tx, "refunds", row)
            events.append(
                emit_in(
                    tx,
                    "refund.succeeded",
                    subject=payment.order_id or payment_id,
                    data=view,
                    at_us=now,
                    merchant_id=merchant.id,
                    consumer_id=consumer.id,
                    url=merchant.webhook_url,
                )
            )
            idempotency.finish_in(tx, claim, 201, view)

        try:
            results, sent = self._move(transfers, record)
        except RefundRaced:
            return None
        if sent.wrote:
            self._events_committed(events)
            return view
        stored = self._refund_by_no(merchant.id, merchant_refund_no)
        if stored is not None:  # the same refund number, committed by a request sent with it
            return self._same_refund(stored, payment_id, amount)
        now_row = self._payment(payment_id)
        if now_row is not None and now_row.refunded != seen:
            return None  # refused on amounts another refund made stale (a fen short, say)
        self._raise_for(results, transfers)
        raise Problem("conflict", 409, "the refund could not be recorded; retry")

    def _subsidy_home(self, campaign_id: str) -> int:
        """Where a refunded subsidy goes: the budget, or its funder once the campaign ended."""
        from saoma.promotions.models import campaigns

        with read(self.engine) as conn:
            row = conn.execute(
                select(
                    campaigns.c.state, campaigns.c.budget_account_id, campaigns.c.funder_account_id
                ).where(campaigns.c.id == campaign_id)
            ).one()
        return int(row.funder_account_id if row.state == "ended" else row.budget_account_id)

    def _refund_by_no(self, merchant_id: str, merchant_refund_no: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(m.refunds).where(
                    m.refunds.c.merchant_id == merchant_id,
                    m.refunds.c.merchant_refund_no == merchant_refund_no,
                )
            ).first()

    @staticmethod
    def _refund_view(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "payment_id": row["payment_id"],
            "merchant_refund_no": row["merchant_refund_no"],
            "amount": row["amount"],
            "fee_returned": row["fee_returned"],
            "to_payer": row["amount"] - row.get("subsidy_returned", 0),
            "to_campaign": row.get("subsidy_returned", 0),
            "reason": row["reason"],
            "created_at": rfc3339(row["created_at_us"]),
        }

    def refund_view(self, row: Any) -> dict[str, Any]:
        return self._refund_view(dict(row._mapping))

    def merchant_refunds(
        self,
        merchant: Merchant,
        *,
        cursor: str | None = None,
        limit: int = 20,
        payment_id: str | None = None,
        merchant_refund_no: str | None = None,
    ) -> dict[str, Any]:
        """A page of the merchant's refunds, newest first, of one payment or one refund number."""
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        r = m.refunds.c
        query = select(m.refunds).where(r.merchant_id == merchant.id)
        pid = text_filter(payment_id, "payment_id")
        if pid is not None:
            query = query.where(r.payment_id == pid)
        number = text_filter(merchant_refund_no, "merchant_refund_no")
        if number is not None:
            query = query.where(r.merchant_refund_no == number)
        query = newest_first(query, r.created_at_us, r.id, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        return {"data": [self.refund_view(row) for row in rows], "next_cursor": next_cursor}

    def refund_by_no(self, merchant: Merchant, merchant_refund_no: str) -> dict[str, Any]:
        """The refund the merchant sent with this number: the outcome of a request it lost."""
        number = text_filter(merchant_refund_no, "merchant_refund_no") or ""
        row = self._refund_by_no(merchant.id, number) if number else None
        if row is None:
            raise not_found("refund", merchant_refund_no)
        return self.refund_view(row)

    def refunds_of(self, payment_id: str) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.refunds)
                .where(m.refunds.c.payment_id == payment_id)
                .order_by(m.refunds.c.created_at_us)
            ).all()
        return [self.refund_view(r) for r in rows]

    # --- reading payments ------------------------------------------------------------------------

    def _payment(self, payment_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(m.payments).where(m.payments.c.id == payment_id)).first()

    def _payment_of_order(self, order_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(m.payments).where(m.payments.c.order_id == order_id)).first()

    def _payment_by_transfer(self, transfer_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(m.payments).where(m.payments.c.transfer_id == transfer_id)
            ).first()

    def _view(
        self, row: dict[str, Any], merchant: Merchant, *, for_merchant: bool
    ) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": row["id"],
            "kind": row["kind"],
            "order_id": row["order_id"],
            "merchant": merchant.public(),
            "amount": row["amount"],
            "discount": row.get("subsidy", 0),
            "paid": row["amount"] - row.get("subsidy", 0),
            "currency": row["currency"],
            "refunded": row["refunded"],
            "note": row["note"],
            "created_at": rfc3339(row["created_at_us"]),
        }
        if for_merchant:
            view["fee"] = row["fee"]
            view["net"] = row["amount"] - row["fee"]
        else:
            view["authorisation"] = row["authorisation"].split(":", 1)[0]
        return view

    def payment_view(self, row: Any, *, for_merchant: bool) -> dict[str, Any]:
        merchant = self.merchants.get(row.merchant_id)
        return self._view(dict(row._mapping), merchant, for_merchant=for_merchant)

    def payment_for_consumer(self, consumer: Consumer, payment_id: str) -> dict[str, Any]:
        row = self._payment(payment_id)
        if row is None or row.consumer_id != consumer.id:
            raise not_found("payment", payment_id)
        view = self.payment_view(row, for_merchant=False)
        view["refunds"] = self.refunds_of(payment_id)
        return view

    def payment_for_merchant(self, merchant: Merchant, payment_id: str) -> dict[str, Any]:
        row = self._payment(payment_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("payment", payment_id)
        view = self.payment_view(row, for_merchant=True)
        view["refunds"] = self.refunds_of(payment_id)
        return view

    def list_payments(
        self,
        *,
        consumer: Consumer | None = None,
        merchant: Merchant | None = None,
        cursor: str | None = None,
        limit: int = 20,
        kind: str | None = None,
        search: str | None = None,
    ) -> dict[str, Any]:
        """A page of payments, newest first; ``next_cursor`` continues it.

        ``kind`` keeps one kind (order, static, paycode, capture); ``search`` matches the start
        of the payment id or order id, or any part of the note.
        """
        limit = check_limit(limit)
        query = select(m.payments).order_by(m.payments.c.seq.desc()).limit(limit + 1)
        if kind:
            if kind not in PAYMENT_KINDS:
                raise invalid("kind", f"kind must be one of {', '.join(PAYMENT_KINDS)}")
            query = query.where(m.payments.c.kind == kind)
        if search:
            if len(search) > 64:
                raise invalid("q", "a search is 64 characters at most")
            like = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(
                m.payments.c.id.like(like + "%", escape="\\")
                | m.payments.c.order_id.like(like + "%", escape="\\")
                | m.payments.c.note.ilike("%" + like + "%", escape="\\")
            )
        if consumer is not None:
            query = query.where(m.payments.c.consumer_id == consumer.id)
        if merchant is not None:
            query = query.where(m.payments.c.merchant_id == merchant.id)
        after = parse_cursor(cursor)
        if after is not None:
            query = query.where(m.payments.c.seq < after)
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "data": [self.payment_view(r, for_merchant=merchant is not None) for r in rows],
            "next_cursor": str(rows[-1].seq) if more else None,
        }

    # --- pre-authorisation (holds) ---------------------------------------------------------------

    def create_hold(
        self,
        merchant: Merchant,
        *,
        merchant_ref: str,
        amount: int,
        currency: str,
        expires_in_s: int,
        description: str = "",
    ) -> dict[str, Any]:
        """A hold request the payer consents to by scanning its code (a bike's ¥99 deposit)."""
        merchant_ref = check_merchant_ref(merchant_ref, "merchant_ref")
        amount = check_amount(amount)
        currency = check_currency(currency, merchant.currency)
        description = check_text("description", description, 128, required=False)
        if isinstance(expires_in_s, bool) or not 60 <= expires_in_s <= HOLD_TTL_S_MAX:
            raise invalid("expires_in_s", f"expires_in_s must be between 60 and {HOLD_TTL_S_MAX}")
        now = now_us()
        preauth_id = new_id("ha")
        try:
            with write(self.engine) as conn:
                conn.execute(
                    m.preauths.insert().values(
                        id=preauth_id,
                        merchant_id=merchant.id,
                        merchant_ref=merchant_ref,
                        description=description,
                        amount=amount,
                        currency=currency,
                        state="requested",
                        transfer_id=derived_id("hold", preauth_id),
                        expires_at_us=now + expires_in_s * 1_000_000,
                        created_at_us=now,
                    )
                )
        except IntegrityError:
            with read(self.engine) as conn:
                row = conn.execute(
                    select(m.preauths).where(
                        m.preauths.c.merchant_id == merchant.id,
                        m.preauths.c.merchant_ref == merchant_ref,
                    )
                ).one()
            if (row.amount, row.description) != (amount, description):
                raise Problem(
                    "hold-reference-reused",
                    409,
                    f"hold reference {merchant_ref!r} already exists with other details",
                    field="merchant_ref",
                ) from None
            return self.hold_view(row, merchant)
        return self.get_hold(merchant, preauth_id)

    def _hold_row(self, preauth_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(m.preauths).where(m.preauths.c.id == preauth_id)).first()

    def hold_state(self, row: Any) -> str:
        if row.state in ("requested", "held") and row.expires_at_us <= now_us():
            return "expired"
        return str(row.state)

    def hold_view(self, row: Any, merchant: Merchant) -> dict[str, Any]:
        from saoma.payments import codes

        return {
            "id": row.id,
            "merchant_ref": row.merchant_ref,
            "merchant": merchant.public(),
            "description": row.description,
            "amount": row.amount,
            "captured": row.captured,
            "currency": row.currency,
            "state": self.hold_state(row),
            "payment_id": row.payment_id,
            "expires_at": rfc3339(row.expires_at_us),
            "created_at": rfc3339(row.created_at_us),
            "qr_payload": codes.hold_payload(merchant, row),
        }

    def get_hold(self, merchant: Merchant, preauth_id: str) -> dict[str, Any]:
        row = self._hold_row(preauth_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("hold", preauth_id)
        return self.hold_view(row, merchant)

    def holds_of(
        self,
        consumer: Consumer,
        *,
        cursor: str | None = None,
        limit: int = PAGE_LIMIT_MAX,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of the holds the consumer consented to, newest first."""
        query = select(m.preauths).where(m.preauths.c.consumer_id == consumer.id)
        return self._hold_page(query, cursor, limit, state)

    def merchant_holds(
        self,
        merchant: Merchant,
        *,
        cursor: str | None = None,
        limit: int = 20,
        state: str | None = None,
        merchant_ref: str | None = None,
    ) -> dict[str, Any]:
        """A page of the merchant's holds, newest first; ``merchant_ref`` finds one by its ref."""
        query = select(m.preauths).where(m.preauths.c.merchant_id == merchant.id)
        ref = text_filter(merchant_ref, "merchant_ref")
        if ref is not None:
            query = query.where(m.preauths.c.merchant_ref == ref)
        return self._hold_page(query, cursor, limit, state)

    def _hold_page(
        self, query: Any, cursor: str | None, limit: int, state: str | None
    ) -> dict[str, Any]:
        limit = check_limit(limit)
        after = parse_time_cursor(cursor)
        state = choice(state, "state", HOLD_STATES)
        if state is not None:
            query = query.where(self._hold_in_state(state))
        query = newest_first(query, m.preauths.c.created_at_us, m.preauths.c.id, after, limit)
        with read(self.engine) as conn:
            rows, next_cursor = time_page_of(conn.execute(query).all(), limit)
        merchants: dict[str, Merchant] = {}
        data = []
        for r in rows:
            if r.merchant_id not in merchants:
                merchants[r.merchant_id] = self.merchants.get(r.merchant_id)
            data.append(self.hold_view(r, merchants[r.merchant_id]))
        return {"data": data, "next_cursor": next_cursor}

    @staticmethod
    def _hold_in_state(state: str) -> Any:
        """The state a hold shows (see :meth:`hold_state`): an open hold past its time expired."""
        h = m.preauths.c
        now = now_us()
        if state in ("requested", "held"):
            return (h.state == state) & (h.expires_at_us > now)
        if state == "expired":
            return (h.state == "expired") | (
                h.state.in_(("requested", "held")) & (h.expires_at_us <= now)
            )
        return h.state == state

    def consent_hold(
        self,
        consumer: Consumer,
        preauth_id: str,
        *,
        pin: str | None,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """The payer agrees to the hold with the PIN: the amount is reserved, not taken."""
        row = self._hold_row(preauth_id)
        if row is None:
            raise not_found("hold", preauth_id)
        merchant = self.merchants.get(row.merchant_id)
        state = self.hold_state(row)
        if state == "held" and row.consumer_id == consumer.id:
            return self.hold_view(row, merchant)
        if state != "requested":
            raise Problem("hold-not-open", 409, f"this hold is {state}")
        authorisation = self._authorise(consumer, row.amount, pin)
        now = now_us()
        timeout_s = max(1, (row.expires_at_us - now) // 1_000_000)
        pending = Transfer(
            row.transfer_id,
            consumer.account_id,
            merchant.account_id,
            row.amount,
            TransferCode.HOLD,
            TransferFlags.PENDING,
            timeout_s=timeout_s,
            ref=row.id,
        )
        events: list[str] = []

        def record(tx: Tx) -> None:
            taken = tx.execute(
                "UPDATE preauths SET state = 'held', consumer_id = :cid"
                " WHERE id = :id AND state = 'requested' AND expires_at_us > :now",
                {"cid": consumer.id, "id": row.id, "now": now},
            )
            if taken.rowcount != 1:
                raise Problem("hold-not-open", 409, "this hold was taken or has expired")
            _insert(
                tx,
                "hold_consents",
                {
                    "preauth_id": row.id,
                    "consumer_id": consumer.id,
                    "authorisation": authorisation,
                    "transfer_id": row.transfer_id,
                    "created_at_us": now,
                },
            )
            events.append(
                emit_in(
                    tx,
                    "hold.held",
                    subject=row.id,
                    data={"id": row.id, "merchant_ref": row.merchant_ref, "amount": row.amount},
                    at_us=now,
                    merchant_id=merchant.id,
                    consumer_id=consumer.id,
                    url=merchant.webhook_url,
                )
            )
            idempotency.finish_in(tx, claim, 201, view)

        # The answer, stored with the consent so that a replay returns the very same body.
        view = self.hold_view(
            SimpleNamespace(**(row._asdict() | {"state": "held", "consumer_id": consumer.id})),
            merchant,
        )
        results, sent = self._move([pending], record)
        if not sent.wrote:
            self._raise_for(results, [pending])
        self._events_committed(events)
        return view

    def capture_hold(
        self,
        merchant: Merchant,
        preauth_id: str,
        *,
        amount: int,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Take part or all of the hold as a payment (with its fee); the rest goes back."""
        amount = check_amount(amount)
        row = self._hold_row(preauth_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("hold", preauth_id)
        if row.state == "captured":
            return self._captured(row, merchant, amount)
        state = self.hold_state(row)
        if state != "held":
            raise Problem("hold-not-open", 409, f"this hold is {state}")
        if amount > row.amount:
            raise Problem(
                "capture-exceeds-hold", 422, f"at most {row.amount} can be captured", field="amount"
            )
        consumer = self.wallets.get(row.consumer_id)
        fee = rate_of(amount, merchant.fee_ppm)
        post_id = derived_id("cap", row.id)
        transfers = [
            Transfer(
                post_id,
                0,
                0,
                amount,
                TransferCode.CAPTURE,
                TransferFlags.POST_PENDING | (TransferFlags.LINKED if fee else 0),
                row.transfer_id,
                ref=row.id,
            )
        ]
        if fee:
            transfers.append(
                Transfer(
                    derived_id("capfee", row.id),
                    merchant.account_id,
                    self.fees_account,
                    fee,
                    TransferCode.FEE,
                    ref=row.id,
                )
            )
        now = now_us()
        payment = {
            "id": new_id("pay"),
            "merchant_id": merchant.id,
            "consumer_id": consumer.id,
            "order_id": None,
            "kind": "capture",
            "amount": amount,
            "fee": fee,
            "refunded": 0,
            "currency": row.currency,
            "note": row.description,
            "authorisation": f"hold:{row.id}",
            "transfer_id": post_id,
            "created_at_us": now,
        }
        events: list[str] = []

        def record(tx: Tx) -> None:
            done = tx.execute(
                "UPDATE preauths SET state = 'captured', captured = :amount, payment_id = :pid"
                " WHERE id = :id AND state = 'held'",
                {"amount": amount, "pid": payment["id"], "id": row.id},
            )
            if done.rowcount != 1:
                raise Problem("hold-not-open", 409, "this hold is no longer open")
            _insert(tx, "payments", payment)
            events.append(
                emit_in(
                    tx,
                    "hold.captured",
                    subject=row.id,
                    data=self._view(payment, merchant, for_merchant=True)
                    | {"hold_id": row.id, "released": row.amount - amount},
                    at_us=now,
                    merchant_id=merchant.id,
                    consumer_id=consumer.id,
                    url=merchant.webhook_url,
                )
            )
            idempotency.finish_in(tx, claim, 200, view)

        view = self.hold_view(
            SimpleNamespace(
                **(
                    row._asdict()
                    | {"state": "captured", "captured": amount, "payment_id": payment["id"]}
                )
            ),
            merchant,
        )
        results, sent = self._move(transfers, record)
        if not sent.wrote:
            now_row = self._hold_row(row.id)
            if now_row.state == "captured":  # captured meanwhile by a request sent with it
                return self._captured(now_row, merchant, amount)
            self._raise_for(results, transfers)
        self._events_committed(events)
        return view

    def _captured(self, row: Any, merchant: Merchant, amount: int) -> dict[str, Any]:
        """A capture of a captured hold: the same amount replays it, another is a conflict."""
        if row.captured != amount:
            raise Problem(
                "hold-already-captured",
                409,
                f"this hold was already captured for {row.captured}",
                field="amount",
                captured=row.captured,
            )
        return self.hold_view(row, merchant)

    def void_hold(self, merchant: Merchant, preauth_id: str) -> dict[str, Any]:
        row = self._hold_row(preauth_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("hold", preauth_id)
        if row.state == "requested":
            with write(self.engine) as conn:
                conn.execute(
                    update(m.preauths)
                    .where(m.preauths.c.id == row.id, m.preauths.c.state == "requested")
                    .values(state="voided")
                )
            return self.get_hold(merchant, row.id)
        if row.state == "voided":
            return self.hold_view(row, merchant)
        if row.state != "held":
            raise Problem("hold-not-open", 409, f"this hold is {row.state}")
        void = Transfer(
            derived_id("void", row.id),
            0,
            0,
            0,
            TransferCode.RELEASE,
            TransferFlags.VOID_PENDING,
            row.transfer_id,
            ref=row.id,
        )

        def record(tx: Tx) -> None:
            tx.execute(
                "UPDATE preauths SET state = 'voided' WHERE id = :id AND state = 'held'",
                {"id": row.id},
            )

        results, sent = self._move([void], record)
        if not sent.wrote and results[0] is not Result.EXISTS:
            if results[0] is Result.PENDING_TRANSFER_EXPIRED:
                self.expire_holds()
                raise Problem("hold-expired", 409, "the hold has expired and was released")
            self._raise_for(results, [void])
        return self.get_hold(merchant, row.id)

    def expire_holds(self) -> int:
        """Mark holds past their time as expired; the ledger releases the money by itself."""
        now = now_us()
        with read(self.engine) as conn:
            due = conn.execute(
                select(m.preauths).where(
                    m.preauths.c.state.in_(("requested", "held")), m.preauths.c.expires_at_us <= now
                )
            ).all()
        for row in due:
            if row.state == "held":
                self.ledger.expire_due(account_id=self.wallets.get(row.consumer_id).account_id)
            with write(self.engine) as conn:
                conn.execute(
                    update(m.preauths)
                    .where(m.preauths.c.id == row.id, m.preauths.c.state == row.state)
                    .values(state="expired")
                )
        return len(due)

    # --- payment codes: the terminal scans the payer's code ---------------------------------------

    def create_charge(
        self,
        merchant: Merchant,
        *,
        code: str,
        amount: int,
        currency: str,
        merchant_order_no: str,
        terminal_id: str,
        claim: idempotency.Claim | None = None,
    ) -> dict[str, Any]:
        """Charge a consumer's one-time code: under their no-PIN limit it settles at once;
        above it the charge waits (up to a minute) for the payer to confirm with the PIN."""
        amount = check_amount(amount)
        currency = check_currency(currency, merchant.currency)
        merchant_order_no = check_merchant_ref(merchant_order_no, "merchant_order_no")
        terminal_id = check_text("terminal_id", terminal_id, 64)
        existing = self._charge_by_no(merchant.id, merchant_order_no)
        if existing is not None:
            return self._same_charge(existing, code, amount)
        assert self.paycodes is not None
        resolved = self.paycodes.resolve(code, f"{merchant.id}/{terminal_id}")
        consumer = self.wallets.get(resolved.wallet_id)
        now = now_us()
        charge_id = new_id("ch")
        row = {
            "id": charge_id,
            "merchant_id": merchant.id,
            "consumer_id": consumer.id,
            "merchant_order_no": merchant_order_no,
            "amount": amount,
            "currency": currency,
            "state": "waiting_for_payer",
            "payment_id": None,
            "expires_at_us": now + CHARGE_WAIT_US,
            "created_at_us": now,
            "code_hash": code_hash(code),
        }
        try:
            with write(self.engine) as conn:
                conn.execute(m.charges.insert().values(**row))
        except IntegrityError:  # the same order number, taken a moment ago by another request
            taken = self._charge_by_no(merchant.id, merchant_order_no)
            return self._same_charge(taken, code, amount)
        if self.wallets.no_pin_allows(consumer, amount):
            try:
                return self._settle_charge(charge_id, consumer, f"no_pin_limit:{resolved.handle}")
            except OverNoPinLimit:
                pass  # the allowance went to another debit meanwhile: wait for the PIN instead
        events: list[str] = []

        def record(tx: Tx) -> None:
            events.append(
                emit_in(
                    tx,
                    "charge.waiting",
                    subject=charge_id,
                    data={
                        "id": charge_id,
                        "merchant": merchant.public(),
                        "amount": amount,
                        "currency": currency,
                    },
                    at_us=now,
                    consumer_id=consumer.id,
                )
            )

        self._emit_alone(record)
        self._events_committed(events)
        return self.charge_view(self._charge(charge_id))

    def _same_charge(self, existing: Any, code: str, amount: int) -> dict[str, Any]:
        """A till's order number sent again: the same code and amount is a retry, anything
        else is another charge under a number already used."""
        same_code = existing.code_hash is None or existing.code_hash == code_hash(code)
        if same_code and existing.amount == amount:
            return self.charge_view(existing)
        raise Problem(
            "order-number-reused",
            409,
            f"order number {existing.merchant_order_no!r} was used for another charge",
            field="merchant_order_no",
        )

    def _emit_alone(self, record: Callable[[Tx], None]) -> None:
        """An event with no money movement: its own small transaction."""
        with write(self.engine) as conn:
            raw = conn.connection.driver_connection
            record(Tx(raw, postgres=self.engine.dialect.name != "sqlite"))

    def _charge(self, charge_id: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(select(m.charges).where(m.charges.c.id == charge_id)).first()

    def _charge_by_no(self, merchant_id: str, merchant_order_no: str) -> Any:
        with read(self.engine) as conn:
            return conn.execute(
                select(m.charges).where(
                    m.charges.c.merchant_id == merchant_id,
                    m.charges.c.merchant_order_no == merchant_order_no,
                )
            ).first()

    @staticmethod
    def charge_state(row: Any) -> str:
        if row.state == "waiting_for_payer" and row.expires_at_us <= now_us():
            return "expired"
        return str(row.state)

    def charge_view(self, row: Any) -> dict[str, Any]:
        merchant = self.merchants.get(row.merchant_id)
        return {
            "id": row.id,
            "merchant": merchant.public(),
            "merchant_order_no": row.merchant_order_no,
            "amount": row.amount,
            "currency": row.currency,
            "state": self.charge_state(row),
            "payment_id": row.payment_id,
            "expires_at": rfc3339(row.expires_at_us),
        }

    def get_charge(self, merchant: Merchant, charge_id: str) -> dict[str, Any]:
        row = self._charge(charge_id)
        if row is None or row.merchant_id != merchant.id:
            raise not_found("charge", charge_id)
        return self.charge_view(row)

    def waiting_charges(self, consumer: Consumer) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.charges).where(
                    m.charges.c.consumer_id == consumer.id,
                    m.charges.c.state == "waiting_for_payer",
                    m.charges.c.expires_at_us > now_us(),
                )
            ).all()
        return [self.charge_view(r) for r in rows]

    def answer_charge(
        self, consumer: Consumer, charge_id: str, *, accept: bool, pin: str | None
    ) -> dict[str, Any]:
        """The payer confirms a waiting charge with the PIN, or refuses it."""
        row = self._charge(charge_id)
        if row is None or row.consumer_id != consumer.id:
            raise not_found("charge", charge_id)
        state = self.charge_state(row)
        if state != "waiting_for_payer":
            if state == "expired":
                raise Problem("charge-expired", 409, "the cashier stopped waiting: pay again")
            return self.charge_view(row)
        if not accept:
            with write(self.engine) as conn:
                conn.execute(
                    update(m.charges)
                    .where(m.charges.c.id == charge_id, m.charges.c.state == "waiting_for_payer")
                    .values(state="refused")
                )
            return self.charge_view(self._charge(charge_id))
        authorisation = self._authorise(consumer, row.amount, pin)
        return self._settle_charge(charge_id, consumer, authorisation)

    def _settle_charge(
        self, charge_id: str, consumer: Consumer, authorisation: str
    ) -> dict[str, Any]:
        row = self._charge(charge_id)
        merchant = self.merchants.get(row.merchant_id)
        fee = rate_of(row.amount, merchant.fee_ppm)
        transfer_id = derived_id("chg", charge_id)
        transfers = self._payment_transfers(
            transfer_id,
            "fee" + transfer_id[3:],
            consumer,
            merchant,
            row.amount,
            fee,
            charge_id,
            code=TransferCode.PAYMENT,
        )
        now = now_us()
        payment = {
            "id": new_id("pay"),
            "merchant_id": merchant.id,
            "consumer_id": consumer.id,
            "order_id": None,
            "kind": "paycode",
            "amount": row.amount,
            "fee": fee,
            "refunded": 0,
            "currency": row.currency,
            "note": row.merchant_order_no,
            "authorisation": authorisation,
            "transfer_id": transfer_id,
            "subsidy": 0,
            "campaign_id": None,
            "subsidy_refunded": 0,
            "created_at_us": now,
        }
        events: list[str] = []

        def record(tx: Tx) -> None:
            if authorisation.startswith("no_pin"):  # the allowance, with the money or not at all
                payment["created_at_us"] = self.wallets.reserve_no_pin(tx, consumer.id, row.amount)
            done = tx.execute(
                "UPDATE charges SET state = 'succeeded', payment_id = :pid"
                " WHERE id = :id AND state = 'waiting_for_payer' AND expires_at_us > :now",
                {"pid": payment["id"], "id": charge_id, "now": now},
            )
            if done.rowcount != 1:
                raise Problem("charge-expired", 409, "the cashier stopped waiting: pay again")
            _insert(tx, "payments", payment)
            data = self._view(payment, merchant, for_merchant=True) | {
                "charge_id": charge_id,
                "merchant_order_no": row.merchant_order_no,
            }
            events.append(
                emit_in(
                    tx,
                    "payment.succeeded",
                    subject=charge_id,
                    data=data,
                    at_us=now,
                    merchant_id=merchant.id,
                    consumer_id=consumer.id,
                    url=merchant.webhook_url,
                )
            )

        results, sent = self._move(transfers, record)
        if sent.wrote:
            self._events_committed(events)
        elif results[0] is not Result.EXISTS:
            with write(self.engine) as conn:  # refused by the ledger: the charge failed
                conn.execute(
                    update(m.charges)
                    .where(m.charges.c.id == charge_id, m.charges.c.state == "waiting_for_payer")
                    .values(state="refused")
                )
            self._raise_for(results, transfers)
        return self.charge_view(self._charge(charge_id))
