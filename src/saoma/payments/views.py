"""What payers and merchants are shown of payments, refunds, orders, holds and charges.

Pure functions of a row (a mapping, or a row object with attributes) and the merchant it
belongs to: they read nothing, so a service can answer with the view of a row it has just
written without reading it back. The state shown is the state as of now: an open order, hold or
charge past its time shows as expired before any sweep has marked it so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from saoma.core.ids import now_us, rfc3339
from saoma.merchants.service import Merchant
from saoma.payments import codes


def masked_name(name: str) -> str:
    """A payer's name as a merchant sees it, the way receipts and sound boxes show it: the last
    character of a Chinese name (``*敏``), the last word of a name in Latin letters (``*Wei``)."""
    name = name.strip()
    if not name:
        return ""
    if name.isascii():
        return "*" + name.split()[-1]
    return "*" + name[-1]


def payment(
    row: Mapping[str, Any], merchant: Merchant, *, for_merchant: bool, payer: str = ""
) -> dict[str, Any]:
    """A payment: the merchant also sees its fee, its net and the payer's masked name (from
    ``payer``, the payer's display name); the payer how it was authorised. ``refunded`` is the
    price refunded, ``refunded_to_payer`` what of it went back to the payer (a campaign's share
    of a discounted payment goes back to the campaign)."""
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
        "refunded_to_payer": row["refunded"] - row.get("subsidy_refunded", 0),
        "note": row["note"],
        "created_at": rfc3339(row["created_at_us"]),
    }
    if for_merchant:
        view["fee"] = row["fee"]
        view["net"] = row["amount"] - row["fee"]
        view["payer"] = masked_name(payer)
    else:
        view["authorisation"] = row["authorisation"].split(":", 1)[0]
    return view


def refund(row: Mapping[str, Any]) -> dict[str, Any]:
    """A refund: what went back to the payer and what to the campaign that paid part."""
    to_campaign = row.get("subsidy_returned", 0)
    return {
        "id": row["id"],
        "payment_id": row["payment_id"],
        "merchant_refund_no": row["merchant_refund_no"],
        "amount": row["amount"],
        "fee_returned": row["fee_returned"],
        "to_payer": row["amount"] - to_campaign,
        "to_campaign": to_campaign,
        "reason": row["reason"],
        "created_at": rfc3339(row["created_at_us"]),
    }


def order_state(row: Any, now: int | None = None) -> str:
    if row.state == "created" and row.expires_at_us <= (now or now_us()):
        return "expired"
    return str(row.state)


def order(row: Any, merchant: Merchant) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant_id": row.merchant_id,
        "merchant_order_no": row.merchant_order_no,
        "amount": row.amount,
        "currency": row.currency,
        "description": row.description,
        "state": order_state(row),
        "payment_id": row.payment_id,
        "created_at": rfc3339(row.created_at_us),
        "expires_at": rfc3339(row.expires_at_us),
        "qr_payload": codes.order_payload(merchant, row),
        "qr_image_url": f"/v1/orders/{row.id}/qr.svg",
    }


def hold_state(row: Any) -> str:
    if row.state in ("requested", "held") and row.expires_at_us <= now_us():
        return "expired"
    return str(row.state)


def hold(row: Any, merchant: Merchant) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant_ref": row.merchant_ref,
        "merchant": merchant.public(),
        "description": row.description,
        "amount": row.amount,
        "captured": row.captured,
        "currency": row.currency,
        "state": hold_state(row),
        "payment_id": row.payment_id,
        "expires_at": rfc3339(row.expires_at_us),
        "created_at": rfc3339(row.created_at_us),
        "qr_payload": codes.hold_payload(merchant, row),
    }


def charge_state(row: Any) -> str:
    if row.state == "waiting_for_payer" and row.expires_at_us <= now_us():
        return "expired"
    return str(row.state)


def charge(row: Any, merchant: Merchant) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant": merchant.public(),
        "merchant_order_no": row.merchant_order_no,
        "amount": row.amount,
        "currency": row.currency,
        "state": charge_state(row),
        "payment_id": row.payment_id,
        "expires_at": rfc3339(row.expires_at_us),
    }
