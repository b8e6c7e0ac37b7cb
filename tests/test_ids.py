"""Instants as RFC 3339: what every view and webhook shows of a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from saoma.core.ids import rfc3339

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _expected(us: int) -> str:
    """The instant by datetime's exact arithmetic (no float), cut to the millisecond."""
    at = _EPOCH + timedelta(microseconds=us)
    return (
        at.replace(microsecond=at.microsecond // 1000 * 1000)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@given(st.integers(min_value=-62135596800 * 10**6, max_value=253402300799999999))
def test_any_instant_reads_as_datetime_reads_it(us: int) -> None:
    assert rfc3339(us) == _expected(us)


def test_instants_of_one_second_keep_their_own_milliseconds() -> None:
    second = 1_733_577_600 * 10**6  # 2024-12-07T13:20:00Z
    shown = [rfc3339(second + ms * 1000 + 999) for ms in (0, 1, 999)]
    assert shown == [
        "2024-12-07T13:20:00.000Z",
        "2024-12-07T13:20:00.001Z",
        "2024-12-07T13:20:00.999Z",
    ]
    assert rfc3339(second + 10**6) == "2024-12-07T13:20:01.000Z"
    assert rfc3339(second - 1) == "2024-12-07T13:19:59.999Z"  # cut, never rounded up


def test_the_edges_of_the_calendar() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"
    assert rfc3339(-1) == "1969-12-31T23:59:59.999Z"
    assert rfc3339(253402300799999999) == "9999-12-31T23:59:59.999Z"
