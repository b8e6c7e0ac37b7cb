"""Signatures both ways: merchants sign requests (Ed25519), Saoma signs webhooks.

Request signature: the merchant signs, with an Ed25519 private key only it holds, the bytes

    METHOD "\\n" PATH_WITH_QUERY "\\n" TIMESTAMP "\\n" NONCE "\\n" BODY

and sends ``Saoma-Key-Id``, ``Saoma-Timestamp`` (Unix seconds), ``Saoma-Nonce`` and
``Saoma-Signature`` (base64). The server keeps only public keys, so a copy of its database cannot
forge a request. Each header is ASCII of a bounded length (:data:`HEADER_PATTERNS`, also what the
OpenAPI document says); :func:`read_signed_headers` refuses anything else naming the header, before
a value is used (``str.isdigit`` takes "²", which ``int`` refuses).

Webhooks follow https://www.standardwebhooks.com/: headers ``webhook-id``, ``webhook-timestamp``
and ``webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>``, the secret shown to
the merchant as ``whsec_<base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from saoma.core.errors import SignatureHeaderMalformed, SignatureMissing

KEY_ID = "Saoma-Key-Id"
TIMESTAMP = "Saoma-Timestamp"
NONCE = "Saoma-Nonce"
SIGNATURE = "Saoma-Signature"
CLOCK_SKEW_S = 300  # a request more than 5 minutes off is refused
NONCE_TTL_S = 600  # a nonce cannot come back within 10 minutes

# What each header may hold: ASCII only, bounded (a timestamp of 12 digits reaches the year 33658).
HEADER_PATTERNS = {
    KEY_ID: r"^[!-~]{1,64}$",
    TIMESTAMP: r"^[0-9]{1,12}$",
    NONCE: r"^[!-~]{8,64}$",
    SIGNATURE: r"^[A-Za-z0-9+/]{1,128}={0,2}$",
}
HEADER_DETAILS = {
    KEY_ID: "the key id, 1 to 64 printable ASCII characters",
    TIMESTAMP: "Unix seconds, 1 to 12 ASCII digits",
    NONCE: "8 to 64 printable ASCII characters",
    SIGNATURE: "base64, 128 characters at most",
}
_FORMATS = {name: re.compile(pattern.strip("^$")) for name, pattern in HEADER_PATTERNS.items()}


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    key_id: str
    timestamp: int
    timestamp_text: str  # as sent: the signed string holds it
    nonce: str
    signature: str


def read_signed_headers(headers: Mapping[str, str]) -> SignedHeaders:
    """The four signature headers (keys in lower case), each checked against its format.

    A missing header is ``signature-missing``; one that is not in its format is
    ``signature-invalid`` naming the header: both 401, the request is not authenticated.
    """
    values = {name: headers.get(name.lower(), "") for name in HEADER_PATTERNS}
    if not all(values.values()):
        raise SignatureMissing(
            "sign the request: Saoma-Key-Id, Saoma-Timestamp, Saoma-Nonce, Saoma-Signature"
        )
    for name, value in values.items():
        if _FORMATS[name].fullmatch(value) is None:
            raise SignatureHeaderMalformed(f"{name} must be {HEADER_DETAILS[name]}", field=name)
    return SignedHeaders(
        values[KEY_ID], int(values[TIMESTAMP]), values[TIMESTAMP], values[NONCE], values[SIGNATURE]
    )


def parse_timestamp(text: str) -> int | None:
    """Unix seconds written as 1 to 12 ASCII digits, or None for anything else."""
    return int(text) if _FORMATS[TIMESTAMP].fullmatch(text) else None


def signing_string(method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    head = f"{method.upper()}\n{path_qs}\n{timestamp}\n{nonce}\n".encode()
    return head + body


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_from_b64(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text))


def private_key_to_b64(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode()


def sign_request(
    key: Ed25519PrivateKey,
    key_id: str,
    method: str,
    path_qs: str,
    body: bytes,
    *,
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that authenticate one request."""
    nonce = nonce or secrets.token_urlsafe(16)
    message = signing_string(method, path_qs, str(timestamp), nonce, body)
    return {
        KEY_ID: key_id,
        TIMESTAMP: str(timestamp),
        NONCE: nonce,
        SIGNATURE: base64.b64encode(key.sign(message)).decode(),
    }


def verify_request(public_key: bytes, signature_b64: str, message: bytes) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Standard Webhooks --------------------------------------------------------------------------


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify_webhook(
    secret: str, headers: dict[str, str], body: bytes, *, now: int, tolerance_s: int = 300
) -> bool:
    """What a merchant's server runs on each delivery (as any Standard Webhooks library does)."""
    msg_id = headers.get("webhook-id", "")
    timestamp = parse_timestamp(headers.get("webhook-timestamp", ""))
    if not msg_id or timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = webhook_signature(secret, msg_id, timestamp, body).split(",", 1)[1]
    for candidate in headers.get("webhook-signature", "").split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return True
    return False
