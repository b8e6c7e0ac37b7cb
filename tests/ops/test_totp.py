"""RFC 6238 Appendix B: the test vectors, and the window and replay rules of sign-in."""

from __future__ import annotations

import pytest

from saoma.operators import totp

SHA1_KEY = b"12345678901234567890"
SHA256_KEY = b"12345678901234567890123456789012"
SHA512_KEY = b"1234567890123456789012345678901234567890123456789012345678901234"

# (time, sha1, sha256, sha512), eight digits as in the RFC's table.
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc_6238_appendix_b(at: int, sha1: str, sha256: str, sha512: str) -> None:
    step = totp.step_at(at)
    assert totp.code_at(SHA1_KEY, step, digits=8) == sha1
    assert totp.code_at(SHA256_KEY, step, digits=8, digest="sha256") == sha256
    assert totp.code_at(SHA512_KEY, step, digits=8, digest="sha512") == sha512


def test_six_digit_codes_of_a_base32_secret_are_the_last_six_of_the_vectors() -> None:
    import base64

    secret = base64.b32encode(SHA1_KEY).decode()
    for at, sha1, _, _ in VECTORS:
        assert totp.code(secret, at) == sha1[-6:]


def test_a_code_is_good_one_step_either_side_and_no_further() -> None:
    secret = totp.new_secret()
    now = 1_800_000_000.0
    for offset in (-1, 0, 1):
        typed = totp.code(secret, now + offset * totp.STEP_S)
        assert totp.matching_step(secret, typed, now) == totp.step_at(now) + offset
    for offset in (-3, 3):
        typed = totp.code(secret, now + offset * totp.STEP_S)
        assert totp.matching_step(secret, typed, now) is None
    assert totp.matching_step(secret, "12345", now) is None
    assert totp.matching_step(secret, "１２３４５６", now) is None


def test_the_uri_names_the_issuer_and_the_login() -> None:
    found = totp.uri("JBSWY3DPEHPK3PXP", "ana@ops.example")
    assert found.startswith("otpauth://totp/Saoma%3Aana%40ops.example?secret=JBSWY3DPEHPK3PXP")
    assert "period=30" in found and "digits=6" in found
