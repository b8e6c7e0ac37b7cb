"""The rows of a payment and the ids of its transfers: built in one place, read in one place.

A payment row is written by a checkout, a hold's capture and a payment-code charge; all three
build it with :func:`payment_row`, so every column (the subsidy ones included) is set the same
way whatever made the payment. Transfer ids derive from the business key (:func:`derived_id`),
so the same request maps to the same transfer and the ledger moves its money once.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Engine

from saoma.core.ids import new_id
from saoma.core.money import BY_ALPHA
from saoma.db import read
from saoma.ledger import AccountKind, Transfer, TransferCode, TransferFlags


def system_account_id(currency_code: str, kind: AccountKind) -> int:
    """The platform's own accounts per currency: fees 1561, bank clearing 1562 for CNY; slot 3
    is p2p's escrow; settlement clearing 1564, reserves 1565, overdraft allowances 1566."""
    slot = {
        AccountKind.PLATFORM_FEES: 1,
        AccountKind.BANK_CLEARING: 2,
        AccountKind.SETTLEMENT_CLEARING: 4,
        AccountKind.RESERVE: 5,
        AccountKind.OVERDRAFT: 6,
    }[kind]
    return int(BY_ALPHA[currency_code].numeric) * 10 + slot


def derived_id(prefix: str, *parts: str) -> str:
    """A transfer id derived from the business key, so the same request maps to the same id."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
    return f"{prefix}:{digest}"


def code_hash(code: str) -> str:
    """What a charge keeps of the payer's one-time code: enough to recognise it, not to use it."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def payment_transfers(
    transfer_id: str,
    payer_account: int,
    merchant_account: int,
    fees_account: int,
    amount: int,
    fee: int,
    ref: str,
) -> list[Transfer]:
    """The payer pays the merchant and, linked to it, the merchant pays the platform's fee."""
    pay = Transfer(
        transfer_id,
        payer_account,
        merchant_account,
        amount,
        TransferCode.PAYMENT,
        TransferFlags.LINKED if fee else 0,
        ref=ref,
    )
    if not fee:
        return [pay]
    fee_id = "fee" + transfer_id[3:]
    return [pay, Transfer(fee_id, merchant_account, fees_account, fee, TransferCode.FEE, ref=ref)]


def payment_row(
    *,
    kind: str,
    merchant_id: str,
    consumer_id: str,
    amount: int,
    fee: int,
    currency: str,
    note: str,
    authorisation: str,
    transfer_id: str,
    now: int,
    order_id: str | None = None,
    subsidy: int = 0,
    campaign_id: str | None = None,
) -> dict[str, Any]:
    """A new payment's row, every column set: nothing refunded yet, no subsidy unless a
    campaign paid part of it (``subsidy`` of ``amount``, from ``campaign_id``)."""
    return {
        "id": new_id("pay"),
        "merchant_id": merchant_id,
        "consumer_id": consumer_id,
        "order_id": order_id,
        "kind": kind,
        "amount": amount,
        "fee": fee,
        "refunded": 0,
        "currency": currency,
        "note": note,
        "authorisation": authorisation,
        "transfer_id": transfer_id,
        "subsidy": subsidy,
        "campaign_id": campaign_id,
        "subsidy_refunded": 0,
        "created_at_us": now,
    }


@cache
def _select_where(table: Table, names: tuple[str, ...]) -> Any:
    """Built once per table and columns: building and keying a statement per call costs more
    Python than its round trip."""
    return select(table).where(*(table.c[name] == bindparam(name) for name in names))


def first(engine: Engine, table: Table, **where: Any) -> Any:
    """The row of ``table`` whose columns equal ``where`` (None: is null), or None."""
    if None in where.values():
        query = select(table).where(*(table.c[name] == value for name, value in where.items()))
        with read(engine) as conn:
            return conn.execute(query).first()
    with read(engine) as conn:
        return conn.execute(_select_where(table, tuple(where)), where).first()
