"""Split agreements: proposed by the giver, accepted or declined by the receiver, ended by
either; each change once, each told to the other party; bad terms refused naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from saoma.api.problems import status_of
from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.merchants.service import Merchant

Shop = Callable[..., Merchant]


def events_to(platform: Platform, merchant: Merchant) -> list[tuple[str, dict[str, Any]]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type, payload FROM outbox WHERE merchant_id = :m ORDER BY created_at_us"),
            {"m": merchant.id},
        ).all()
    return [(r.type, json.loads(r.payload)["data"]) for r in rows if r.type.startswith("split_")]


def test_a_proposal_accepted_then_ended_tells_the_other_side_each_time(
    platform: Platform, shop: Shop
) -> None:
    court, stall = shop("Futian Food Court"), shop("Old Chen Noodles")
    proposed = platform.splits.propose(stall, court.id, share_ppm=80_000, standing=True)
    assert (proposed["state"], proposed["share_ppm"], proposed["standing"]) == (
        "proposed",
        80_000,
        True,
    )
    assert [e[0] for e in events_to(platform, court)] == ["split_agreement.proposed"]
    accepted = platform.splits.accept(court, proposed["id"])
    assert accepted["state"] == "accepted"
    assert platform.splits.accept(court, proposed["id"])["state"] == "accepted"  # sent again
    assert [e[0] for e in events_to(platform, stall)] == ["split_agreement.accepted"]
    listed = {a["id"]: a for a in platform.splits.agreements_of(court)["data"]}
    assert listed[proposed["id"]]["state"] == "accepted"
    assert (
        platform.splits.agreements_of(stall)["data"] == platform.splits.agreements_of(court)["data"]
    )
    ended = platform.splits.end(court, proposed["id"])  # either side may end it
    assert ended["state"] == "ended"
    assert [e[0] for e in events_to(platform, stall)][-1] == "split_agreement.ended"
    with pytest.raises(SaomaError) as refused:
        platform.splits.accept(court, proposed["id"])
    assert (refused.value.slug, status_of(refused.value)) == ("conflict", 409)


def test_only_the_receiver_answers_and_a_declined_proposal_stays_declined(
    platform: Platform, shop: Shop
) -> None:
    court, stall, stranger = shop("Court"), shop("Stall"), shop("Stranger")
    proposed = platform.splits.propose(stall, court.id, fixed=100, cap=0)
    for who in (stall, stranger):
        with pytest.raises(SaomaError) as refused:
            platform.splits.accept(who, proposed["id"])
        assert refused.value.slug == "not-found"
    assert platform.splits.decline(court, proposed["id"])["state"] == "declined"
    assert [e[0] for e in events_to(platform, stall)] == ["split_agreement.declined"]
    with pytest.raises(SaomaError):
        platform.splits.accept(court, proposed["id"])
    with pytest.raises(SaomaError):
        platform.splits.end(stall, proposed["id"])


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({}, "share_ppm"),
        ({"share_ppm": 1, "fixed": 1}, "fixed"),
        ({"share_ppm": 1_000_001}, "share_ppm"),
        ({"share_ppm": -1}, "share_ppm"),
        ({"fixed": -5}, "fixed"),
        ({"share_ppm": 10, "cap": -1}, "cap"),
        ({"share_ppm": True}, "share_ppm"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(
    platform: Platform, shop: Shop, terms: dict[str, Any], field: str
) -> None:
    court, stall = shop("Court"), shop("Stall")
    with pytest.raises(SaomaError) as refused:
        platform.splits.propose(stall, court.id, **terms)
    assert (refused.value.field, status_of(refused.value)) == (field, 422)
    assert platform.splits.agreements_of(stall)["data"] == []


def test_the_receiver_must_be_another_existing_merchant(platform: Platform, shop: Shop) -> None:
    stall = shop("Stall")
    for receiver in (stall.id, "m_nobody", ""):
        with pytest.raises(SaomaError) as refused:
            platform.splits.propose(stall, receiver, share_ppm=10)
        assert (refused.value.field, status_of(refused.value)) == ("receiver_id", 422)


def test_fifty_answers_at_once_leave_one_state_and_one_event(
    platform: Platform, other: Platform, shop: Shop
) -> None:
    court, stall = shop("Court"), shop("Stall")
    proposed = platform.splits.propose(stall, court.id, share_ppm=10)

    def answer(n: int) -> str:
        splits = (platform, other)[n % 2].splits
        try:
            return (splits.accept if n % 3 else splits.decline)(court, proposed["id"])["state"]
        except SaomaError as exc:
            return exc.slug

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(answer, range(50)))
    final = platform.splits.agreements.row_of(court, proposed["id"]).state
    assert final in ("accepted", "declined")
    assert len(events_to(platform, stall)) == 1
    assert all(a in (final, "conflict") for a in answers)
