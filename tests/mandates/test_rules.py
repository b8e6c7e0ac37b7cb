"""The mandate's pure rules: periods of each frequency in the server's zone, the dates of a
mandate, and which refusal a debit gets when several rules fail."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from saoma.core.errors import InvalidRequest
from saoma.mandates import rules

SHENZHEN = ZoneInfo("Asia/Shanghai")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=SHENZHEN).timestamp() * 1_000_000)


def test_a_week_runs_monday_to_sunday_and_a_day_ends_at_local_midnight() -> None:
    sunday, monday = at("2026-11-29T23:59:00"), at("2026-11-30T00:01:00")
    assert rules.period_index("weekly", sunday, SHENZHEN) + 1 == rules.period_index(
        "weekly", monday, SHENZHEN
    )
    assert rules.period_index("daily", at("2026-11-30T00:00:00"), SHENZHEN) == rules.period_index(
        "daily", at("2026-11-30T23:59:59"), SHENZHEN
    )
    # 23:30 UTC on the 30th is already December in Shenzhen.
    late = int(datetime.fromisoformat("2026-11-30T23:30:00+00:00").timestamp() * 1_000_000)
    assert rules.period_index("monthly", late, SHENZHEN) == 2026 * 12 + 11
    for frequency in rules.FREQUENCIES:
        index = rules.period_index(frequency, monday, SHENZHEN)
        start = rules.period_start_us(frequency, index, SHENZHEN)
        assert rules.period_index(frequency, start, SHENZHEN) == index
        assert rules.period_index(frequency, start - 1, SHENZHEN) == index - 1


def test_a_mandate_period_covers_whole_local_days() -> None:
    period = rules.period_of("2026-12-01", "2026-12-31", SHENZHEN, at("2026-11-20T10:00:00"))
    assert (period.starts_at_us, period.ends_at_us) == (
        at("2026-12-01T00:00:00"),
        at("2027-01-01T00:00:00"),
    )
    for start, end, field in (
        ("2026-12-01", "2026-11-30", "end_on"),
        ("12/01/2026", "2026-12-31", "start_on"),
        ("2026-01-01", "2026-01-31", "end_on"),  # over already
        ("2026-12-01", "2036-12-01", "end_on"),  # longer than five years
    ):
        with pytest.raises(InvalidRequest) as refused:
            rules.period_of(start, end, SHENZHEN, at("2026-11-20T10:00:00"))
        assert refused.value.field == field


NOON, ELEVEN = at("2026-11-20T12:00:00"), at("2026-11-20T11:00:00")


def mandate(**changes: object) -> SimpleNamespace:
    values = {
        "id": "md_1",
        "state": "active",
        "starts_at_us": at("2026-11-01T00:00:00"),
        "ends_at_us": at("2027-11-01T00:00:00"),
        "start_on": "2026-11-01",
        "end_on": "2027-10-31",
        "amount_max": 5_000,
        "frequency": "monthly",
        "last_period": None,
    }
    return SimpleNamespace(**(values | changes))


def notice(**changes: object) -> SimpleNamespace:
    values = {
        "mandate_id": "md_1",
        "state": "pending",
        "amount": 3_900,
        "due_at_us": at("2026-11-20T10:00:00"),
        "expires_at_us": at("2026-11-27T10:00:00"),
    }
    return SimpleNamespace(**(values | changes))


@pytest.mark.parametrize(
    ("m", "n", "amount", "slug"),
    [
        (mandate(), notice(), 3_900, None),
        (mandate(state="revoked"), notice(state="used"), 3_900, "mandate-notice-used"),
        (mandate(state="revoked"), notice(), 3_900, "mandate-revoked"),
        (mandate(state="paused"), notice(amount=1), 3_900, "mandate-paused"),
        (mandate(amount_max=3_000), notice(), 3_900, "mandate-amount-above-max"),
        (mandate(last_period=2026 * 12 + 10), notice(), 3_900, "mandate-too-soon"),
        (mandate(), None, 3_900, "mandate-notice-missing"),
        (mandate(), notice(mandate_id="md_2"), 3_900, "mandate-notice-missing"),
        (mandate(), notice(), 3_800, "mandate-notice-amount"),
        (mandate(), notice(state="objected"), 3_900, "mandate-notice-objected"),
        (
            mandate(),
            notice(due_at_us=at("2026-11-20T12:00:00")),
            3_900,
            "mandate-notice-too-recent",
        ),
        (
            mandate(),
            notice(expires_at_us=at("2026-11-20T11:00:00")),
            3_900,
            "mandate-notice-expired",
        ),
    ],
)
def test_a_debit_gets_the_refusal_that_names_its_first_broken_rule(
    m: SimpleNamespace, n: SimpleNamespace | None, amount: int, slug: str | None
) -> None:
    now = at("2026-11-20T11:30:00")
    refused = rules.debit_refusal(m, n, amount, now, rules.period_index("monthly", now, SHENZHEN))
    assert (refused.slug if refused else None) == slug
