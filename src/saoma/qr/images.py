"""Rendering payloads as images (segno), reading them back from photos (zxing-cpp), barcodes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

ERROR = "m"  # 15 % of the symbol can be lost: enough for a scuffed sticker, still small
BORDER = 4  # the quiet zone the standard asks for, in modules


def svg(payload: str, *, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error=ERROR, micro=False).save(
        buffer, kind="svg", scale=scale, border=BORDER
    )
    return buffer.getvalue()


def png(payload: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error=ERROR, micro=False).save(
        buffer, kind="png", scale=scale, border=BORDER
    )
    return buffer.getvalue()


CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


def _font(size: int, *, cjk: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont | None:
    for path in CJK_FONTS + (() if cjk else LATIN_FONTS):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    # Without a Chinese font the Chinese name is left off rather than printed as empty boxes.
    return None if cjk else ImageFont.load_default(size=size)


def sticker(payload: str, name: str, *, name_zh: str = "", dpi: int = 300) -> Image.Image:
    """A printable A6 sticker (105 × 148 mm): the code with the merchant's name under it."""
    width, height = round(105 / 25.4 * dpi), round(148 / 25.4 * dpi)
    page = Image.new("RGB", (width, height), "white")
    qr = segno.make(payload, error=ERROR, micro=False)
    side = int(qr.symbol_size(border=BORDER)[0])
    scale = max(1, int(width * 0.85) // side)
    code = Image.open(io.BytesIO(png(payload, scale=scale))).convert("RGB")
    page.paste(code, ((width - code.width) // 2, int(height * 0.08)))
    draw = ImageDraw.Draw(page)
    y = int(height * 0.08) + code.height + dpi // 10
    for text, size in ((name_zh, dpi // 5), (name, dpi // 7)):
        font = _font(size, cjk=not text.isascii()) if text else None
        if text and font is not None:
            box = draw.textbbox((0, 0), text, font=font)
            draw.text(((width - (box[2] - box[0])) // 2, y), text, fill="black", font=font)
            y += int(box[3] - box[1]) + dpi // 15
    return page


def code128_svg(digits: str) -> str:
    """A payment code as a Code 128 barcode (SVG), for tills with a laser scanner."""
    return str(zxingcpp.write_barcode_to_svg(zxingcpp.create_barcode(digits, zxingcpp.Code128)))


def code128_png(digits: str, *, width: int = 600, height: int = 160) -> bytes:
    bars = zxingcpp.write_barcode_to_image(
        zxingcpp.create_barcode(digits, zxingcpp.Code128), scale=3, add_quiet_zones=True
    )
    image = Image.fromarray(np.asarray(bars)).resize((width, height), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# Only the kinds Saoma draws: with every format enabled, the rows of a QR code turned 90° also
# read as a Codabar barcode (it has no checksum), and that junk came back beside the payload.
FORMATS = zxingcpp.BarcodeFormats([zxingcpp.QRCode, zxingcpp.Code128])


def read(image: Image.Image | bytes | str | Path) -> list[str]:
    """Every QR code or Code 128 barcode text found in a photo or screenshot."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    elif isinstance(image, str | Path):
        image = Image.open(image)
    results = zxingcpp.read_barcodes(image.convert("L"), formats=FORMATS)
    return [r.text for r in results if r.valid]
