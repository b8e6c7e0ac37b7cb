"""The owner's ID number, encrypted with AES-256-GCM under a key kept outside the database.

The key file (``SAOMA_KYC_KEY_FILE``) holds one or more lines ``<key id>:<base64 32-byte key>``;
the first line encrypts, every line decrypts, so a key is rotated by putting a new line first
and re-encrypting at leisure. A missing file is created with a fresh key (mode 0600). Each
ciphertext is ``<key id>:<base64 of the 12-byte nonce and the ciphertext with its tag>``, and
the merchant's id is the associated data: a ciphertext copied to another merchant's row does
not decrypt.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


class KeyUnavailable(RuntimeError):
    """The ciphertext's key is not in the key file, or the key does not open it."""


def new_key_line(key_id: str = "k1") -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it a moment ago
        return
    with os.fdopen(fd, "w") as out:
        out.write(new_key_line() + "\n")


def _parse(text: str, path: Path) -> list[tuple[str, bytes]]:
    keys = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key_id, _, encoded = line.partition(":")
        key = base64.b64decode(encoded, validate=True)
        if not key_id or len(key) != KEY_BYTES:
            raise ValueError(f"{path}: each line is <key id>:<base64 of a 32-byte key>")
        keys.append((key_id, key))
    if not keys:
        raise ValueError(f"{path} holds no key")
    return keys


class Sealer:
    """Encrypts and decrypts owners' ID numbers with the keys of one key file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: list[tuple[str, bytes]] | None = None

    def _loaded(self) -> list[tuple[str, bytes]]:
        if self._keys is None:
            if not self.path.exists():
                _create(self.path)
            self._keys = _parse(self.path.read_text(encoding="utf-8"), self.path)
        return self._keys

    def seal(self, merchant_id: str, plain: str) -> str:
        key_id, key = self._loaded()[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plain.encode(), merchant_id.encode())
        return f"{key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, merchant_id: str, cipher: str) -> str:
        key_id, _, encoded = cipher.partition(":")
        keys = dict(self._loaded())
        if key_id not in keys:
            raise KeyUnavailable(f"key {key_id!r} is not in {self.path}")
        raw = base64.b64decode(encoded)
        try:
            plain = AESGCM(keys[key_id]).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], merchant_id.encode()
            )
        except InvalidTag as exc:
            raise KeyUnavailable(f"key {key_id!r} does not open this ciphertext") from exc
        return plain.decode()
