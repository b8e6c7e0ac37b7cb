"""Disputes in process: one Platform over the test's database (both kinds), shops and payers.

The books and the payers' authorisations are checked when each test ends (``platform``).
"""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import Callable

import pytest
from PIL import Image

from saoma.bootstrap import Platform
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer
from support import PASSWORD, funded_payer, server


@pytest.fixture
def payer(platform: Platform) -> Callable[[int], Consumer]:
    return lambda balance: funded_payer(platform, balance)


@pytest.fixture
def shop(platform: Platform) -> Callable[..., Merchant]:
    def sign_up(name: str = "Old Chen Noodles") -> Merchant:
        return platform.merchants.sign_up(
            login=f"shop-{secrets.token_hex(4)}@example.cn",
            password=PASSWORD,
            name=name,
            city="SZ",
        )

    return sign_up


def jpeg_b64(colour: str = "red", size: tuple[int, int] = (64, 48)) -> str:
    """A small JPEG photo, base64, with EXIF metadata the server should strip."""
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    Image.new("RGB", size, colour).save(out, "JPEG", exif=exif.tobytes())
    return base64.b64encode(out.getvalue()).decode()


__all__ = ["server"]
