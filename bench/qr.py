"""How fast Saoma reads and draws EMVCo QR codes, each beside a baseline from the same run.

1. Decoding: ``saoma.qr.decode`` (ID–length–value parse, templates, CRC-16, every field rule)
   against a naive parser that only splits the top-level fields into a dict and checks the CRC
   with the same function; ``crc16`` alone shows how much of either is the checksum.
2. Drawing: ``saoma.qr.images.png`` (segno) against the ``qrcode`` package, both making the same
   PNG: error correction M, 8 pixels a module, a four-module quiet zone.
3. Reading: ``saoma.qr.images.read`` (zxing-cpp) on a clean PNG, on a phone-camera-like photo,
   on a 300 dpi sticker and on a Code 128 payment code.

    .venv/bin/python bench/qr.py [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
import qrcode
from PIL import Image, ImageFilter
from qrcode.constants import ERROR_CORRECT_M

from saoma.qr import crc16, decode, images
from saoma.qr.saoma import saoma_payload

PAYLOADS = {
    "saoma order": saoma_payload(
        merchant_id="m_01J9ZQ4W4B7C2X5N8R3T6V9Y1A",
        reference="o_01J9ZQ5K0D3F6H9J2M5P8S1V4X",
        amount_minor=2550,
        currency="CNY",
        merchant_name="Lucky Noodles",
        merchant_name_zh="好运面馆",
        city="Shenzhen",
        category_code="5814",
    ),
    # Banco Central do Brasil's example in "Manual de Padrões para Iniciação do Pix"
    "pix": (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
        "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
    ),
    "paynow": (
        "00020101021226560009SG.PAYNOW010120213201509555BNN1030100412230914205029"
        "520400005303702540450.05802SG5914DEV MERCHANT 56009SINGAPORE621601120870-0000VL663049149"
    ),
}


def naive_decode(payload: str) -> dict[str, str]:
    """The baseline: what a quick script does. Top-level fields only, no rule checked but the
    CRC; templates left as text, errors as Python raises them."""
    fields = {}
    i = 0
    while i < len(payload):
        size = int(payload[i + 2 : i + 4])
        fields[payload[i : i + 2]] = payload[i + 4 : i + 4 + size]
        i += 4 + size
    if crc16(payload[:-4].encode()) != fields["63"].upper():
        raise ValueError("checksum mismatch")
    return fields


def timed(fn: Callable[[], object], seconds: float) -> float:
    """Seconds per call: the median of rounds, each of as many calls as fill about 1/10 of the
    budget."""
    fn()  # warm
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < seconds / 10 or calls < 3:
        fn()
        calls += 1
    per_round = max(1, calls)
    rounds = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rounds) < 3:
        t0 = time.perf_counter()
        for _ in range(per_round):
            fn()
        rounds.append((time.perf_counter() - t0) / per_round)
    return statistics.median(rounds)


def qrcode_png(payload: str) -> bytes:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(payload)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image().save(buffer)
    return buffer.getvalue()


def photo(png: bytes) -> Image.Image:
    """Five pixels a module, turned 7°, blurred, grainy, JPEG quality 40."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    side = image.width * 5 // 8
    image = image.resize((side, side), Image.Resampling.BILINEAR)
    image = image.rotate(7, Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(1)).convert("L"), dtype=float)
    pixels += np.random.default_rng(7).normal(0, 25, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=40)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def row(name: str, what: str, seconds: float, baseline: float | None = None) -> None:
    took = f"{seconds * 1e6:9.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:9.2f} ms"
    versus = f"{seconds / baseline:6.2f}×" if baseline else ""
    print(f"{name:<14} {what:<34} {took} {1 / seconds:12,.0f}/s  {versus}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time spent on each figure")
    seconds = parser.parse_args().seconds

    print(f"{'payload':<14} {'what':<34} {'per call':>12} {'throughput':>14}  vs baseline")
    print("-" * 88)
    for name, payload in PAYLOADS.items():
        base = timed(lambda p=payload: naive_decode(p), seconds)
        row(name, f"naive parse + CRC ({len(payload)} chars)", base)
        row(name, "crc16 alone", timed(lambda p=payload: crc16(p[:-4].encode()), seconds), base)
        row(name, "saoma.qr.decode", timed(lambda p=payload: decode(p), seconds), base)
    print()

    for name, payload in PAYLOADS.items():
        base = timed(lambda p=payload: qrcode_png(p), seconds)
        row(name, "PNG: qrcode package", base)
        row(name, "PNG: images.png (segno)", timed(lambda p=payload: images.png(p), seconds), base)
    print()

    payload = PAYLOADS["saoma order"]
    clean = Image.open(io.BytesIO(images.png(payload))).convert("L")
    pictures: list[tuple[str, str, Image.Image, str]] = [
        ("saoma order", f"read: clean PNG {clean.width}²", clean, payload),
        ("saoma order", "read: camera-like JPEG 325²", photo(images.png(payload)), payload),
        (
            "saoma order",
            "read: A6 sticker, 300 dpi",
            images.sticker(payload, "Lucky Noodles", name_zh="好运面馆"),
            payload,
        ),
        (
            "payment code",
            "read: Code 128, 600×160",
            Image.open(io.BytesIO(images.code128_png("281234567890123456"))),
            "281234567890123456",
        ),
    ]
    base = None
    for name, what, picture, expected in pictures:
        found = images.read(picture) == [expected]
        took = timed(lambda p=picture: images.read(p), seconds)
        row(name, what + ("" if found else " (NOT READ)"), took, base)
        base = base or took
    print("\nbaselines: the naive parser, the qrcode package, reading the clean PNG")


if __name__ == "__main__":
    main()
