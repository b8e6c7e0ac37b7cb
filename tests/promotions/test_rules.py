"""The rules that pick a discount: pure, so every case runs in microseconds."""

from __future__ import annotations

from datetime import datetime

from saoma.promotions.rules import (
    SHANGHAI,
    Campaign,
    Context,
    Kind,
    best_offer,
    discount_of,
    eligible,
)

NOON = int(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI).timestamp() * 1_000_000)
EVENING = int(datetime(2026, 11, 24, 19, 0, tzinfo=SHANGHAI).timestamp() * 1_000_000)


def ctx(amount: int = 3_000, at: int = NOON, **kw: object) -> Context:
    return Context("c_1", "m_1", amount, at, **kw)  # type: ignore[arg-type]


def test_amount_off_and_spend_get() -> None:
    five_off = Campaign("a", "¥5 off", Kind.AMOUNT_OFF, "m_1", amount_off=500)
    assert discount_of(five_off, 3_000) == 500
    spend = Campaign("s", "spend 30 get 5", Kind.SPEND_GET, "m_1", amount_off=500, min_spend=3_000)
    assert eligible(spend, ctx(3_000)) and not eligible(spend, ctx(2_999))


def test_percentage_with_a_cap() -> None:
    ten_pct = Campaign(
        "p", "10% off up to ¥8", Kind.PERCENT_OFF, "m_1", percent_ppm=100_000, cap=800
    )
    assert discount_of(ten_pct, 3_000) == 300
    assert discount_of(ten_pct, 20_000) == 800


def test_a_discount_always_leaves_something_to_pay() -> None:
    huge = Campaign("h", "¥50 off", Kind.AMOUNT_OFF, None, amount_off=5_000)
    assert discount_of(huge, 1_200) == 1_199


def test_random_reduction_stays_in_its_range_and_varies() -> None:
    lucky = Campaign("r", "lucky", Kind.RANDOM, "m_1", random_min=10, random_max=200)
    draws = {discount_of(lucky, 3_000) for _ in range(500)}
    assert min(draws) >= 10 and max(draws) <= 200 and len(draws) > 50


def test_lunch_hours_window_and_dates() -> None:
    lunch = Campaign(
        "l",
        "lunch",
        Kind.AMOUNT_OFF,
        "m_1",
        amount_off=100,
        window_start_min=11 * 60,
        window_end_min=14 * 60,
    )
    assert eligible(lunch, ctx(at=NOON)) and not eligible(lunch, ctx(at=EVENING))
    late = Campaign(
        "n",
        "night",
        Kind.AMOUNT_OFF,
        "m_1",
        amount_off=100,
        window_start_min=22 * 60,
        window_end_min=2 * 60,
    )
    assert not eligible(late, ctx(at=NOON))
    over = Campaign("o", "over", Kind.AMOUNT_OFF, "m_1", amount_off=100, ends_at_us=NOON)
    assert not eligible(over, ctx(at=NOON))


def test_limits_first_payment_coupons_and_other_merchants() -> None:
    first = Campaign("f", "first", Kind.AMOUNT_OFF, "m_1", amount_off=100, first_payment_only=True)
    assert eligible(first, ctx()) and not eligible(first, ctx(paid_here_before=True))
    daily = Campaign("d", "daily", Kind.AMOUNT_OFF, "m_1", amount_off=100, per_consumer_per_day=1)
    assert not eligible(daily, ctx(uses_today={"d": 1}))
    total = Campaign("t", "total", Kind.AMOUNT_OFF, "m_1", amount_off=100, total_count=100)
    assert eligible(total, ctx(count_used={"t": 99})) and not eligible(
        total, ctx(count_used={"t": 100})
    )
    coupon = Campaign("c", "coupon", Kind.AMOUNT_OFF, "m_1", amount_off=100, needs_coupon=True)
    assert not eligible(coupon, ctx()) and eligible(coupon, ctx(coupons=frozenset({"c"})))
    elsewhere = Campaign("e", "elsewhere", Kind.AMOUNT_OFF, "m_2", amount_off=100)
    assert not eligible(elsewhere, ctx())
    paused = Campaign("x", "paused", Kind.AMOUNT_OFF, "m_1", amount_off=100, state="paused")
    assert not eligible(paused, ctx())


def test_the_best_single_offer_wins() -> None:
    campaigns = [
        Campaign("a", "¥3 off", Kind.AMOUNT_OFF, "m_1", amount_off=300),
        Campaign("b", "20% off", Kind.PERCENT_OFF, None, percent_ppm=200_000, cap=500),
        Campaign("c", "¥9 coupon", Kind.AMOUNT_OFF, "m_1", amount_off=900, needs_coupon=True),
    ]
    assert best_offer(campaigns, ctx()).campaign_id == "b"  # type: ignore[union-attr]
    with_coupon = best_offer(campaigns, ctx(coupons=frozenset({"c"})))
    assert with_coupon is not None and (with_coupon.campaign_id, with_coupon.discount) == ("c", 900)
    assert best_offer(campaigns, ctx(amount=1)) is None
