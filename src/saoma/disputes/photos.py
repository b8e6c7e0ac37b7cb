"""A photo sent with a dispute: base64 JPEG or PNG, checked by its bytes and re-encoded.

The API takes 64 KB bodies, so a photo is at most ``PHOTO_BYTES_MAX`` once decoded. The bytes
must start as the named type does (its magic number) and decode as an image; it is re-encoded as
JPEG (a PNG's transparency on white), so what is stored carries no metadata of the camera or
place and every photo is served as one type.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

from saoma.core.errors import InvalidRequest

PHOTO_BYTES_MAX = 45 * 1024
# A phone's photo at 45 KB is far smaller; this bounds what a tiny, highly compressed image
# (a PNG of one colour) costs to decode and re-encode: about 30 MB.
PIXELS_MAX = 2048 * 2048
MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
STORED_TYPE = "image/jpeg"


class Photo(NamedTuple):
    content_type: str
    data: bytes


def check_photo(content_type: str, data_b64: str, field: str = "photo") -> Photo:
    """The photo's bytes, checked and stripped of metadata; 422 naming ``field`` otherwise."""
    if content_type not in MAGIC:
        raise InvalidRequest("a photo is image/jpeg or image/png", field=f"{field}.content_type")
    if len(data_b64) > (PHOTO_BYTES_MAX * 4) // 3 + 8:
        raise InvalidRequest(f"a photo is {PHOTO_BYTES_MAX} bytes at most", field=f"{field}.data")
    try:
        raw = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("the photo is not base64", field=f"{field}.data") from None
    if not raw or len(raw) > PHOTO_BYTES_MAX:
        raise InvalidRequest(f"a photo is 1 to {PHOTO_BYTES_MAX} bytes", field=f"{field}.data")
    if not raw.startswith(MAGIC[content_type]):
        raise InvalidRequest(f"the photo is not {content_type}", field=f"{field}.data")
    return Photo(STORED_TYPE, _clean(raw, content_type, field))


def _clean(raw: bytes, content_type: str, field: str) -> bytes:
    """The image decoded and encoded again as JPEG, without its metadata."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != FORMATS[content_type]:
                raise InvalidRequest(f"the photo is not {content_type}", field=f"{field}.data")
            if image.width * image.height > PIXELS_MAX:
                raise InvalidRequest("the photo has too many pixels", field=f"{field}.data")
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, "white")
                flat.paste(rgba, mask=rgba.getchannel("A"))
            else:  # nothing to flatten: one copy, not two
                flat = image.convert("RGB")
            out = io.BytesIO()
            flat.save(out, "JPEG", quality=85)
    except InvalidRequest:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidRequest(
            "the photo cannot be read as an image", field=f"{field}.data"
        ) from None
    return out.getvalue()
