"""Codes drawn by segno read back by zxing-cpp, also after what a phone camera does to them."""

from __future__ import annotations

import io
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from saoma.paycode import codes as paycodes
from saoma.qr import decode, images
from saoma.qr.saoma import saoma_payload

# A dynamic Saoma code with the longest ids Saoma makes and a Chinese name: a large symbol.
ORDER = saoma_payload(
    merchant_id="m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A",
    reference="o_01J9ZQ5K0D3F6H9J2M5P8S1V4X",
    amount_minor=2550,
    currency="CNY",
    merchant_name="Lucky Noodles",
    merchant_name_zh="好运面馆",
    city="Shenzhen",
    category_code="5814",
)
PIX = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


def rgb(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def rasterise(svg: bytes | str) -> Image.Image:
    """Draw the two kinds of SVG path we make: segno's stroked lines (``M``, ``m``, ``h``) and
    zint's filled rectangles (``M``, ``h``, ``v``, ``Z``). Enough to check them, no more."""
    root = ET.fromstring(svg)
    width, height = (round(float(root.attrib[k].removesuffix("px"))) for k in ("width", "height"))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for node in root.iter():
        if not node.tag.endswith("path"):
            continue
        found = re.search(r"scale\(([\d.]+)\)", node.attrib.get("transform", ""))
        scale = float(found.group(1)) if found else 1.0
        stroked = "stroke" in node.attrib
        x = y = 0.0
        corners: list[tuple[float, float]] = []
        for command, numbers in re.findall(r"([MmHhVvZz])([^MmHhVvZz]*)", node.attrib["d"]):
            args = [float(n) for n in re.findall(r"-?[\d.]+", numbers)]
            if command in "Mm":
                x, y = (args[0], args[1]) if command == "M" else (x + args[0], y + args[1])
                corners = [(x, y)]
            elif command in "Hh":
                end = args[0] if command == "H" else x + args[0]
                if stroked:  # a line one unit thick: one row of modules
                    box = (min(x, end), y - 0.5, max(x, end), y + 0.5)
                    draw.rectangle([v * scale for v in box], fill=0, width=0)
                x = end
                corners.append((x, y))
            elif command in "Vv":
                y = args[0] if command == "V" else y + args[0]
                corners.append((x, y))
            elif not stroked:  # Z: fill the closed shape
                xs, ys = [c[0] for c in corners], [c[1] for c in corners]
                box = (min(xs) * scale, min(ys) * scale, max(xs) * scale - 1, max(ys) * scale - 1)
                draw.rectangle(box, fill=0)
    return image


# ---------------------------------------------------------------------------------------------
# What a phone camera does


def jpeg(image: Image.Image, quality: int = 40) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def noisy(image: Image.Image, sigma: float = 40.0, seed: int = 7) -> Image.Image:
    pixels = np.asarray(image.convert("L"), dtype=np.float64)
    pixels += np.random.default_rng(seed).normal(0.0, sigma, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def small(image: Image.Image, pixels_per_module: float = 2.0) -> Image.Image:
    """As far away as a camera still gets the code: two pixels a module (1.6 no longer reads)."""
    modules = image.width / 8  # images.png draws 8 pixels a module
    side = round(modules * pixels_per_module)
    return image.resize((side, side), Image.Resampling.BILINEAR)


def rotated(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(
        degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
    )


def screenshot(image: Image.Image) -> Image.Image:
    """A chat app's screenshot: the code small, off centre, among bars, bubbles and text."""
    screen = Image.new("RGB", (1080, 1920), (237, 237, 237))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, 1080, 180), fill=(40, 40, 48))
    draw.text((60, 80), "Lucky Noodles  好运面馆", fill="white")
    for top in range(260, 900, 160):
        draw.rounded_rectangle((60, top, 760, top + 110), radius=24, fill="white")
        draw.text((90, top + 40), "paid 25.50 — thanks! 28 1234 5678 9012", fill=(30, 30, 30))
    code = image.resize((420, 420), Image.Resampling.LANCZOS)
    screen.paste(code, (560, 1050))
    draw.rectangle((0, 1800, 1080, 1920), fill=(250, 250, 250))
    return screen


def camera(image: Image.Image) -> Image.Image:
    """All at once: five pixels a module, askew, out of focus, grainy, saved as a poor JPEG."""
    blurred = rotated(small(image, 5), 7).filter(ImageFilter.GaussianBlur(1))
    return jpeg(noisy(blurred, 25), 40)


ALTERATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "scaled down small": small,
    "rotated 7°": lambda im: rotated(im, 7),
    "rotated -7°": lambda im: rotated(im, -7),
    "rotated 90°": lambda im: rotated(im, 90),
    "gaussian blur radius 1": lambda im: im.filter(ImageFilter.GaussianBlur(1)),
    "noise": noisy,
    "jpeg quality 40": jpeg,
    "screenshot on a larger background": screenshot,
    "everything at once": camera,
}


# ---------------------------------------------------------------------------------------------
# QR codes


@pytest.mark.parametrize("payload", [ORDER, PIX, "hello"])
def test_png_reads_back(payload: str) -> None:
    png = images.png(payload)
    assert png.startswith(b"\x89PNG")
    assert images.read(png) == [payload]


def test_svg_reads_back() -> None:
    svg = images.svg(ORDER)
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert images.read(rasterise(svg)) == [ORDER]


def test_the_scale_sets_the_module_size_and_the_quiet_zone_is_four_modules() -> None:
    one, three = rgb(images.png(ORDER, scale=1)), rgb(images.png(ORDER, scale=3))
    assert three.size == (one.width * 3, one.height * 3)
    pixels = np.asarray(one.convert("L"))
    assert (pixels[:4] == 255).all() and (pixels[:, :4] == 255).all()
    assert (pixels[-4:] == 255).all() and (pixels[:, -4:] == 255).all()
    assert pixels[4, 4] == 0  # the finder pattern starts right after the quiet zone


@pytest.mark.parametrize("alteration", list(ALTERATIONS), ids=list(ALTERATIONS))
def test_a_photographed_code_still_reads_exactly(alteration: str) -> None:
    photo = ALTERATIONS[alteration](rgb(images.png(ORDER)))
    assert images.read(photo) == [ORDER]
    decode(ORDER)  # and what it read is a valid payload


def test_a_blank_or_unrelated_picture_has_no_code() -> None:
    assert images.read(Image.new("RGB", (300, 300), "white")) == []
    assert images.read(noisy(Image.new("L", (300, 300), 128), 60)) == []


def test_read_takes_bytes_a_path_a_string_or_an_image(tmp_path: Path) -> None:
    png = images.png(PIX)
    path = tmp_path / "code.png"
    path.write_bytes(png)
    for source in (png, path, str(path), rgb(png)):
        assert images.read(source) == [PIX]


def test_two_codes_in_one_picture_are_both_read() -> None:
    page = Image.new("RGB", (1300, 700), "white")
    page.paste(rgb(images.png(PIX, scale=6)), (20, 40))
    page.paste(rgb(images.png(ORDER, scale=6)), (650, 40))
    assert sorted(images.read(page)) == sorted([PIX, ORDER])


# ---------------------------------------------------------------------------------------------
# The sticker


def test_a_sticker_is_a6_at_300_dpi_and_its_code_reads_back() -> None:
    page = images.sticker(ORDER, "Lucky Noodles", name_zh="好运面馆")
    assert page.size == (1240, 1748)  # 105 × 148 mm
    assert images.read(page) == [ORDER]
    pixels = np.asarray(page.convert("RGB")).astype(int)
    # "扫码付款 / Scan to pay" in red above the code; the name in black under it, large
    red = np.nonzero(((pixels[..., 0] > 120) & (pixels[..., 1] < 80)).any(axis=1))[0]
    black = np.nonzero((pixels.max(axis=2) < 80).any(axis=1))[0]
    assert red.min() > 0 and red.max() < black.min(), "the call to action is above the code"
    gaps = np.nonzero(np.diff(black) > page.height // 50)[0]
    assert len(gaps) == 1  # the code's rows, then the name's
    name_rows = black[gaps[0] + 1 :]
    assert name_rows.min() > page.height // 2
    assert name_rows.max() - name_rows.min() > page.height // 12, "the name is printed large"


def test_a_sticker_photographed_from_across_the_counter() -> None:
    page = images.sticker(PIX, "Fulano de Tal", dpi=150)
    photo = jpeg(rotated(page.resize((310, 437), Image.Resampling.BILINEAR), -7), 40)
    assert images.read(photo) == [PIX]


def test_a_sticker_without_a_name() -> None:
    page = images.sticker(PIX, "")
    assert images.read(page) == [PIX]


# ---------------------------------------------------------------------------------------------
# Code 128, for the payment code a till's laser scanner reads


def payment_code() -> str:
    code = paycodes.generate(secrets.token_bytes(32), "0123456789", 1_800_000_000)
    assert len(code) == 18 and code.isdigit()
    return code


def test_a_payment_code_as_code_128_reads_back() -> None:
    code = payment_code()
    png = images.code128_png(code)
    assert rgb(png).size == (600, 160)
    assert images.read(png) == [code]


def test_a_code_128_svg_reads_back() -> None:
    code = payment_code()
    svg = images.code128_svg(code)
    assert "<svg" in svg
    picture = rasterise(svg)
    big = picture.resize((picture.width * 4, picture.height * 4), Image.Resampling.NEAREST)
    assert images.read(big) == [code]


def test_a_code_128_on_a_phone_screen_under_a_scanner() -> None:
    code = payment_code()
    bars = rgb(images.code128_png(code))
    photo = jpeg(noisy(rotated(bars, 5).filter(ImageFilter.GaussianBlur(1)), 20), 40)
    assert images.read(photo) == [code]
