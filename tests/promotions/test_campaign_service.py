"""Campaigns through the Promotions service, in process: what a spec must hold, who may see and
change a campaign, the states it moves through, and a platform-funded campaign."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from p2p.conftest import PIN, wallet
from promotions.conftest import OFF, with_takings
from saoma.bootstrap import Platform
from saoma.core.errors import DatabaseUnavailable, SaomaError
from saoma.ledger import Transfer, TransferCode
from saoma.movements import Moved

BAD_SPECS: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "name"),
    ({"kind": "free_lunch"}, "kind"),
    ({"budget": 0}, "budget"),
    ({"budget": True}, "budget"),
    ({"amount_off": 0}, "amount_off"),
    ({"kind": "spend_get", "min_spend": 100}, "min_spend"),
    ({"kind": "percent_off", "amount_off": 0, "percent_ppm": 0}, "percent_ppm"),
    ({"kind": "percent_off", "percent_ppm": 1_000_001}, "percent_ppm"),
    ({"kind": "random", "random_min": 5, "random_max": 4}, "random_max"),
    ({"window_end_min": 1441}, "window_end_min"),
    ({"starts_at_us": 2_000, "ends_at_us": 1_000}, "ends_at_us"),
]


def test_a_spec_that_does_not_hold_names_its_field_and_moves_nothing(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    before = p.merchants.balance(noodles)
    for change, field in BAD_SPECS:
        with pytest.raises(SaomaError) as refused:
            p.promotions.create(noodles, {**OFF, **change})
        assert (refused.value.slug, refused.value.field) == ("invalid-request", field), change
    with pytest.raises(SaomaError) as refused:
        p.promotions.create(noodles, {**OFF, "budget": before + 1})
    assert (refused.value.slug, refused.value.field) == ("insufficient-funds", "budget")
    assert p.merchants.balance(noodles) == before
    assert p.promotions.of_funder(noodles) == []


def test_a_campaign_is_its_funders_own(platform: Platform) -> None:
    p = platform
    noodles, tea = with_takings(p), with_takings(p)
    made = p.promotions.create(noodles, OFF)
    assert (made["state"], made["budget_left"], made["used_count"]) == ("active", 1_000, 0)
    assert [c["id"] for c in p.promotions.of_funder(noodles)] == [made["id"]]
    assert p.promotions.of_funder(tea) == []
    for attempt in (
        lambda: p.promotions.get(tea, made["id"]),
        lambda: p.promotions.set_state(tea, made["id"], "paused"),
        lambda: p.promotions.get(None, made["id"]),
        lambda: p.promotions.get(noodles, "cmp_nothing"),
    ):
        with pytest.raises(SaomaError) as refused:
            attempt()
        assert refused.value.slug == "not-found"


def test_a_campaign_pauses_resumes_and_once_ended_stays_ended(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    before = p.merchants.balance(noodles)
    made = p.promotions.create(noodles, OFF)
    payer = wallet(p, 5_000)
    assert p.promotions.quote(payer, noodles.id, 1_000, "static:1000") is not None
    assert p.promotions.set_state(noodles, made["id"], "paused")["state"] == "paused"
    assert p.promotions.set_state(noodles, made["id"], "paused")["state"] == "paused"
    assert p.promotions.quote(payer, noodles.id, 1_000, "static:1000") is None
    assert p.promotions.set_state(noodles, made["id"], "active")["state"] == "active"
    ended = p.promotions.set_state(noodles, made["id"], "ended")
    assert (ended["state"], ended["returned_to_funder"]) == ("ended", 1_000)
    assert ended["budget_left"] == 0
    assert p.merchants.balance(noodles) == before
    for state in ("active", "paused"):
        with pytest.raises(SaomaError) as refused:
            p.promotions.set_state(noodles, made["id"], state)
        assert refused.value.slug == "campaign-ended"


def test_the_platform_funds_a_campaign_at_one_merchant_from_its_fees(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)  # the platform earned its fee on these takings
    made = p.promotions.create(None, {**OFF, "budget": 100, "merchant_id": noodles.id})
    assert (made["funder"], made["merchant_id"]) == ("platform", noodles.id)
    assert [c["id"] for c in p.promotions.of_funder(None)] == [made["id"]]
    payer = wallet(p, 5_000)
    offer = p.promotions.quote(payer, noodles.id, 1_000, "static:1000")
    assert offer is not None and offer["campaign_id"] == made["id"]
    paid = p.payments.pay_static(
        payer, noodles.id, amount=1_000, pin=PIN, offer_id=offer["offer_id"]
    )
    assert (paid["discount"], paid["paid"]) == (100, 900)
    report = p.promotions.get(None, made["id"])
    assert (report["used_count"], report["subsidy_paid"], report["budget_left"]) == (1, 100, 0)
    assert report["sales_with_discount"] == 1_000
    assert p.promotions.quote(payer, noodles.id, 1_000, "static:1000") is None  # spent


def test_an_end_whose_return_failed_is_finished_by_maintenance_or_the_end_sent_again(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end commits first (no discount from that instant); a return lost with the database
    is not lost for good: the next maintenance pass, or the funder ending it again, sends it."""
    p = platform
    noodles = with_takings(p)
    before = p.merchants.balance(noodles)
    first, second = p.promotions.create(noodles, OFF), p.promotions.create(noodles, OFF)
    movements = p.payments.movements

    def lost(*_: Any, **__: Any) -> Any:
        raise DatabaseUnavailable("the database is not reachable")

    monkeypatch.setattr(movements, "move", lost)
    for made in (first, second):
        with pytest.raises(DatabaseUnavailable):
            p.promotions.set_state(noodles, made["id"], "ended")
    monkeypatch.undo()
    for made in (first, second):
        seen = p.promotions.get(noodles, made["id"])
        assert (seen["state"], seen["budget_left"], seen["returned_to_funder"]) == (
            "ended",
            1_000,
            0,
        )
    assert p.merchants.balance(noodles) == before - 2_000
    ended = p.promotions.set_state(noodles, first["id"], "ended")  # sent again by the funder
    assert (ended["budget_left"], ended["returned_to_funder"]) == (0, 1_000)
    assert p.promotions.campaigns.return_ended_budgets() == 1  # the second
    assert p.promotions.campaigns.return_ended_budgets() == 0
    seen = p.promotions.get(noodles, second["id"])
    assert (seen["budget_left"], seen["returned_to_funder"]) == (0, 1_000)
    assert p.merchants.balance(noodles) == before
    # Money that reached a budget after its return (a refund racing the end, before refunds
    # checked for one) goes back too, by the end sent again or by maintenance.
    campaigns = p.promotions.campaigns
    for made, again in ((first, True), (second, False)):
        budget = campaigns._row(noodles, made["id"]).budget_account_id
        late = Transfer(f"late-{made['id']}", noodles.account_id, budget, 70, TransferCode.BUDGET)
        assert isinstance(p.payments.movements.move([late]), Moved)
        if again:
            p.promotions.set_state(noodles, made["id"], "ended")
        else:
            assert campaigns.return_ended_budgets() == 1
        seen = p.promotions.get(noodles, made["id"])
        assert (seen["budget_left"], seen["returned_to_funder"]) == (0, 1_070)
    assert campaigns.return_ended_budgets() == 0
    assert p.merchants.balance(noodles) == before


def test_a_refund_worked_out_before_the_end_sends_its_subsidy_where_it_goes_after(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refund reads where the campaign's part goes (its budget), then the campaign ends and
    returns its budget, then the refund commits: its commit sees the end and it is worked out
    again, the part going to the funder. Nothing is left in the ended campaign's budget."""
    p = platform
    noodles = with_takings(p)
    made = p.promotions.create(None, {**OFF, "budget": 300, "merchant_id": noodles.id})
    payer = wallet(p, 5_000)
    offer = p.promotions.quote(payer, noodles.id, 1_000, "static:1000")
    assert offer is not None
    paid = p.payments.pay_static(
        payer, noodles.id, amount=1_000, pin=PIN, offer_id=offer["offer_id"]
    )
    assert paid["discount"] == 100
    promotions = p.promotions
    home = promotions.subsidy_home

    def ended_meanwhile(campaign_id: str) -> int:
        monkeypatch.setattr(promotions, "subsidy_home", home)
        where = home(campaign_id)  # the budget, as the campaign is active
        ended = promotions.set_state(None, made["id"], "ended")
        assert (ended["budget_left"], ended["returned_to_funder"]) == (0, 200)
        return where

    monkeypatch.setattr(promotions, "subsidy_home", ended_meanwhile)
    refund = p.payments.refund(noodles, paid["id"], amount=1_000, merchant_refund_no="R1")
    assert (refund["to_payer"], refund["to_campaign"]) == (900, 100)
    seen = p.promotions.get(None, made["id"])
    assert (seen["state"], seen["budget_left"]) == ("ended", 0)


def test_fifty_ends_and_passes_at_once_return_the_budget_once(platform: Platform) -> None:
    p = platform
    noodles = with_takings(p)
    before = p.merchants.balance(noodles)
    made = p.promotions.create(noodles, OFF)

    def end_or_sweep(n: int) -> None:
        try:
            if n % 2:
                p.promotions.set_state(noodles, made["id"], "ended")
            else:
                p.promotions.campaigns.return_ended_budgets()
        except SaomaError as exc:  # another end won the race: decided again, or told so
            assert exc.slug in ("campaign-changed", "conflict"), exc.slug

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(end_or_sweep, range(50)))
    seen = p.promotions.get(noodles, made["id"])
    assert (seen["state"], seen["budget_left"], seen["returned_to_funder"]) == ("ended", 0, 1_000)
    assert p.merchants.balance(noodles) == before
