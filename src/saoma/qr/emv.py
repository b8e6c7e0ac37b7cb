"""EMVCo QR Code Specification for Payment Systems, Merchant-Presented Mode: encode and decode.

A payload is a string of ID–length–value fields: a two-digit ID, a two-digit length, the value.
Some fields are templates holding fields of their own (merchant account information 26–51, the
additional data field 62, merchant information in an alternate language 64, unreserved 80–99).
The last field, ID 63, is a CRC-16/CCITT-FALSE over everything before its value.

Decoding keeps every field in order, templates as nested fields, and fields it does not know as
raw values, so ``encode(decode(p)) == p`` for any canonical payload, including ones other systems
made (Brazil's PIX, Singapore's SGQR/PayNow).

Decoding is strict about form (IDs, lengths, the CRC, each value's format) and tolerant of what
wallets in the field tolerate: a payload without the merchant category code, name or city (fields
EMVCo makes mandatory; Thailand's PromptPay codes carry none of them) decodes, with a warning
naming each missing field in :attr:`Payload.warnings`. Saoma's own codes must be conformant:
:func:`conformant` refuses a payload with any warning.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

from saoma.core.money import BY_NUMERIC

# Mandatory in EMVCo's specification, yet absent from codes wallets accept: a warning, not an error.
TOLERATED_MISSING = ("52", "59", "60")
TEMPLATES = {*(str(i) for i in range(26, 52)), "62", "64", *(str(i) for i in range(80, 100))}
_AMOUNT = re.compile(r"(?=.*\d)\d*(\.\d*)?", re.ASCII)  # with fullmatch: no "\n" after it
NAMES = {
    "00": "payload format indicator",
    "01": "point of initiation method",
    "52": "merchant category code",
    "53": "transaction currency",
    "54": "transaction amount",
    "55": "tip or convenience indicator",
    "56": "convenience fee fixed",
    "57": "convenience fee percentage",
    "58": "country code",
    "59": "merchant name",
    "60": "merchant city",
    "61": "postal code",
    "62": "additional data",
    "63": "CRC",
    "64": "merchant information in alternate language",
}
ADDITIONAL = {
    "01": "bill number",
    "02": "mobile number",
    "03": "store label",
    "04": "loyalty number",
    "05": "reference label",
    "06": "customer label",
    "07": "terminal label",
    "08": "purpose of transaction",
    "09": "additional consumer data request",
}


class EmvError(ValueError):
    """A payload that is not valid, with what is wrong and where (field ID, character offset)."""

    def __init__(self, message: str, *, tag: str | None = None, offset: int | None = None) -> None:
        where = []
        if tag is not None:
            where.append(f"field {tag} ({name_of(tag)})")
        if offset is not None:
            where.append(f"at character {offset}")
        super().__init__(f"{message}" + (f" — {', '.join(where)}" if where else ""))
        self.tag = tag
        self.offset = offset


def name_of(tag: str) -> str:
    if "02" <= tag <= "51":
        return "merchant account information"
    if "80" <= tag <= "99":
        return "unreserved template"
    return NAMES.get(tag, "reserved")


@dataclass(frozen=True)
class Field:
    """One ID–length–value field; a template's value is its own fields."""

    tag: str
    value: str | tuple[Field, ...]

    def text(self) -> str:
        if isinstance(self.value, str):
            return self.value
        return "".join(f.encoded() for f in self.value)

    def encoded(self) -> str:
        text = self.text()
        if len(text) > 99:
            raise EmvError("a value is at most 99 characters", tag=self.tag)
        return f"{self.tag}{len(text):02d}{text}"


def crc16(data: bytes) -> str:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF), four upper-case hex digits.

    ``binascii.crc_hqx`` is this CRC (no reflection, no final XOR) computed in C.
    """
    return f"{binascii.crc_hqx(data, 0xFFFF):04X}"


def _digits(text: str) -> bool:
    """Only 0 to 9: ``str.isdigit`` also takes "²" and "٣", which are no EMV digits."""
    return text.isascii() and text.isdigit()


def parse_fields(text: str, *, base: int = 0, nested: bool = True) -> tuple[Field, ...]:
    """The fields of ``text`` in order; templates parsed when ``nested``."""
    fields = []
    i = 0
    while i < len(text):
        tag, size = text[i : i + 2], text[i + 2 : i + 4]
        if len(tag) < 2 or not _digits(tag):
            raise EmvError(f"expected a two-digit field ID, found {tag!r}", offset=base + i)
        if len(size) < 2 or not _digits(size):
            raise EmvError(
                f"expected a two-digit length, found {size!r}", tag=tag, offset=base + i + 2
            )
        end = i + 4 + int(size)
        if end > len(text):
            raise EmvError(
                f"length {int(size)} runs past the end of the payload", tag=tag, offset=base + i + 2
            )
        value = text[i + 4 : end]
        if nested and tag in TEMPLATES and tag != "63":
            fields.append(Field(tag, parse_fields(value, base=base + i + 4, nested=False)))
        else:
            fields.append(Field(tag, value))
        i = end
    return tuple(fields)


@dataclass(frozen=True)
class Payload:
    """A decoded payload: its fields in order (the CRC field excluded) and typed views of them."""

    fields: tuple[Field, ...]
    _index: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)
    warnings: tuple[str, ...] = ()  # each deviation from EMVCo decoding tolerated, in words

    def __post_init__(self) -> None:
        self._index.update({f.tag: f for f in self.fields})

    def get(self, tag: str) -> str | None:
        f = self._index.get(tag)
        return f.text() if f is not None else None

    def template(self, tag: str) -> dict[str, str]:
        f = self._index.get(tag)
        if f is None or isinstance(f.value, str):
            return {}
        return {sub.tag: sub.text() for sub in f.value}

    @property
    def dynamic(self) -> bool:
        return self.get("01") == "12"

    @property
    def currency(self) -> str:
        return BY_NUMERIC[self.get("53") or ""].alpha

    @property
    def amount_minor(self) -> int | None:
        """The amount in minor units, exactly (never through a float)."""
        amount = self.get("54")
        if amount is None:
            return None
        exponent = BY_NUMERIC[self.get("53") or ""].exponent
        whole, _, frac = amount.partition(".")
        digits = (whole or "0") + (frac + "0" * exponent)[:exponent]
        return int(digits)

    def merchant_accounts(self) -> dict[str, dict[str, str]]:
        """Merchant account templates 26–51 by their globally unique identifier (sub-field 00)."""
        found = {}
        for f in self.fields:
            if "26" <= f.tag <= "51":
                sub = self.template(f.tag)
                found[sub.get("00", f.tag)] = sub
        return found

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in self.fields:
            key = f"{f.tag} {name_of(f.tag)}"
            out[key] = f.text() if isinstance(f.value, str) else {s.tag: s.text() for s in f.value}
        return out


def decode(payload: str) -> Payload:
    """Parse and check a payload strictly: each error says what is wrong and where."""
    if not payload:
        raise EmvError("the payload is empty")
    fields = parse_fields(payload)
    if fields[-1].tag != "63":
        raise EmvError("the payload must end with the CRC field 63", offset=len(payload))
    crc = fields[-1].text()
    if len(crc) != 4:
        raise EmvError(
            "the CRC is four hexadecimal digits", tag="63", offset=len(payload) - len(crc)
        )
    expected = crc16(payload[: len(payload) - 4].encode())
    if crc.upper() != expected:
        raise EmvError(
            f"checksum mismatch: the payload says {crc}, its content gives {expected}",
            tag="63",
            offset=len(payload) - 4,
        )
    body = Payload(fields[:-1])
    warnings = _check(body, payload)
    return Payload(body.fields, warnings=tuple(warnings)) if warnings else body


def conformant(payload: str) -> Payload:
    """:func:`decode`, refusing what it only tolerates: Saoma emits conformant payloads only."""
    decoded = decode(payload)
    if decoded.warnings:
        raise EmvError(f"not conformant: {decoded.warnings[0]}")
    return decoded


def _check(p: Payload, payload: str) -> list[str]:
    """Refuse what is invalid; return what is only tolerated (see :data:`TOLERATED_MISSING`)."""
    warnings: list[str] = []
    tags = [f.tag for f in p.fields]
    if not tags or tags[0] != "00" or p.get("00") != "01":
        raise EmvError("the payload must start with field 00 = 01", tag="00", offset=0)
    if len(set(tags)) != len(tags):
        twice = next(t for t in tags if tags.count(t) > 1)
        raise EmvError("a field appears twice", tag=twice)
    if "63" in tags:
        raise EmvError("the CRC field 63 comes once, last", tag="63")
    if p.get("01") not in (None, "11", "12"):
        raise EmvError("point of initiation is 11 (static) or 12 (dynamic)", tag="01")
    if not any("02" <= t <= "51" for t in tags):
        raise EmvError("no merchant account information (fields 02 to 51)")
    for tag in ("52", "53", "58", "59", "60"):
        if p.get(tag) is None and tag in TOLERATED_MISSING:
            warnings.append(f"field {tag} ({name_of(tag)}) is missing, which EMVCo makes mandatory")
        elif p.get(tag) is None:
            raise EmvError("a mandatory field is missing", tag=tag)
    mcc = p.get("52")
    if mcc is not None and (len(mcc) != 4 or not _digits(mcc)):
        raise EmvError(f"the merchant category code is four digits, not {mcc!r}", tag="52")
    currency = p.get("53") or ""
    if currency not in BY_NUMERIC:
        raise EmvError(f"unknown currency {currency!r} (ISO 4217 numeric)", tag="53")
    amount = p.get("54")
    if amount is not None:
        if len(amount) > 13 or not _AMOUNT.fullmatch(amount):
            raise EmvError(f"the amount is not a number: {amount!r}", tag="54")
        frac = amount.partition(".")[2]
        if len(frac) > BY_NUMERIC[currency].exponent:
            raise EmvError(
                f"{amount} has more decimals than {BY_NUMERIC[currency].alpha}", tag="54"
            )
    tip = p.get("55")
    if tip is not None and tip not in ("01", "02", "03"):
        raise EmvError("the tip indicator is 01, 02 or 03", tag="55")
    if tip == "02" and p.get("56") is None:
        raise EmvError("a fixed convenience fee (56) must follow indicator 02", tag="56")
    if tip == "03" and p.get("57") is None:
        raise EmvError("a percentage (57) must follow indicator 03", tag="57")
    country = p.get("58") or ""
    if len(country) != 2:
        raise EmvError(f"the country is two letters, not {country!r}", tag="58")
    if len(p.get("59") or "") > 25:
        raise EmvError("the merchant name is 25 characters at most", tag="59")
    if len(p.get("60") or "") > 15:
        raise EmvError("the merchant city is 15 characters at most", tag="60")
    return warnings


def encode(fields: list[Field] | tuple[Field, ...]) -> str:
    """The canonical payload for ``fields`` (without field 63), with its CRC appended.

    It serialises any fields (tests build invalid payloads with it); what Saoma shows a payer is
    checked with :func:`conformant`.
    """
    body = "".join(f.encoded() for f in fields) + "6304"
    return body + crc16(body.encode())
