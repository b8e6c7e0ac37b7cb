"""The transit pass's rules, without I/O: when the operator announces and debits a month, and
what the rider's page shows of the mandate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from saoma.demo_apps import passes

NOW = datetime(2026, 5, 17, 2, 0, tzinfo=UTC)  # 10:00 in Shenzhen
METRO = passes.pass_of("SZM-MONTH")


def at(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def mandate(state: str = "active", **fields: Any) -> dict[str, Any]:
    return {
        "id": "md_1",
        "state": state,
        "next_debit": None,
        "notices": [],
        "debits": [],
        "revoked_at": None,
    } | fields


def test_the_operator_asks_for_one_debit_a_month_of_at_most_the_price() -> None:
    terms = passes.mandate_terms(METRO, date(2026, 5, 17))
    assert terms == {
        "purpose": "Shenzhen Metro monthly pass, monthly",
        "amount_max": 15_000,
        "frequency": "monthly",
        "start_on": "2026-05-17",
        "end_on": "2027-05-16",
    }
    with pytest.raises(ValueError, match="no such pass"):
        passes.pass_of("FREE-RIDES")


def test_a_month_is_announced_when_near_and_debited_only_once_its_notice_is_due() -> None:
    fresh = {"at": at(NOW + timedelta(days=1)), "amount": None, "notice_id": None}
    assert passes.renewal_step(mandate(next_debit=fresh), NOW) == ("announce", None)
    far = {"at": at(NOW + timedelta(days=14)), "amount": None, "notice_id": None}
    assert passes.renewal_step(mandate(next_debit=far), NOW) is None
    near = {"at": at(NOW + timedelta(days=3)), "amount": None, "notice_id": None}
    assert passes.renewal_step(mandate(next_debit=near), NOW) == ("announce", None)
    waiting = {"at": at(NOW + timedelta(hours=2)), "amount": 15_000, "notice_id": "mn_1"}
    assert passes.renewal_step(mandate(next_debit=waiting), NOW) is None
    due = {"at": at(NOW - timedelta(minutes=1)), "amount": 15_000, "notice_id": "mn_1"}
    assert passes.renewal_step(mandate(next_debit=due), NOW) == ("debit", "mn_1")
    for state in ("requested", "paused", "revoked"):
        assert passes.renewal_step(mandate(state, next_debit=due), NOW) is None


def test_the_page_shows_the_month_paid_the_next_renewal_and_its_notice() -> None:
    made = {"state": "made", "created_at": at(NOW), "reason": None}
    notice = {"id": "mn_2", "amount": 15_000, "debit_from": "2026-05-31T16:00:00.000Z"}
    nxt = {"at": "2026-05-31T16:00:00.000Z", "amount": 15_000, "notice_id": "mn_2"}
    shown = passes.pass_view(
        mandate(debits=[made], notices=[notice], next_debit=nxt), METRO, cancelled=False
    )
    paid = (shown["state"], shown["paid_through"], shown["months_paid"])
    assert paid == ("active", "2026-05-31", 1)
    assert shown["next_renewal"] == nxt["at"]
    assert shown["notice"] == {"amount": 15_000, "debit_from": notice["debit_from"]}
    assert shown["refused"] is None


def test_a_revoked_mandate_ends_the_pass_and_a_cancelled_one_renews_no_more() -> None:
    ended = passes.pass_view(mandate("revoked", revoked_at=at(NOW)), METRO, cancelled=False)
    assert (ended["state"], ended["ended_at"], ended["next_renewal"]) == ("ended", at(NOW), None)
    assert passes.pass_view(mandate(), METRO, cancelled=True)["state"] == "cancelled"
    refused = {"state": "refused", "created_at": at(NOW), "reason": "insufficient-funds"}
    assert passes.pass_view(mandate(debits=[refused]), METRO, cancelled=False)["refused"] == (
        "insufficient-funds"
    )
