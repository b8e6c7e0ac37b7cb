"""The operators' TOTP secrets, sealed with AES-256-GCM under a key kept outside the database.

A copy of the database alone then gives no one the codes. The key is 32 random bytes in
``SAOMA_OPS_KEY_FILE`` (default ``data_dir/ops.key``), made on first use, readable by the owner
only. A sealed secret is the URL-safe base64 of nonce, ciphertext and tag (64 characters for
the 20-byte secret), bound to the operator's id; a 32-character value is a plain base32 secret
(an installation without a key file, or tests writing operators directly).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_CHARS = 64


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def _raw(secret: str) -> bytes:
    return base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))


class Sealer:
    def __init__(self, key_file: Path | None) -> None:
        self.key_file = key_file
        self._key: bytes | None = None

    def _aead(self) -> AESGCM | None:
        if self.key_file is None:
            return None
        if self._key is None:
            self._key = _load_or_make(self.key_file)
        return AESGCM(self._key)

    def seal(self, secret: str, owner: str) -> str:
        aead = self._aead()
        if aead is None:
            return secret
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + aead.encrypt(nonce, _raw(secret), owner.encode())
        return base64.urlsafe_b64encode(sealed).decode()

    def open(self, stored: str, owner: str) -> str:
        """The base32 secret; "" if it cannot be opened (another key, or tampered with)."""
        if len(stored) != SEALED_CHARS:
            return stored
        aead = self._aead()
        if aead is None:
            return ""
        try:
            sealed = base64.urlsafe_b64decode(stored)
            raw = aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], owner.encode())
        except (InvalidTag, ValueError):  # a wrong key or a changed value: no code matches
            return ""
        return _b32(raw)


def _load_or_make(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            key = path.read_bytes()
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(key)
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: the operators' key is {KEY_BYTES} bytes")
    return key
