"""EMVCo Merchant-Presented Mode payloads: strict decoding, canonical encoding, real-world codes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from saoma.core.money import BY_ALPHA, BY_NUMERIC
from saoma.payments import codes
from saoma.qr import EmvError, Field, Payload, crc16, decode, encode
from saoma.qr.emv import NAMES, conformant

# The static example of "Manual de Padrões para Iniciação do Pix" (Banco Central do Brasil):
# a PIX key in template 26 under GUID br.gov.bcb.pix, no amount, reference label "***".
PIX = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
# Singapore PayNow, static, to a company's UEN: the test vector of public open-source PayNow QR
# code generators (UEN 201403121W, amount editable, expiry 2030-12-31, no amount).
PAYNOW_STATIC = (
    "00020101021126490009SG.PAYNOW010120210201403121W030110408203012315"
    "204000053037025802SG5913ACME Pte Ltd.6009Singapore6304B69E"
)
# Singapore PayNow, dynamic: S$50.0 to a UEN with a bill number, as published in a public
# open-source project's PayNow acceptance tests.
PAYNOW_DYNAMIC = (
    "00020101021226560009SG.PAYNOW010120213201509555BNN1030100412230914205029"
    "520400005303702540450.05802SG5914DEV MERCHANT 56009SINGAPORE621601120870-0000VL663049149"
)


def saoma_fields(**changes: str | None) -> list[Field]:
    """A valid Saoma dynamic payload's fields; ``tag=None`` drops a field, a string replaces it."""
    fields = {
        "00": Field("00", "01"),
        "01": Field("01", "12"),
        "26": Field("26", (Field("00", "dev.saoma"), Field("01", "m_lucky"), Field("02", "o_1"))),
        "52": Field("52", "5814"),
        "53": Field("53", "156"),
        "54": Field("54", "25.50"),
        "58": Field("58", "CN"),
        "59": Field("59", "Lucky Noodles"),
        "60": Field("60", "Shenzhen"),
    }
    for tag, value in changes.items():
        tag = tag.removeprefix("f")
        if value is None:
            del fields[tag]
        else:
            fields[tag] = Field(tag, value)
    return list(fields.values())


def error_of(payload: str) -> EmvError:
    with pytest.raises(EmvError) as caught:
        decode(payload)
    return caught.value


# ---------------------------------------------------------------------------------------------
# Errors say what is wrong and where


def test_crc16_is_ccitt_false() -> None:
    assert crc16(b"123456789") == "29B1"  # the catalogue's check value for CRC-16/CCITT-FALSE
    assert crc16(b"") == "FFFF"


def test_a_wrong_checksum_names_both_values_and_points_at_the_crc() -> None:
    error = error_of(PIX[:-4] + "0000")
    assert error.tag == "63"
    assert error.offset == len(PIX) - 4
    assert "checksum mismatch" in str(error)
    assert "says 0000" in str(error) and "gives 1D3D" in str(error)
    assert "field 63 (CRC)" in str(error)


def test_a_changed_character_is_caught_by_the_checksum() -> None:
    error = error_of(PIX.replace("Fulano", "Fulana"))
    assert (error.tag, error.offset) == ("63", len(PIX) - 4)
    assert "says 1D3D" in str(error)


def test_a_length_running_past_the_end_names_the_field_and_its_length_digits() -> None:
    error = error_of("0002015999Fulano")
    assert error.tag == "59"
    assert error.offset == 8  # where the two length digits are
    assert "length 99 runs past the end" in str(error)
    assert "field 59 (merchant name), at character 8" in str(error)


def test_a_truncated_payload_fails_on_its_last_field() -> None:
    error = error_of(PIX[:-3])
    assert error.tag == "63"
    assert error.offset == len(PIX) - 6
    assert "length 4 runs past the end" in str(error)


def test_a_sub_field_running_past_its_template_has_its_offset_in_the_whole_payload() -> None:
    # template 26 holds 18 characters, its sub-field 00 claims 15 of the 14 left after it
    payload = encode(saoma_fields(f26="0015br.gov.bcb.pix"))
    error = error_of(payload)
    assert error.tag == "00"
    assert error.offset == payload.index("0015br") + 2
    assert "length 15 runs past the end" in str(error)


@pytest.mark.parametrize(
    ("text", "offset"),
    [("0x", 0), ("AB0201", 0), ("0002015x", 6), ("000201520x", 8), ("000201 1", 6)],
)
def test_a_field_id_or_length_that_is_not_two_digits(text: str, offset: int) -> None:
    error = error_of(text)
    assert error.offset == offset
    assert "two-digit" in str(error)


@pytest.mark.parametrize("digits", ["²²", "٠٢", "０２"])
def test_digits_other_than_0_to_9_are_refused_not_crashed_on(digits: str) -> None:
    # "²".isdigit() is True and int("٠٢") == 2: neither may pass for an EMV length
    error = error_of(f"00{digits}01")
    assert (error.tag, error.offset) == ("00", 2)
    assert "expected a two-digit length" in str(error)


def test_the_empty_payload_and_one_without_a_crc() -> None:
    assert "empty" in str(error_of(""))
    error = error_of("000201")
    assert error.offset == 6 and "must end with the CRC field 63" in str(error)


def test_the_crc_is_four_characters_and_comes_once_at_the_end() -> None:
    error = error_of("0002016303ABC")
    assert error.tag == "63" and "four hexadecimal digits" in str(error)
    twice = encode([*saoma_fields()[:4], Field("63", "ABCD"), *saoma_fields()[4:]])
    error = error_of(twice)
    assert error.tag == "63" and "once, last" in str(error)


@pytest.mark.parametrize("tag", ["53", "58"])
def test_a_missing_mandatory_field_is_named(tag: str) -> None:
    error = error_of(encode(saoma_fields(**{f"f{tag}": None})))
    assert error.tag == tag
    assert "mandatory field is missing" in str(error)
    assert f"field {tag} (" in str(error)


# Published by the open-source promptpay-qr generator's tests: a phone number, static; and an
# amount of 4.22 baht, dynamic. Neither has a category code, a name or a city.
PROMPTPAY = "00020101021129370016A000000677010111011300668012345675802TH530376463046197"
PROMPTPAY_AMOUNT = (
    "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469"
)


def test_a_promptpay_code_decodes_with_a_warning_for_each_missing_field() -> None:
    p = decode(PROMPTPAY)
    assert p.merchant_accounts()["A000000677010111"]["01"] == "0066801234567"
    assert p.currency == "THB" and p.amount_minor is None and not p.dynamic
    assert p.warnings == (
        "field 52 (merchant category code) is missing, which EMVCo makes mandatory",
        "field 59 (merchant name) is missing, which EMVCo makes mandatory",
        "field 60 (merchant city) is missing, which EMVCo makes mandatory",
    )
    paid = decode(PROMPTPAY_AMOUNT)
    assert paid.dynamic and paid.amount_minor == 422 and len(paid.warnings) == 3
    assert encode(p.fields) == PROMPTPAY  # read as it is, field order kept
    assert decode(PIX).warnings == decode(PAYNOW_DYNAMIC).warnings == ()


@pytest.mark.parametrize("tag", ["52", "59", "60"])
def test_a_tolerated_missing_field_is_a_warning_and_never_conformant(tag: str) -> None:
    payload = encode(saoma_fields(**{f"f{tag}": None}))
    assert decode(payload).warnings == (
        f"field {tag} ({NAMES[tag]}) is missing, which EMVCo makes mandatory",
    )
    with pytest.raises(EmvError, match=f"not conformant: field {tag} "):
        conformant(payload)


def test_a_category_code_present_but_wrong_is_still_an_error() -> None:
    assert "four digits" in str(error_of(encode(saoma_fields(f52=""))))


def test_a_promptpay_code_with_a_bad_crc_is_still_refused() -> None:
    assert "checksum mismatch" in str(error_of(PROMPTPAY[:-4] + "0000"))


def test_the_payload_starts_with_the_format_indicator() -> None:
    for fields in (saoma_fields(f00="02"), saoma_fields(f00=None)):
        error = error_of(encode(fields))
        assert (error.tag, error.offset) == ("00", 0)


def test_a_payload_without_merchant_account_information() -> None:
    assert "no merchant account information" in str(error_of(encode(saoma_fields(f26=None))))


def test_a_field_twice() -> None:
    fields = saoma_fields()
    error = error_of(encode([*fields, Field("59", "Again")]))
    assert error.tag == "59" and "appears twice" in str(error)


@pytest.mark.parametrize("currency", ["999", "15", "1560", "CNY", ""])
def test_an_unknown_currency(currency: str) -> None:
    error = error_of(encode(saoma_fields(f53=currency)))
    assert error.tag == "53"
    assert f"unknown currency {currency!r}" in str(error)


@pytest.mark.parametrize(
    "amount", ["12,50", "1e3", "-5", "", ".", "12.5\n", "١٢", "12.5.0", " 12", "12345678901234"]
)
def test_an_amount_that_is_not_a_number(amount: str) -> None:
    error = error_of(encode(saoma_fields(f54=amount)))
    assert error.tag == "54"
    assert "not a number" in str(error)
    assert repr(amount) in str(error)


@pytest.mark.parametrize(("currency", "amount"), [("156", "1.234"), ("392", "5.0")])
def test_more_decimals_than_the_currency_has(currency: str, amount: str) -> None:
    error = error_of(encode(saoma_fields(f53=currency, f54=amount)))
    assert error.tag == "54" and "more decimals than" in str(error)


@pytest.mark.parametrize(
    ("changes", "tag", "words"),
    [
        ({"f01": "13"}, "01", "11 (static) or 12 (dynamic)"),
        ({"f52": "581"}, "52", "four digits"),
        ({"f52": "５８１４"}, "52", "four digits"),
        ({"f58": "CHN"}, "58", "two letters"),
        ({"f59": "N" * 26}, "59", "25 characters"),
        ({"f60": "C" * 16}, "60", "15 characters"),
        ({"f55": "04"}, "55", "01, 02 or 03"),
        ({"f55": "02"}, "56", "fixed convenience fee"),
        ({"f55": "03"}, "57", "percentage"),
    ],
)
def test_other_field_rules(changes: dict[str, str], tag: str, words: str) -> None:
    error = error_of(encode(saoma_fields(**changes)))
    assert error.tag == tag
    assert words in str(error)


def test_a_value_over_99_characters_cannot_be_encoded() -> None:
    with pytest.raises(EmvError) as caught:
        encode(saoma_fields(f59="x" * 100))
    assert caught.value.tag == "59"


# ---------------------------------------------------------------------------------------------
# Real-world payloads


def test_the_pix_example_of_banco_central_do_brasil() -> None:
    p = decode(PIX)
    assert p.merchant_accounts() == {
        "br.gov.bcb.pix": {"00": "br.gov.bcb.pix", "01": "123e4567-e12b-12d1-a456-426655440000"}
    }
    assert p.get("52") == "0000"
    assert p.currency == "BRL"
    assert p.amount_minor is None
    assert p.get("58") == "BR"
    assert p.get("59") == "Fulano de Tal"
    assert p.get("60") == "BRASILIA"
    assert p.template("62") == {"05": "***"}  # reference label
    assert not p.dynamic
    assert encode(p.fields) == PIX


def test_a_static_paynow_code() -> None:
    p = decode(PAYNOW_STATIC)
    assert p.get("01") == "11" and not p.dynamic
    # PayNow's template is none of Saoma's business: kept field by field, character for character
    assert p.get("26") == "0009SG.PAYNOW010120210201403121W03011040820301231"
    assert p.merchant_accounts() == {
        "SG.PAYNOW": {"00": "SG.PAYNOW", "01": "2", "02": "201403121W", "03": "1", "04": "20301231"}
    }
    assert (p.get("59"), p.get("60"), p.get("58")) == ("ACME Pte Ltd.", "Singapore", "SG")
    assert p.currency == "SGD"
    assert p.amount_minor is None
    assert encode(p.fields) == PAYNOW_STATIC


def test_a_dynamic_paynow_code_with_an_amount_and_a_bill_number() -> None:
    p = decode(PAYNOW_DYNAMIC)
    assert p.dynamic
    assert p.get("26") == "0009SG.PAYNOW010120213201509555BNN1030100412230914205029"
    assert p.merchant_accounts()["SG.PAYNOW"]["02"] == "201509555BNN1"
    assert (p.get("59"), p.get("60")) == ("DEV MERCHANT 5", "SINGAPORE")
    assert p.currency == "SGD"
    assert p.get("54") == "50.0"
    assert p.amount_minor == 5000
    assert p.template("62") == {"01": "0870-0000VL6"}  # bill number
    assert encode(p.fields) == PAYNOW_DYNAMIC


@pytest.mark.parametrize("payload", [PIX, PAYNOW_STATIC, PAYNOW_DYNAMIC])
def test_other_systems_codes_are_not_saoma_codes(payload: str) -> None:
    with pytest.raises(EmvError, match="another system"):
        codes.read_saoma_payload(payload)


def test_unknown_fields_and_templates_are_kept_as_they_came() -> None:
    fields = [
        *saoma_fields(),
        Field("61", "518000"),
        Field("65", "a reserved field, raw"),
        Field("91", (Field("00", "com.example"), Field("07", "anything at all"))),
    ]
    payload = encode(fields)
    p = decode(payload)
    assert p.get("65") == "a reserved field, raw"
    assert p.template("91") == {"00": "com.example", "07": "anything at all"}
    assert p.as_dict()["91 unreserved template"] == {"00": "com.example", "07": "anything at all"}
    assert encode(p.fields) == payload


def test_a_lower_case_crc_is_accepted_and_re_encoded_upper_case() -> None:
    assert encode(decode(PIX[:-4] + "1d3d").fields) == PIX


# ---------------------------------------------------------------------------------------------
# Saoma's own codes


def merchant(**changes: Any) -> Any:
    return SimpleNamespace(
        **{
            "id": "m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A",
            "name": "Lucky Noodles",
            "name_zh": "好运面馆",
            "city": "Shenzhen",
            "category_code": "5814",
            "currency": "CNY",
        }
        | changes
    )


def test_a_static_merchant_code() -> None:
    payload = codes.static_payload(merchant())
    p = decode(payload)
    assert not p.dynamic and p.amount_minor is None
    assert p.template("26") == {"00": "dev.saoma", "01": "m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A"}
    assert p.template("64") == {"00": "ZH", "01": "好运面馆"}
    assert (p.get("59"), p.get("60"), p.currency) == ("Lucky Noodles", "Shenzhen", "CNY")
    assert encode(p.fields) == payload
    assert codes.read_saoma_payload(payload) == ("m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A", None)


@pytest.mark.parametrize(("currency", "amount"), [("CNY", 2550), ("JPY", 1200), ("KWD", 1005)])
def test_an_order_code(currency: str, amount: int) -> None:
    order = SimpleNamespace(id="o_01J9ZQ5K0D", amount=amount, currency=currency)
    payload = codes.order_payload(merchant(currency=currency), order)
    p = decode(payload)
    assert p.dynamic
    assert (p.currency, p.amount_minor) == (currency, amount)
    assert encode(p.fields) == payload
    assert codes.read_saoma_payload(payload) == ("m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A", "o_01J9ZQ5K0D")


def test_a_hold_code_and_a_personal_code() -> None:
    hold = SimpleNamespace(id="h_01J9ZQ6", amount=30000, currency="CNY")
    payload = codes.hold_payload(merchant(name_zh=""), hold)
    assert "64" not in {f.tag for f in decode(payload).fields}
    assert codes.read_saoma_payload(payload) == ("m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A", "hold:h_01J9ZQ6")
    consumer = SimpleNamespace(id="c_01J9ZQ7", display_name="小李", currency="CNY")
    personal = codes.personal_payload(consumer)
    p = decode(personal)
    assert (p.get("52"), p.get("59"), p.template("64")["01"]) == ("4829", "Saoma wallet", "小李")
    assert codes.read_saoma_payload(personal) == ("c_01J9ZQ7", None)
    assert encode(p.fields) == personal


# ---------------------------------------------------------------------------------------------
# Properties

ANS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)  # EMV's "ans": printable ASCII
ANY_TEXT = st.characters(blacklist_categories=("Cs",))  # anything but lone surrogates


def values(max_size: int, alphabet: st.SearchStrategy[str] = ANS) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=max_size)


@st.composite
def templates(draw: st.DrawFn, tag: str, guid: str | None = None) -> Field:
    """A template of distinct sub-fields whose encoding fits in 99 characters."""
    subs = [Field("00", guid)] if guid else []
    room = 99 - sum(len(s.encoded()) for s in subs)
    for sub in draw(st.lists(st.sampled_from([f"{i:02d}" for i in range(1, 100)]), unique=True)):
        if room < 5:
            break
        value = draw(values(min(room - 4, 40), st.one_of(ANS, ANY_TEXT)))
        subs.append(Field(sub, value))
        room -= 4 + len(value)
    if not subs:
        subs.append(Field("00", draw(values(20))))
    return Field(tag, tuple(sorted(subs, key=lambda s: s.tag)))


@st.composite
def amounts(draw: st.DrawFn, exponent: int) -> str:
    whole = draw(st.integers(0, 10**9))
    if exponent == 0 or draw(st.booleans()):
        return str(whole)
    decimals = draw(st.integers(0, exponent))
    frac = draw(st.integers(0, 10**decimals - 1)) if decimals else 0
    return f"{whole}." + (f"{frac:0{decimals}d}" if decimals else "")


@st.composite
def valid_fields(draw: st.DrawFn) -> list[Field]:
    """Fields of a valid Merchant-Presented Mode payload, in ascending order of ID."""
    fields = [Field("00", "01")]
    if draw(st.booleans()):
        fields.append(Field("01", draw(st.sampled_from(["11", "12"]))))
    account_tags = draw(
        st.lists(st.integers(2, 51).map(lambda i: f"{i:02d}"), min_size=1, max_size=3, unique=True)
    )
    for tag in sorted(account_tags):
        if tag >= "26":
            guid = draw(st.sampled_from(["dev.saoma", "br.gov.bcb.pix", "SG.PAYNOW", "A000000677"]))
            fields.append(draw(templates(tag, guid)))
        else:  # 02–25 are primitive: card scheme merchant numbers
            fields.append(
                Field(tag, draw(values(30, st.characters(min_codepoint=48, max_codepoint=57))))
            )
    currency = draw(st.sampled_from(sorted(BY_NUMERIC)))
    fields += [
        Field("52", f"{draw(st.integers(0, 9999)):04d}"),
        Field("53", currency),
    ]
    if draw(st.booleans()):
        fields.append(Field("54", draw(amounts(BY_NUMERIC[currency].exponent))))
    tip = draw(st.sampled_from([None, "01", "02", "03"]))
    if tip:
        fields.append(Field("55", tip))
        if tip == "02":
            fields.append(Field("56", draw(amounts(BY_NUMERIC[currency].exponent))))
        if tip == "03":
            fields.append(Field("57", f"{draw(st.integers(1, 99))}"))
    fields += [
        Field(
            "58",
            draw(
                st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=2, max_size=2)
            ),
        ),
        Field("59", draw(values(25, st.one_of(ANS, ANY_TEXT)))),
        Field("60", draw(values(15, st.one_of(ANS, ANY_TEXT)))),
    ]
    if draw(st.booleans()):
        fields.append(Field("61", draw(values(10))))
    if draw(st.booleans()):
        fields.append(draw(templates("62")))
    if draw(st.booleans()):
        fields.append(draw(templates("64")))
    for tag in sorted(draw(st.lists(st.integers(80, 99), max_size=2, unique=True))):
        fields.append(draw(templates(f"{tag}")))
    return fields


@given(valid_fields())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_decode_inverts_encode(fields: list[Field]) -> None:
    payload = encode(fields)
    decoded = decode(payload)
    assert decoded == Payload(tuple(fields))
    assert decoded.fields == tuple(fields)
    decoded.as_dict()  # every view works on a valid payload
    assert decoded.currency in BY_ALPHA
    assert decoded.amount_minor is None or decoded.amount_minor >= 0


@given(valid_fields())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_encode_inverts_decode_on_canonical_payloads(fields: list[Field]) -> None:
    canonical = encode(fields)
    assert encode(decode(canonical).fields) == canonical


@given(valid_fields(), st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_one_character_changed_is_refused(fields: list[Field], data: st.DataObject) -> None:
    payload = encode(fields)
    at = data.draw(st.integers(0, len(payload) - 1))
    new = data.draw(ANS)
    # one ASCII character for another changes at most 8 bits: a burst CRC-16 always catches
    assume(payload[at].isascii() and new != payload[at])
    assume(not (at >= len(payload) - 4 and new.upper() == payload[at]))  # hex case is free
    changed = payload[:at] + new + payload[at + 1 :]
    with pytest.raises(EmvError):
        decode(changed)


@given(st.lists(st.tuples(st.integers(0, 99), st.text(max_size=30)), max_size=12))
@settings(max_examples=500)
def test_any_fields_decode_or_fail_with_an_emv_error(raw: list[tuple[int, str]]) -> None:
    try:
        payload = encode([Field(f"{tag:02d}", value) for tag, value in raw])
        decoded = decode(payload)
    except EmvError:
        return
    assert encode(decoded.fields) == payload
    decoded.as_dict()
    assert decoded.amount_minor is None or decoded.amount_minor >= 0


@given(st.text(max_size=200))
def test_any_text_decodes_or_fails_with_an_emv_error(text: str) -> None:
    try:
        decode(text)
    except EmvError as error:
        assert error.offset is None or 0 <= error.offset <= len(text)


@given(
    st.sampled_from(sorted(BY_ALPHA)),
    st.one_of(st.none(), st.integers(0, 10**9)),
    st.one_of(st.none(), values(20)),
    values(25),
    values(15),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
)
@settings(max_examples=200)
def test_saoma_emits_conformant_payloads_only(
    currency: str, amount: int | None, reference: str | None, name: str, city: str, mcc: str
) -> None:
    payload = codes.saoma_payload(
        merchant_id="m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A",
        reference=reference,
        amount_minor=amount,
        currency=currency,
        merchant_name=name,
        merchant_name_zh="",
        city=city,
        category_code=mcc,
    )
    assert conformant(payload).get("52") == mcc
