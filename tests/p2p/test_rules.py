"""Red packet splits: every share at least one fen, all adding up, unpredictable."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from saoma.p2p.rules import equal_shares, random_shares


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(n, 2_000_000))))
def test_random_shares_add_up_and_are_at_least_a_fen(case: tuple[int, int]) -> None:
    n, amount = case
    shares = random_shares(amount, n)
    assert len(shares) == n and sum(shares) == amount and min(shares) >= 1


@given(st.integers(1, 500), st.integers(0, 10_000))
def test_equal_shares_differ_by_at_most_a_fen(n: int, extra: int) -> None:
    amount = n + extra
    shares = equal_shares(amount, n)
    assert sum(shares) == amount and max(shares) - min(shares) <= 1


def test_the_first_claimer_cannot_expect_a_bigger_share() -> None:
    # Over many packets, which position holds the largest share is spread evenly.
    packets = [random_shares(1_000, 5) for _ in range(5_000)]
    largest_at = Counter(shares.index(max(shares)) for shares in packets)
    assert all(800 < largest_at[i] < 1_200 for i in range(5)), largest_at
