"""How a red packet is split: pure, and unpredictable to anyone who claims."""

from __future__ import annotations

import secrets

SHARE_MIN = 1  # every share is at least one fen


def equal_shares(amount: int, n: int) -> list[int]:
    """``n`` shares differing by at most one fen, adding up to ``amount`` exactly."""
    base, extra = divmod(amount, n)
    return [base + 1] * extra + [base] * (n - extra)


def random_shares(amount: int, n: int, rng: secrets.SystemRandom | None = None) -> list[int]:
    """``n`` random shares of at least one fen each, adding up to ``amount`` exactly.

    Each draw is uniform between one fen and twice the mean of what is left (the familiar "double
    the average" rule), so no share is wildly out of proportion; the list is then shuffled with
    the operating system's randomness, so the order of claims says nothing about the amount.
    """
    if n < 1 or amount < n * SHARE_MIN:
        raise ValueError("each share needs at least one fen")
    rng = rng or secrets.SystemRandom()
    shares = []
    left = amount
    for remaining in range(n, 1, -1):
        most = min(left - (remaining - 1) * SHARE_MIN, 2 * left // remaining)
        share = rng.randint(SHARE_MIN, max(SHARE_MIN, most))
        shares.append(share)
        left -= share
    shares.append(left)
    rng.shuffle(shares)
    return shares
