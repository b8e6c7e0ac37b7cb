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


CALL_TO_ACTION = (("扫码付款", True), ("Scan to pay", False))
RED = (179, 18, 43)  # the brand's red: the call to action stands out from the code


def _fitted(
    draw: ImageDraw.ImageDraw, text: str, size: int, width: int, *, cjk: bool
) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont | None, int, int]:
    """The font for ``text`` at ``size``, smaller until it fits ``width``; its box's size."""
    while True:
        font = _font(size, cjk=cjk)
        if font is None:
            return None, 0, 0
        box = draw.textbbox((0, 0), text, font=font)
        if box[2] - box[0] <= width or size <= 12:
            return font, int(box[2] - box[0]), int(box[3])
        size = size * 9 // 10


def _lines(
    draw: ImageDraw.ImageDraw,
    lines: tuple[tuple[str, int, tuple[int, int, int] | str], ...],
    y: int,
    width: int,
    gap: int,
) -> int:
    """Each line centred, one under the other from ``y``; where the next one would start."""
    for text, size, colour in lines:
        font, w, h = _fitted(draw, text, size, width * 9 // 10, cjk=not text.isascii())
        if text and font is not None:
            draw.text(((width - w) // 2, y), text, fill=colour, font=font)
            y += h + gap
    return y


def sticker(payload: str, name: str, *, name_zh: str = "", dpi: int = 300) -> Image.Image:
    """A printable A6 sticker (105 × 148 mm): "扫码付款 / Scan to pay" above the code, the
    merchant's name large under it (made smaller only where it would not fit the width)."""
    width, height = round(105 / 25.4 * dpi), round(148 / 25.4 * dpi)
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    asked = tuple(
        (text, dpi // 4 if cjk else dpi // 6, RED)
        for text, cjk in CALL_TO_ACTION
        if _font(12, cjk=cjk) is not None
    )
    top = _lines(draw, asked, int(height * 0.04), width, dpi // 30)
    qr = segno.make(payload, error=ERROR, micro=False)
    side = int(qr.symbol_size(border=BORDER)[0])
    scale = max(1, int(width * 0.8) // side)
    code = Image.open(io.BytesIO(png(payload, scale=scale))).convert("RGB")
    page.paste(code, ((width - code.width) // 2, top))
    names = ((name_zh, dpi // 3, "black"), (name, dpi // 4 if not name_zh else dpi // 6, "black"))
    _lines(draw, names, top + code.height + dpi // 20, width, dpi // 15)
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
