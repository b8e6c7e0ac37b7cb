"""Campaigns: made with their budget moved into an account of their own, paused, ended, reported.

A campaign's budget sits in a ledger account that cannot go below zero, so the ledger itself
refuses a subsidy the budget cannot pay: a budget is never overspent, under any concurrency.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from saoma.core.errors import (
    CampaignChanged,
    CampaignEnded,
    InsufficientFunds,
    InvalidRequest,
    not_found,
)
from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read, write
from saoma.ledger import AccountKind, Ledger, Result, Transfer, TransferCode
from saoma.merchants.service import Merchant, check_text
from saoma.movements import Moved, Unit
from saoma.payments import tables as pm
from saoma.payments.idempotency import Claim, same_request
from saoma.promotions import tables as m
from saoma.promotions.catalogue import Catalogue
from saoma.promotions.rules import Kind

PLATFORM = "platform"
UNLIMITED = 2**31 - 1
RETURN_RETRIED_FOR_US = 7 * 24 * 3600 * 1_000_000  # an end's failed return, tried again this long
NEXT_STATES = {"paused": ("active",), "active": ("paused",), "ended": ("active", "paused")}


def _int(
    spec: dict[str, Any], name: str, default: int = 0, *, low: int = 0, high: int = 10**12
) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"{name} must be an integer between {low} and {high}", field=name)
    return value


def campaign_id_of(claim: Claim) -> str:
    """The id of the campaign a request with this Idempotency-Key makes."""
    digest = hashlib.blake2b(claim.seed.encode(), digest_size=10).digest()
    return f"cmp_{base64.b32encode(digest).decode().lower()}"


def check_spec(spec: dict[str, Any], now: int) -> tuple[str, Kind, int, dict[str, Any]]:
    """The campaign's name, kind, budget and rules, each checked; names the field that is not."""
    name = check_text("name", str(spec.get("name", "")), 64)
    try:
        kind = Kind(spec.get("kind", ""))
    except ValueError as exc:
        kinds = ", ".join(k.value for k in Kind)
        raise InvalidRequest(f"kind must be one of {kinds}", field="kind") from exc
    budget = _int(spec, "budget", low=1)
    values: dict[str, Any] = {
        "amount_off": _int(spec, "amount_off"),
        "percent_ppm": _int(spec, "percent_ppm", high=1_000_000),
        "cap": _int(spec, "cap"),
        "min_spend": _int(spec, "min_spend"),
        "random_min": _int(spec, "random_min"),
        "random_max": _int(spec, "random_max"),
        "window_start_min": _int(spec, "window_start_min", 0, high=1440),
        "window_end_min": _int(spec, "window_end_min", 1440, high=1440),
        "per_consumer_per_day": _int(spec, "per_consumer_per_day", high=UNLIMITED),
        "per_consumer_total": _int(spec, "per_consumer_total", high=UNLIMITED),
        "total_count": _int(spec, "total_count", high=UNLIMITED),
        "starts_at_us": _int(spec, "starts_at_us", now, high=2**62),
        "ends_at_us": _int(spec, "ends_at_us", 2**62, high=2**62),
        "first_payment_only": bool(spec.get("first_payment_only", False)),
        "needs_coupon": bool(spec.get("needs_coupon", False)),
    }
    if kind in (Kind.AMOUNT_OFF, Kind.SPEND_GET) and values["amount_off"] < 1:
        raise InvalidRequest("amount_off must be at least 1 for this kind", field="amount_off")
    if kind is Kind.SPEND_GET and values["min_spend"] <= values["amount_off"]:
        raise InvalidRequest("min_spend must be above amount_off", field="min_spend")
    if kind is Kind.PERCENT_OFF and values["percent_ppm"] < 1:
        raise InvalidRequest("percent_ppm must be at least 1 for a percentage", field="percent_ppm")
    if kind is Kind.RANDOM and not 1 <= values["random_min"] <= values["random_max"]:
        raise InvalidRequest(
            "a random reduction needs 1 <= random_min <= random_max", field="random_max"
        )
    if values["ends_at_us"] <= values["starts_at_us"]:
        raise InvalidRequest("ends_at_us must be after starts_at_us", field="ends_at_us")
    return name, kind, budget, values


def report_of(row: Any, budget_left: int, sales: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "state": row.state,
        "merchant_id": row.merchant_id,
        "funder": row.funder,
        "budget": row.budget,
        "budget_left": budget_left,
        "used_count": row.used_count,
        "subsidy_paid": row.used_amount,
        "sales_with_discount": sales,
        "returned_to_funder": row.returned,
        "amount_off": row.amount_off,
        "percent_ppm": row.percent_ppm,
        "cap": row.cap,
        "min_spend": row.min_spend,
        "random_min": row.random_min,
        "random_max": row.random_max,
        "first_payment_only": bool(row.first_payment_only),
        "window_start_min": row.window_start_min,
        "window_end_min": row.window_end_min,
        "per_consumer_per_day": row.per_consumer_per_day,
        "per_consumer_total": row.per_consumer_total,
        "total_count": row.total_count,
        "needs_coupon": bool(row.needs_coupon),
        "created_at": rfc3339(row.created_at_us),
    }


class Campaigns:
    def __init__(self, engine: Engine, payments: Any, catalogue: Catalogue) -> None:
        self.engine = engine
        self.payments = payments
        self.ledger: Ledger = payments.ledger
        self.currency: str = payments.currency
        self.catalogue = catalogue

    def create(
        self, funder: Merchant | None, spec: dict[str, Any], *, claim: Claim | None = None
    ) -> dict[str, Any]:
        """A campaign funded by a merchant (its settlement account) or by the platform (fees).

        With an Idempotency-Key ``claim`` the campaign's id derives from the key, so a request
        taken over after its process died finds the budget already moved instead of moving it
        again.
        """
        now = now_us()
        name, kind, budget, values = check_spec(spec, now)
        if funder is None:
            funder_id, funder_account = PLATFORM, self.payments.fees_account
            merchant_id = spec.get("merchant_id")
        else:
            funder_id, funder_account, merchant_id = funder.id, funder.account_id, funder.id
        campaign_id = new_id("cmp") if claim is None else campaign_id_of(claim)
        made = self._made(campaign_id) if claim is not None else None
        if made is not None:  # a first try funded it, then died (or its key was purged since)
            asked = {"funder": funder_id, "name": name, "kind": kind.value, "budget": budget}
            same_request(made, asked, tuple(asked))
            return self.get(funder, campaign_id)
        row = {
            "id": campaign_id,
            "name": name,
            "kind": kind.value,
            "merchant_id": merchant_id,
            "funder": funder_id,
            "funder_account_id": funder_account,
            "budget_account_id": self._open_budget_account(),
            "budget": budget,
            "currency": self.currency,
            "state": "active",
            "used_count": 0,
            "used_amount": 0,
            "returned": 0,
            "created_at_us": now,
            "updated_at_us": now,
            **values,
        }
        self._fund(row)
        return self.get(funder, campaign_id)

    def _fund(self, row: dict[str, Any]) -> None:
        fund = Transfer(
            f"fund:{row['id']}",
            row["funder_account_id"],
            row["budget_account_id"],
            row["budget"],
            TransferCode.BUDGET,
            ref=row["id"],
        )

        def record(unit: Unit) -> None:
            unit.insert(m.campaigns, row)
            unit.after(self.catalogue.invalidate)

        moved = self.payments.movements.move([fund], record)
        if isinstance(moved, Moved):
            return
        if moved.results[0] is Result.EXCEEDS_CREDITS:
            raise InsufficientFunds(
                "the settlement account cannot fund this budget", field="budget"
            )
        raise moved.problem()

    def _made(self, campaign_id: str) -> Any:
        """The campaign ``campaign_id``'s row, if it was made."""
        c = m.campaigns.c
        with read(self.engine) as conn:
            found = conn.execute(
                select(c.funder, c.name, c.kind, c.budget).where(c.id == campaign_id)
            )
            return found.first()

    def _open_budget_account(self) -> int:
        return self.ledger.open_account(self.currency, AccountKind.PROMOTION_BUDGET)

    def _row(self, funder: Merchant | None, campaign_id: str) -> Any:
        with read(self.engine) as conn:
            row = conn.execute(select(m.campaigns).where(m.campaigns.c.id == campaign_id)).first()
        owner = PLATFORM if funder is None else funder.id
        if row is None or row.funder != owner:
            raise not_found("campaign", campaign_id)
        return row

    def get(self, funder: Merchant | None, campaign_id: str) -> dict[str, Any]:
        """The campaign and its report: uses, subsidy paid, sales it came with, budget left."""
        row = self._row(funder, campaign_id)
        account = self.ledger.account(row.budget_account_id)
        with read(self.engine) as conn:
            sales = conn.execute(
                select(func.coalesce(func.sum(pm.payments.c.amount), 0)).where(
                    pm.payments.c.campaign_id == campaign_id
                )
            ).scalar_one()
        return report_of(row, account.balance if account else 0, int(sales))

    def of_funder(self, funder: Merchant | None) -> list[dict[str, Any]]:
        owner = PLATFORM if funder is None else funder.id
        with read(self.engine) as conn:
            ids = (
                conn.execute(
                    select(m.campaigns.c.id)
                    .where(m.campaigns.c.funder == owner)
                    .order_by(m.campaigns.c.created_at_us.desc())
                )
                .scalars()
                .all()
            )
        return [self.get(funder, i) for i in ids]

    def set_state(self, funder: Merchant | None, campaign_id: str, state: str) -> dict[str, Any]:
        """Pause, resume or end: no new discount from this instant; ending returns the budget."""
        for _ in range(5):  # another change won the race: decide again from what it left
            row = self._row(funder, campaign_id)
            if row.state == state:  # nothing to do, or the same change made meanwhile
                if state == "ended":  # an end sent again finishes a return that did not go
                    self._return_budget(row)
                return self.get(funder, campaign_id)
            if row.state not in NEXT_STATES[state]:
                raise CampaignEnded(f"the campaign is {row.state}")
            with write(self.engine) as conn:
                done = conn.execute(
                    update(m.campaigns)
                    .where(m.campaigns.c.id == campaign_id, m.campaigns.c.state == row.state)
                    .values(state=state, updated_at_us=now_us())
                )
            if done.rowcount == 1:
                break
        else:
            raise CampaignChanged("the campaign changed meanwhile; try again")
        self.catalogue.invalidate()
        if state == "ended":
            self._return_budget(row)
        return self.get(funder, campaign_id)

    def return_ended_budgets(self) -> int:
        """Maintenance: what the budgets of campaigns ended in the last week still hold, sent
        back to their funders (an end whose return was lost with the database); how many."""
        c = m.campaigns.c
        with read(self.engine) as conn:
            ended = conn.execute(
                select(m.campaigns).where(
                    c.state == "ended", c.updated_at_us > now_us() - RETURN_RETRIED_FOR_US
                )
            ).all()
        if not ended:
            return 0
        balances = self.ledger.accounts([row.budget_account_id for row in ended])
        returned = 0
        for row in ended:
            account = balances.get(row.budget_account_id)
            if account is not None and account.balance > 0:
                self._return_budget(row)
                returned += 1
        return returned

    def _return_budget(self, row: Any) -> None:
        """What the ended campaign's budget holds, back to its funder. The end committed first:
        no payment takes from the budget any more, and no refund gives to it (each checks in
        its commit where its subsidy goes, and an end waits for one that checked before). A
        transfer's id follows what was returned before it: a later return is only of money a
        refund gave the budget after an end, before refunds checked for one."""
        with read(self.engine) as conn:
            seen = conn.execute(
                select(m.campaigns.c.returned).where(m.campaigns.c.id == row.id)
            ).scalar_one()
        account = self.ledger.account(row.budget_account_id)
        left = account.balance if account else 0
        if left <= 0:
            return
        back = Transfer(
            f"return:{row.id}" + (f":{seen}" if seen else ""),
            row.budget_account_id,
            row.funder_account_id,
            left,
            TransferCode.BUDGET,
            ref=row.id,
        )

        def record(unit: Unit) -> None:
            if (
                unit.execute(
                    "UPDATE campaigns SET returned = returned + :left"
                    " WHERE id = :id AND returned = :seen",
                    {"left": left, "id": row.id, "seen": seen},
                ).rowcount
                != 1
            ):
                raise CampaignChanged("the campaign's budget was returned meanwhile")

        moved = self.payments.movements.move([back], record)
        if not isinstance(moved, Moved) and moved.results[0] is not Result.EXISTS:
            raise moved.problem()
