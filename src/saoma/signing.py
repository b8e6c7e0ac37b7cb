"""Signatures both ways: merchants sign requests (Ed25519), Saoma signs webhooks.

Request signature: the merchant signs, with an Ed25519 private key only it holds, the bytes

    METHOD "\\n" PATH_WITH_QUERY "\\n" TIMESTAMP "\\n" NONCE "\\n" BODY

and sends ``Saoma-Key-Id``, ``Saoma-Timestamp`` (Unix seconds), ``Saoma-Nonce`` and
``Saoma-Signature`` (base64). The server keeps only public keys, so a copy of its database cannot
forge a request.

Webhooks follow https://www.standardwebhooks.com/: headers ``webhook-id``, ``webhook-timestamp``
and ``webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>``, the secret shown to
the merchant as ``whsec_<base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ID = "Saoma-Key-Id"
TIMESTAMP = "Saoma-Timestamp"
NONCE = "Saoma-Nonce"
SIGNATURE = "Saoma-Signature"
CLOCK_SKEW_S = 300  # a request more than 5 minutes off is refused
NONCE_TTL_S = 600  # a nonce cannot come back within 10 minutes


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
    timestamp = headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = webhook_signature(secret, msg_id, int(timestamp), body).split(",", 1)[1]
    for candidate in headers.get("webhook-signature", "").split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False
