"""Saoma's own merchant account template in an EMVCo payload: its globally unique identifier,
the merchant id and, for an order or a hold, its reference (see docs/qr.md).
"""

from __future__ import annotations

from saoma.qr.emv import EmvError, Field, decode, encode

SAOMA_GUID = "dev.saoma"
SAOMA_TEMPLATE_ID = "26"


def saoma_payload(
    *,
    merchant_id: str,
    reference: str | None,
    amount_minor: int | None,
    currency: str,
    merchant_name: str,
    merchant_name_zh: str,
    city: str,
    category_code: str,
) -> str:
    """An EMVCo payload carrying Saoma's identifier, the merchant id and any order reference."""
    from saoma.core.money import BY_ALPHA, format_minor

    account = [Field("00", SAOMA_GUID), Field("01", merchant_id)]
    if reference:
        account.append(Field("02", reference))
    fields = [
        Field("00", "01"),
        Field("01", "12" if amount_minor is not None else "11"),
        Field(SAOMA_TEMPLATE_ID, tuple(account)),
        Field("52", category_code),
        Field("53", BY_ALPHA[currency].numeric),
    ]
    if amount_minor is not None:
        fields.append(Field("54", format_minor(amount_minor, currency)))
    fields += [Field("58", "CN"), Field("59", merchant_name), Field("60", city)]
    if merchant_name_zh:
        fields.append(Field("64", (Field("00", "ZH"), Field("01", merchant_name_zh))))
    return encode(fields)


def read_saoma_payload(payload: str) -> tuple[str, str | None]:
    """The merchant id and reference in a Saoma code, or a reason it is not one."""
    account = decode(payload.strip()).merchant_accounts().get(SAOMA_GUID)
    if not account or not account.get("01"):
        raise EmvError("this is a payment code of another system, not a Saoma code")
    return account["01"], account.get("02")
