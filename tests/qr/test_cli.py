"""``saoma qr encode|decode|render``, run as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from saoma.cli import app
from saoma.qr import crc16, decode, images

PIX = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
# PIX's code with currency 999 and a checksum that matches: the currency is what is wrong
BAD_CURRENCY = PIX.replace("5303986", "5303999")[:-4]
BAD_CURRENCY += crc16(BAD_CURRENCY.encode())
# PromptPay to a phone number, as the open-source promptpay-qr generator's tests publish it.
PROMPTPAY = "00020101021129370016A000000677010111011300668012345675802TH530376463046197"
MERCHANT = ["--merchant-id", "m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A", "--name", "Lucky Noodles"]


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["qr", *args])


def said(result: Result) -> str:
    """What the command printed, colour codes gone and rich's line wrapping undone."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    return " ".join(text.split())


def encoded(*args: str) -> str:
    result = run("encode", *MERCHANT, *args)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_encode_then_decode() -> None:
    payload = encoded("--amount", "25.50", "--reference", "o_01J9ZQ5K0D", "--mcc", "5814")
    p = decode(payload)
    assert p.dynamic and p.amount_minor == 2550 and p.currency == "CNY"
    assert p.template("26") == {
        "00": "dev.saoma",
        "01": "m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A",
        "02": "o_01J9ZQ5K0D",
    }
    result = run("decode", payload)
    assert result.exit_code == 0, result.output
    out = said(result)
    for shown in ("Lucky Noodles", "Shenzhen", "dev.saoma", "5814", "25.50"):
        assert shown in out
    assert "amount: 2550 minor units of CNY" in out


def test_a_static_code_with_a_chinese_name() -> None:
    payload = encoded("--name-zh", "好运面馆", "--city", "Guangzhou", "--currency", "HKD")
    p = decode(payload)
    assert not p.dynamic and p.amount_minor is None
    assert (p.currency, p.get("60"), p.template("64")) == (
        "HKD",
        "Guangzhou",
        {"00": "ZH", "01": "好运面馆"},
    )


@pytest.mark.parametrize("currency", ["cny", "156"])
def test_the_currency_by_any_iso_4217_name(currency: str) -> None:
    assert decode(encoded("--currency", currency)).currency == "CNY"


def test_decode_json() -> None:
    payload = encoded("--amount", "8")
    result = run("decode", payload, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["valid"] is True
    fields = out["fields"]
    assert fields["00 payload format indicator"] == "01"
    assert fields["01 point of initiation method"] == "12"
    assert fields["54 transaction amount"] == "8.00"
    assert fields["26 merchant account information"]["00"] == "dev.saoma"
    assert fields["59 merchant name"] == "Lucky Noodles"


def test_decode_json_of_another_systems_code() -> None:
    out = json.loads(run("decode", PIX, "--json").output)
    assert out["fields"]["26 merchant account information"]["00"] == "br.gov.bcb.pix"
    assert out["fields"]["62 additional data"] == {"05": "***"}


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (PIX[:-4] + "0000", "checksum mismatch: the payload says 0000, its content gives 1D3D"),
        (PIX[:-4] + "0000", "field 63 (CRC), at character"),
        (PIX[:-3], "length 4 runs past the end of the payload"),
        (BAD_CURRENCY, "field 53 (transaction currency)"),
        (BAD_CURRENCY, "unknown currency '999'"),
        ("hello", "expected a two-digit field ID"),
    ],
)
def test_a_bad_payload_exits_non_zero_naming_the_problem(payload: str, words: str) -> None:
    result = run("decode", payload)
    assert result.exit_code == 1
    assert "invalid:" in said(result)
    assert words in said(result)


def test_a_bad_payload_as_json() -> None:
    result = run("decode", PIX[:-4] + "0000", "--json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["valid"] is False
    assert "checksum mismatch" in out["error"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--currency", "XYZ"], "unknown currency 'XYZ'"),
        (["--amount", "1.234"], "more than 2 decimals"),
        (["--amount", "lots"], "not a decimal number"),
        (["--amount", "١٢"], "not a decimal number"),  # Decimal reads Arabic-Indic digits
        (["--amount", "1_000"], "not a decimal number"),
        (["--amount", "1e2"], "not a decimal number"),
        (["--name", "The Longest Noodle House In Town"], "25 characters at most"),
        (["--mcc", "58"], "four digits"),
    ],
)
def test_encode_refuses_what_would_not_decode(args: list[str], words: str) -> None:
    result = run("encode", "--merchant-id", "m_1", "--name", "Lucky Noodles", *args)
    assert result.exit_code == 2
    assert "cannot encode:" in said(result)
    assert words in said(result)


def test_render_writes_a_png_that_reads_back(tmp_path: Path) -> None:
    payload = encoded("--amount", "25.50")
    out = tmp_path / "code.png"
    result = run("render", payload, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in said(result)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert images.read(out) == [payload]
    # and decode reads the image with --file
    result = run("decode", "--file", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["fields"]["54 transaction amount"] == "25.50"


def test_render_a_sticker_png_with_the_name(tmp_path: Path) -> None:
    out = tmp_path / "sticker.png"
    result = run("render", PIX, "--out", str(out), "--name", "Fulano de Tal")
    assert result.exit_code == 0, result.output
    with Image.open(out) as page:
        assert page.size == (1240, 1748)
        assert images.read(page) == [PIX]


def test_render_svg_and_pdf(tmp_path: Path) -> None:
    svg, pdf = tmp_path / "code.svg", tmp_path / "sticker.pdf"
    assert run("render", PIX, "-o", str(svg)).exit_code == 0
    assert b"<svg" in svg.read_bytes()
    assert run("render", PIX, "-o", str(pdf), "--name", "Fulano de Tal").exit_code == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_render_refuses_a_bad_payload_or_format(tmp_path: Path) -> None:
    out = tmp_path / "code.png"
    result = run("render", PIX[:-4] + "0000", "-o", str(out))
    assert result.exit_code == 1 and "checksum mismatch" in said(result)
    assert not out.exists()
    result = run("render", PIX, "-o", str(tmp_path / "code.gif"))
    assert result.exit_code == 2 and "must end in .png, .svg or .pdf" in said(result)


def test_decode_an_image_without_a_code(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    result = run("decode", "--file", str(blank))
    assert result.exit_code == 1
    assert "no code found in the image" in said(result)


def test_decode_takes_the_payload_as_text_whatever_its_length(tmp_path: Path) -> None:
    """A payload longer than a file name may be ("File name too long" before), and one that
    happens to name a file, are both read as text."""
    long = PIX[:-4] + "0" * 300
    result = run("decode", long)
    assert result.exit_code == 1, result.output
    assert "invalid:" in said(result) and "File name" not in said(result)
    image = tmp_path / "code.png"
    image.write_bytes(images.png(PIX))
    result = run("decode", str(image))  # a path given as the payload is text, not a file
    assert result.exit_code == 1 and "expected a two-digit field ID" in said(result)
    assert run("decode", "--file", str(image)).exit_code == 0
    assert run("decode").exit_code == 2  # nothing to read
    assert run("decode", PIX, "--file", str(image)).exit_code == 2  # two things to read
    missing = run("decode", "--file", str(tmp_path / "none.png"))
    assert missing.exit_code == 2 and "no such file" in said(missing)


def test_decode_a_promptpay_code_with_its_warnings() -> None:
    """Thailand's PromptPay leaves out fields 52, 59 and 60; wallets read it, so does decode."""
    result = run("decode", PROMPTPAY)
    assert result.exit_code == 0, result.output
    out = said(result)
    assert "A000000677010111" in out
    assert "warning: field 52 (merchant category code) is missing" in out
    out_json = json.loads(run("decode", PROMPTPAY, "--json").output)
    assert out_json["valid"] is True
    assert out_json["fields"]["53 transaction currency"] == "764"
    missing = [("52", "merchant category code"), ("59", "merchant name"), ("60", "merchant city")]
    assert out_json["warnings"] == [
        f"field {tag} ({name}) is missing, which EMVCo makes mandatory" for tag, name in missing
    ]
    assert json.loads(run("decode", PIX, "--json").output)["warnings"] == []
