"""The owner's ID number, encrypted with AES-256-GCM under a key kept outside the database.

The key file (``SAOMA_KYC_KEY_FILE``, see ``saoma.core.keyfile``) holds one or more keys; the
first encrypts, every one decrypts, so a key is rotated by putting a new line first and
re-encrypting at leisure. Each
ciphertext is ``<key id>:<base64 of the 12-byte nonce and the ciphertext with its tag>``, and
the merchant's id is the associated data: a ciphertext copied to another merchant's row does
not decrypt.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from saoma.core.keyfile import load_or_make

NONCE_BYTES = 12


class KeyUnavailable(RuntimeError):
    """The ciphertext's key is not in the key file, or the key does not open it."""


class Sealer:
    """Encrypts and decrypts owners' ID numbers with the keys of one key file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: list[tuple[str, bytes]] | None = None
        self._stamp: int | None = None  # the file's mtime when read

    def _loaded(self) -> list[tuple[str, bytes]]:
        """The file's keys, read again once it changed (``saoma rotate-kyc-key`` in another
        process): sealing and opening are rare, a stat each is nothing."""
        try:
            stamp: int | None = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if self._keys is None or stamp != self._stamp:
            self._keys = load_or_make(self.path)
            self._stamp = self.path.stat().st_mtime_ns
        return self._keys

    def current(self) -> str:
        """The id of the key that seals now: the file's first."""
        return self._loaded()[0][0]

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
