"""Payment and manager PINs, checked with a keyed function whose key is never in the database.

A six-digit PIN has a million values: no hash, however slow, keeps it secret once the database
leaks (a million Argon2 checks take an afternoon), and a slow hash costs every payment its
time. Payment networks check PINs with a key held apart (an HSM's PIN verification value);
Saoma does the same in software: the stored form is HMAC-SHA256 under a server key of the
owner's id and the PIN, so the database alone tells nothing, and a check takes microseconds.
What limits guessing through the API is the atomic try counter (``pins.claim_pin_try``).

The key file (``SAOMA_PIN_KEY_FILE``, default ``data_dir/pin.key``; the format of
``saoma.core.keyfile``) seals new PINs under its first key and checks the others' under theirs.
``saoma rotate-pin-key`` puts a new key first; each PIN moves to it at its next right entry, as
PINs still stored as Argon2 hashes (from before the keyed form) do. Every process of one
database reads the same file. The same keys make the fingerprints of requests kept with their
Idempotency-Keys (:meth:`PinKeys.fingerprints`), since a request's body may hold a PIN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from saoma.core.keyfile import KEY_BYTES, load_or_make
from saoma.wallets.credentials import PIN_FORMAT

PREFIX = "hmac-sha256"

# The PINs stored before the keyed form: Argon2id, checked once more and then sealed again.
legacy_hasher = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)


@dataclass(frozen=True)
class Verdict:
    matches: bool
    renewed: str | None = None  # the form to store instead, after a right PIN in an old form


class PinKeys:
    """Seal and check PINs under the key file's keys (read once, on first use)."""

    def __init__(self, key_file: Path | None) -> None:
        self.key_file = key_file
        self._keys: list[tuple[str, bytes]] | None = None

    def _loaded(self) -> list[tuple[str, bytes]]:
        if self._keys is None:
            if self.key_file is None:  # a service built without settings: a key of its own
                self._keys = [("k0", secrets.token_bytes(KEY_BYTES))]
            else:
                self._keys = load_or_make(self.key_file)
        return self._keys

    def seal(self, owner: str, pin: str) -> str:
        kid, key = self._loaded()[0]
        return f"{PREFIX}${kid}${_mac(key, owner, pin)}"

    def check(self, stored: str | None, owner: str, pin: object) -> Verdict:
        """Whether ``pin`` (anything a request held: only six digits can match) is the PIN."""
        if not stored or not isinstance(pin, str) or not PIN_FORMAT.match(pin):
            return Verdict(False)
        if not stored.startswith(PREFIX + "$"):
            right: bool
            try:
                right = legacy_hasher.verify(stored, pin)
            except (VerificationError, InvalidHashError):
                right = False
            return Verdict(right, self.seal(owner, pin) if right else None)
        _, kid, mac = [*stored.split("$"), "", ""][:3]
        keys = self._loaded()
        key = dict(keys).get(kid)
        if key is None and self.key_file is not None:  # rotated since: read the file again
            self._keys = keys = load_or_make(self.key_file)
            key = dict(keys).get(kid)
        if key is None:  # a key taken out of the file: nothing under it can be checked
            return Verdict(False)
        matches = hmac.compare_digest(mac, _mac(key, owner, pin))
        renewed = self.seal(owner, pin) if matches and kid != keys[0][0] else None
        return Verdict(matches, renewed)

    def fingerprints(self, message: bytes, *, again: bool = False) -> list[str]:
        """``message`` under each key, the first key's first: the fingerprint of a request
        whose body may hold a PIN (``idempotency.Fingerprint``). ``again`` reads the file again
        first (a key another process rotated in)."""
        if again and self.key_file is not None:
            self._keys = load_or_make(self.key_file)
        return [hmac.new(key, message, hashlib.sha256).hexdigest() for _, key in self._loaded()]

    def fingerprint(self, message: bytes) -> str:
        """``message`` under the first key: the fingerprint stored."""
        return hmac.new(self._loaded()[0][1], message, hashlib.sha256).hexdigest()


def _mac(key: bytes, owner: str, pin: str) -> str:
    message = b"saoma-pin\x00" + owner.encode() + b"\x00" + pin.encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
