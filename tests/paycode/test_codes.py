"""The 18-digit code itself: format, time steps, and what two codes reveal about each other."""

from __future__ import annotations

import secrets

import pytest

from saoma.paycode import codes


def test_a_code_is_18_digits_starting_with_28() -> None:
    code = codes.generate(secrets.token_bytes(32), "0123456789", 1_800_000_000)
    assert len(code) == 18 and code.isdigit() and code.startswith("28")
    assert codes.split(code) == ("0123456789", code[12:])
    for bad in ("", "28123", "1" * 18, "28" + "x" * 16, "28" + "1" * 17):
        assert codes.split(bad) is None


def test_the_six_digits_change_with_the_time_step_and_the_secret() -> None:
    key = secrets.token_bytes(32)
    now = 1_800_000_000
    assert codes.generate(key, "0000000001", now) == codes.generate(key, "0000000001", now + 29)
    assert codes.generate(key, "0000000001", now) != codes.generate(key, "0000000001", now + 30)
    assert codes.generate(key, "0000000001", now) != codes.generate(
        secrets.token_bytes(32), "0000000001", now
    )


def test_the_mac_is_spread_over_a_million_values() -> None:
    key = secrets.token_bytes(32)
    macs = {codes.mac(key, "0000000001", step) for step in range(20_000)}
    assert len(macs) > 19_000  # close to no collisions: 20,000 draws from 10^6


def test_a_code_is_ascii_digits_only() -> None:
    """``str.isdigit`` takes "١" (Arabic-Indic one) and "²": such a code reached the MAC
    comparison, where ``hmac.compare_digest`` raises on non-ASCII text (a 500 at the till)."""
    for mac in ("١٢٣٤٥٦", "12345²", "１２３４５６"):
        assert codes.split("28" + "0123456789" + mac) is None
    with pytest.raises(ValueError, match="ten digits"):
        codes.generate(secrets.token_bytes(32), "012345678٩", 1_800_000_000)
