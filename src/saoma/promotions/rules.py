"""Which discount applies to a payment: pure rules, no I/O, evaluated at preview time.

A campaign offers one kind of discount (an amount off, a percentage off with a cap, "spend X get
Y off", or a random reduction) to payments at its merchant (or at every merchant, for a platform
campaign), within its dates and daily time window, optionally only for a consumer's first payment
at that merchant, and within per-consumer and total limits. Coupon campaigns apply only for
consumers who collected a coupon. The payer gets the single best offer; offers never stack.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from saoma.core.money import rate_of

SHANGHAI = timezone(timedelta(hours=8))  # lunch hours are Shenzhen's lunch hours
PAID_MIN = 1  # a discounted payment still costs at least one fen


class Kind(StrEnum):
    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    SPEND_GET = "spend_get"
    RANDOM = "random"


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    kind: Kind
    merchant_id: str | None  # None: a platform campaign, valid at every merchant
    amount_off: int = 0  # AMOUNT_OFF and SPEND_GET: minor units
    percent_ppm: int = 0  # PERCENT_OFF: parts per million
    cap: int = 0  # PERCENT_OFF: the most taken off (0: no cap)
    min_spend: int = 0  # SPEND_GET (and any kind): the least the payment must be
    random_min: int = 0  # RANDOM: the range of the reduction
    random_max: int = 0
    first_payment_only: bool = False
    window_start_min: int = 0  # minutes after midnight, Shenzhen time
    window_end_min: int = 24 * 60
    starts_at_us: int = 0
    ends_at_us: int = 2**62
    per_consumer_per_day: int = 0  # 0: no limit
    per_consumer_total: int = 0
    total_count: int = 0
    needs_coupon: bool = False
    state: str = "active"


@dataclass(frozen=True, slots=True)
class Context:
    """What the rules may know about the payer and this payment."""

    consumer_id: str
    merchant_id: str
    amount: int
    at_us: int
    paid_here_before: bool = False
    uses_today: dict[str, int] = field(default_factory=dict)  # campaign id → uses today
    uses_total: dict[str, int] = field(default_factory=dict)
    coupons: frozenset[str] = frozenset()  # campaign ids the payer holds a coupon for
    count_used: dict[str, int] = field(default_factory=dict)  # campaign id → uses by anyone
    minute: int = field(init=False)  # of the day, Shenzhen time: worked out once, not per rule

    def __post_init__(self) -> None:
        object.__setattr__(self, "minute", minute_of_day(self.at_us))


@dataclass(frozen=True, slots=True)
class Offer:
    campaign_id: str
    name: str
    discount: int
    coupon: bool = False  # the payer's own collected coupon gives it

    def reason(self) -> str:
        return self.name


def minute_of_day(at_us: int) -> int:
    local = datetime.fromtimestamp(at_us / 1_000_000, SHANGHAI)
    return local.hour * 60 + local.minute


def in_window(c: Campaign, at_us: int, minute: int) -> bool:
    """Within the campaign's dates and its daily window (``minute``: of ``at_us``'s day)."""
    if not c.starts_at_us <= at_us < c.ends_at_us:
        return False
    if c.window_start_min <= c.window_end_min:
        return c.window_start_min <= minute < c.window_end_min
    return minute >= c.window_start_min or minute < c.window_end_min  # across midnight


def eligible(c: Campaign, ctx: Context, *, history: bool = True) -> bool:
    """Whether ``c`` applies; ``history=False`` skips what depends on the payer's past."""
    if c.state != "active" or not in_window(c, ctx.at_us, ctx.minute):
        return False
    if c.merchant_id is not None and c.merchant_id != ctx.merchant_id:
        return False
    if ctx.amount < max(c.min_spend, PAID_MIN + 1):
        return False
    if c.total_count and ctx.count_used.get(c.id, 0) >= c.total_count:
        return False
    return not history or allowed_by_history(c, ctx)


def allowed_by_history(c: Campaign, ctx: Context) -> bool:
    """The rules that depend on the payer's past: first payment, coupon, per-consumer limits."""
    if c.first_payment_only and ctx.paid_here_before:
        return False
    if c.needs_coupon and c.id not in ctx.coupons:
        return False
    if c.per_consumer_per_day and ctx.uses_today.get(c.id, 0) >= c.per_consumer_per_day:
        return False
    return not (c.per_consumer_total and ctx.uses_total.get(c.id, 0) >= c.per_consumer_total)


def discount_of(c: Campaign, amount: int, *, draw: int | None = None) -> int:
    """The reduction on ``amount``; RANDOM draws one unless ``draw`` is given."""
    if c.kind in (Kind.AMOUNT_OFF, Kind.SPEND_GET):
        off = c.amount_off
    elif c.kind is Kind.PERCENT_OFF:
        off = rate_of(amount, c.percent_ppm)
        if c.cap:
            off = min(off, c.cap)
    else:
        span = max(0, c.random_max - c.random_min)
        off = c.random_min + (draw if draw is not None else secrets.randbelow(span + 1))
    return max(0, min(off, amount - PAID_MIN))


def best_offer(
    campaigns: list[Campaign], ctx: Context, *, prefiltered: bool = False
) -> Offer | None:
    """The single best offer for this payment, if any: the largest discount, earliest on ties.

    ``prefiltered``: the campaigns already passed ``eligible(..., history=False)`` for ``ctx``.
    """
    best: Offer | None = None
    check = allowed_by_history if prefiltered else eligible
    for c in campaigns:
        if not check(c, ctx):
            continue
        off = discount_of(c, ctx.amount)
        if off > 0 and (best is None or off > best.discount):
            best = Offer(c.id, c.name, off, c.needs_coupon)
    return best
