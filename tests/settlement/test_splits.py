"""Splitting payments: under a standing agreement by itself, or asked for within the window;
the percentage or fixed amount, the cap, once per payment and agreement, never when settled."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.core.errors import SaomaError
from saoma.core.ids import now_us
from saoma.freezes.service import Doer
from saoma.ledger.check import check_ledger
from saoma.movements import Unit
from saoma.settlement import splits as splits_module
from saoma.settlement.splits import SPLIT_WINDOW_US
from settlement.conftest import Town
from settlement.court import Court

MakeCourt = Callable[..., Court]
SUPPORT = Doer("op_support", "support", "ticket T-7")


def transfers_of(platform: Platform, split_id: str) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM transfers WHERE id = :i"), {"i": split_id}
            ).scalar_one()
        )


def test_a_standing_agreement_splits_each_later_payment_once(
    platform: Platform, court: MakeCourt
) -> None:
    c = court(standing=True)
    paid = [c.pay(amount) for amount in (2_500, 1_000, 6)]
    assert platform.splits.apply_standing() == 2  # 8% of 6 fen rounds to nothing
    assert platform.splits.apply_standing() == 0  # every payment split once already
    splits = [platform.splits.splits_of(c.stall, p["id"])["data"] for p in paid]
    assert [[s["amount"] for s in found] for found in splits] == [[200], [80], [0]]
    assert splits[0][0]["receiver_id"] == c.court.id and splits[0][0]["returned"] == 0
    assert c.balance(c.court) == 280
    assert c.balance(c.stall) == 2_500 + 1_000 + 6 - 15 - 6 - 0 - 280  # less fees and shares
    assert check_ledger(platform.engine).ok


def test_a_payment_the_merchant_cannot_split_yet_is_split_once_it_can(
    platform: Platform, court: MakeCourt, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(splits_module, "SCAN_LAG_US", 0)  # every payment counts as committed
    c = court(share_ppm=0, fixed=1_000, standing=True)
    short = c.pay(1_000)  # the stall keeps 994 of it after the fee: short of the 1000 share
    assert platform.splits.apply_standing() == 0
    assert platform.splits.splits_of(c.stall, short["id"])["data"] == []
    c.pay(3_000)  # its own split is made; the first is tried again and now made too
    assert platform.splits.apply_standing() == 2
    assert platform.splits.apply_standing() == 0
    later = c.pay(2_000)  # past the mark the last call left
    assert platform.splits.apply_standing() == 1
    assert platform.splits.splits_of(c.stall, later["id"])["data"][0]["amount"] == 1_000
    assert c.balance(c.court) == 3_000


def test_a_payment_settled_while_its_split_is_on_its_way_is_not_split(
    platform: Platform, court: MakeCourt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement run takes the payment after the split looked, before it commits: the split's
    commit sees the line and moves nothing."""
    c = court()
    paid = c.pay(1_000)
    real = platform.splits._check_splittable

    def then_settled(payment: Any, agreement: Any) -> None:
        real(payment, agreement)
        with platform.engine.begin() as conn:  # as a settlement run does when it takes the line
            conn.execute(
                text(
                    "INSERT INTO settlement_lines (source, settlement_id, merchant_id, kind, ref,"
                    " amount, at_us) VALUES (:s, 'st_1', :m, 'payment', :p, 1000, 0)"
                ),
                {"s": payment.transfer_id, "m": c.stall.id, "p": payment.id},
            )

    monkeypatch.setattr(platform.splits, "_check_splittable", then_settled)
    with pytest.raises(SaomaError) as refused:
        platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    assert (refused.value.slug, refused.value.cause) == ("conflict", "already-settled")
    assert platform.splits.splits_of(c.stall, paid["id"])["data"] == []
    assert c.balance(c.court) == 0
    with platform.engine.begin() as conn:  # no settlement took it: the books check would say so
        conn.execute(text("DELETE FROM settlement_lines WHERE settlement_id = 'st_1'"))


def test_a_settlement_closing_as_a_split_commits_takes_the_split_with_its_payment(
    platform: Platform, court: MakeCourt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement run closes the merchant's day after the split looked for a settlement line
    and before it commits: the close waits for the split's commit, then takes the payment and
    its split together, so the payout leaves the receiver's share out."""
    c = court()
    paid = c.pay(1_000)
    settlements = platform.settlement.settlements
    terms = settlements.terms.get(c.stall.id)
    closed: list[str | None] = []
    close = threading.Thread(
        target=lambda: closed.append(settlements._close(terms, now_us() + 1, "instant", now_us()))
    )
    real = Unit.execute

    def then_closing(unit: Unit, sql: str, params: Any = None) -> Any:
        answer = real(unit, sql, params)
        if sql == splits_module._SETTLED_SQL and not close.is_alive() and not closed:
            assert answer.rowcount is not None  # the look answered before the close starts
            close.start()
            close.join(0.5)  # it waits for the split's commit
        return answer

    monkeypatch.setattr(Unit, "execute", then_closing)
    split = platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    close.join(10)
    (sid,) = closed
    assert sid is not None
    with platform.engine.connect() as conn:
        taken = set(
            conn.execute(
                text("SELECT source FROM settlement_lines WHERE settlement_id = :s"), {"s": sid}
            ).scalars()
        )
        transfer_id = conn.execute(
            text("SELECT transfer_id FROM payments WHERE id = :p"), {"p": paid["id"]}
        ).scalar_one()
        net = conn.execute(text("SELECT net FROM settlements WHERE id = :s"), {"s": sid}).scalar()
    assert {transfer_id, split["id"]} <= taken
    assert net == c.balance(c.stall)  # the receiver's share is not paid out to the stall
    assert check_ledger(platform.engine).ok


def test_a_split_asked_for_while_a_settlement_closes_waits_for_its_answer(
    platform: Platform, court: MakeCourt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close holds the merchant's terms while it takes its lines; a split of a payment it
    takes, asked for meanwhile, waits for the close and is then refused as settled."""
    c = court()
    paid = c.pay(1_000)
    settlements = platform.settlement.settlements
    terms = settlements.terms.get(c.stall.id)
    entered, go = threading.Event(), threading.Event()
    real = settlements._open

    def slow_open(*args: Any) -> None:
        real(*args)
        entered.set()
        go.wait(10)

    monkeypatch.setattr(settlements, "_open", slow_open)
    closed: list[str | None] = []
    close = threading.Thread(
        target=lambda: closed.append(settlements._close(terms, now_us() + 1, "instant", now_us()))
    )
    close.start()
    assert entered.wait(10)
    if platform.engine.dialect.name == "postgresql":  # the terms' own updates never wait for it
        with platform.engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            conn.execute(
                text("UPDATE settlement_terms SET updated_at_us = 1 WHERE merchant_id = :m"),
                {"m": c.stall.id},
            )
        # nor a new overdraft limit, whose allowance moves in a ledger batch
        limit = threading.Thread(
            target=lambda: settlements.terms.set(c.stall.id, overdraft_limit=70_000)
        )
        limit.start()
        limit.join(5)
        assert not limit.is_alive() and settlements.terms.granted(c.stall.id) == 70_000
    threading.Timer(0.3, go.set).start()
    with pytest.raises(SaomaError) as refused:
        platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    close.join(10)
    assert closed[0] is not None and go.is_set()
    assert (refused.value.slug, refused.value.cause) == ("conflict", "already-settled")
    assert platform.splits.splits_of(c.stall, paid["id"])["data"] == []
    assert c.balance(c.court) == 0
    assert check_ledger(platform.engine).ok


def test_fifty_splits_racing_a_settlement_close_each_land_in_its_payments_settlement(
    platform: Platform, court: MakeCourt
) -> None:
    """Fifty payments split at once while the stall's day closes: each split is either taken
    by the same settlement as its payment or refused as settled; none passes it."""
    c = court()
    paid = [c.pay(100 + i) for i in range(50)]
    settlements = platform.settlement.settlements
    terms = settlements.terms.get(c.stall.id)

    def split(payment: dict[str, Any]) -> str:
        try:
            platform.splits.split_payment(c.stall, payment["id"], c.agreement["id"])
        except SaomaError as refused:
            assert refused.cause == "already-settled", refused
            return "settled"
        return "split"

    with ThreadPoolExecutor(51) as pool:
        results = pool.map(split, paid)
        # Its cut-off past every split's time: a split committed before it takes its lines is
        # one of them, and only the order of the commits decides.
        later = now_us() + 3_600_000_000
        closed = pool.submit(settlements._close, terms, later, "instant", now_us())
        outcomes, sid = list(results), closed.result()
    assert sid is not None and set(outcomes) <= {"split", "settled"}
    with platform.engine.connect() as conn:
        taken = dict(
            conn.execute(
                text("SELECT source, settlement_id FROM settlement_lines WHERE merchant_id = :m"),
                {"m": c.stall.id},
            ).all()
        )
        splits = conn.execute(
            text(
                "SELECT s.id, p.transfer_id FROM payment_splits s"
                " JOIN payments p ON p.id = s.payment_id"
            )
        ).all()
    assert len(splits) == outcomes.count("split")
    for split_id, transfer_id in splits:  # taken with its payment, never after the close
        assert taken[transfer_id] == sid and taken.get(split_id) == sid
    with platform.engine.connect() as conn:
        net = conn.execute(text("SELECT net FROM settlements WHERE id = :s"), {"s": sid}).scalar()
    assert net == c.balance(c.stall)  # the receivers' shares are not paid out to the stall
    assert check_ledger(platform.engine).ok


def test_a_payment_made_before_acceptance_or_settled_is_left_alone(
    platform: Platform, court: MakeCourt, shop: Callable[..., Any]
) -> None:
    c = court(standing=True)
    settled = c.pay(1_000)
    with platform.engine.begin() as conn:  # as a settlement run does when it takes the line
        transfer_id = conn.execute(
            text("SELECT transfer_id FROM payments WHERE id = :p"), {"p": settled["id"]}
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO settlement_lines (source, settlement_id, merchant_id, kind, ref,"
                " amount, at_us) VALUES (:s, 'st_1', :m, 'payment', :p, 1000, 0)"
            ),
            {"s": transfer_id, "m": c.stall.id, "p": settled["id"]},
        )
    assert platform.splits.apply_standing() == 0
    with pytest.raises(SaomaError) as refused:
        platform.splits.split_payment(c.stall, settled["id"], c.agreement["id"])
    assert (refused.value.slug, refused.value.cause) == ("conflict", "already-settled")
    later = court(standing=True)
    before = later.pay(500)
    other_court = shop("Second Court")
    proposed = platform.splits.propose(later.stall, other_court.id, share_ppm=50_000, standing=True)
    platform.splits.accept(other_court, proposed["id"])
    assert platform.splits.apply_standing() == 1  # the first agreement only
    assert [
        s["receiver_id"] for s in platform.splits.splits_of(later.stall, before["id"])["data"]
    ] == [later.court.id]
    assert platform.splits.apply_standing(before_us=0) == 0
    with platform.engine.begin() as conn:  # no settlement took it: the books check would say so
        conn.execute(text("DELETE FROM settlement_lines WHERE settlement_id = 'st_1'"))


def test_a_split_asked_for_later_takes_its_share_once(platform: Platform, court: MakeCourt) -> None:
    c = court(share_ppm=500_000, cap=300)
    paid = c.pay(1_000)
    first = platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    assert first["amount"] == 300  # half of it, capped at 3.00
    again = platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    assert again == first and transfers_of(platform, first["id"]) == 1
    assert c.balance(c.court) == 300


def test_a_fixed_split_is_never_more_than_is_left(platform: Platform, court: MakeCourt) -> None:
    c = court(share_ppm=0, fixed=800)
    c.pay(5_000)  # earlier takings: the stall can pass a share on after a refund
    paid = c.pay(1_000)
    platform.payments.refund(c.stall, paid["id"], amount=700, merchant_refund_no="R-1")
    split = platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    assert split["amount"] == 300
    platform.payments.refund(c.stall, paid["id"], amount=300, merchant_refund_no="R-2")
    assert platform.splits.splits_of(c.stall, paid["id"])["data"][0]["returned"] == 300
    assert c.balance(c.court) == 0
    full = c.pay(1_000)
    platform.payments.refund(c.stall, full["id"], amount=1_000, merchant_refund_no="R-3")
    with pytest.raises(SaomaError) as refused:  # refunded in full: nothing to split
        platform.splits.split_payment(c.stall, full["id"], c.agreement["id"])
    assert refused.value.slug == "conflict"


def test_splits_are_refused_outside_their_rules(
    platform: Platform, court: MakeCourt, shop: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = court()
    paid = c.pay(1_000)
    stranger = shop("Stranger")
    with pytest.raises(SaomaError) as hidden:  # another merchant's payment
        platform.splits.split_payment(stranger, paid["id"], c.agreement["id"])
    assert hidden.value.slug == "not-found"
    with pytest.raises(SaomaError) as receivers:  # the receiver cannot split the giver's payment
        platform.splits.split_payment(c.court, paid["id"], c.agreement["id"])
    assert receivers.value.slug == "not-found"
    proposed = platform.splits.propose(c.stall, stranger.id, share_ppm=1_000)
    with pytest.raises(SaomaError) as unaccepted:
        platform.splits.split_payment(c.stall, paid["id"], proposed["id"])
    assert unaccepted.value.slug == "conflict"
    later = now_us() + SPLIT_WINDOW_US + 1_000_000  # eight days on
    monkeypatch.setattr(splits_module, "now_us", lambda: later)
    with pytest.raises(SaomaError) as late:
        platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    assert "7 days" in late.value.detail
    assert platform.splits.splits_of(c.stall, paid["id"])["data"] == []
    assert c.balance(c.court) == 0


@pytest.mark.slow
def test_fifty_splits_of_one_payment_at_once_make_one_split_and_one_transfer(
    platform: Platform, other: Platform, court: MakeCourt
) -> None:
    c = court()
    paid = c.pay(2_500)
    with ThreadPoolExecutor(50) as pool:
        done = list(
            pool.map(
                lambda n: (platform, other)[n % 2].splits.split_payment(
                    c.stall, paid["id"], c.agreement["id"]
                ),
                range(50),
            )
        )
    assert len({d["id"] for d in done}) == 1 and {d["amount"] for d in done} == {200}
    assert len(platform.splits.splits_of(c.stall, paid["id"])["data"]) == 1
    assert transfers_of(platform, done[0]["id"]) == 1
    assert c.balance(c.court) == 200


def test_an_agreement_ended_while_a_split_is_worked_out_stops_it(
    platform: Platform, court: MakeCourt, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = court()
    paid = c.pay(1_000)
    checked = platform.splits._check_splittable

    def then_ended(payment: Any, agreement: Any) -> None:
        checked(payment, agreement)  # accepted when read...
        platform.splits.end(c.court, agreement.id)  # ...ended by the court before the split

    monkeypatch.setattr(platform.splits, "_check_splittable", then_ended)
    with pytest.raises(SaomaError) as refused:
        platform.splits.split_payment(c.stall, paid["id"], c.agreement["id"])
    assert "ended" in refused.value.detail
    assert platform.splits.splits_of(c.stall, paid["id"])["data"] == []
    assert c.balance(c.court) == 0


def test_a_freeze_stops_a_split_leaving_a_frozen_giver_not_reaching_a_frozen_receiver(
    platform: Platform, town: Town
) -> None:
    """A freeze stops money leaving, here as everywhere: a frozen stall's split is refused. A
    split is no payer's payment, so a frozen court still receives its share under the agreement
    it accepted; the share stays in its account, unsettled, until the freeze is lifted."""
    court, stall = town.shop("Futian Food Court"), town.shop("Old Chen Noodles")
    proposed = platform.splits.propose(stall, court.id, share_ppm=80_000)
    agreement = platform.splits.accept(court, proposed["id"])
    paid = town.pay(stall, town.payer(), 2_500)

    platform.freezes.freeze(SUPPORT, "merchant", stall.id, "Under review")
    with pytest.raises(SaomaError) as refused:
        platform.splits.split_payment(stall, paid["id"], agreement["id"])
    assert refused.value.cause == "merchant-frozen"
    assert platform.splits.splits_of(stall, paid["id"])["data"] == []
    assert town.own(court) == 0
    platform.freezes.unfreeze(SUPPORT, "merchant", stall.id)

    platform.freezes.freeze(SUPPORT, "merchant", court.id, "Under review")
    split = platform.splits.split_payment(stall, paid["id"], agreement["id"])
    assert split["amount"] == 200 and town.own(court) == 200
    town.run()
    assert town.settlements(court) == []  # held while frozen
    assert [s["splits"] for s in town.settled(stall)] == [-200]
    platform.freezes.unfreeze(SUPPORT, "merchant", court.id)
    town.run()
    assert [(s["splits"], s["payout"]) for s in town.settled(court)] == [(200, 200)]
    assert town.own(court) == 0
    assert check_ledger(platform.engine).ok
