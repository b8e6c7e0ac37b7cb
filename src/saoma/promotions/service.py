"""Campaigns with their own budget accounts, offers quoted at preview, applied at confirmation.

A campaign's budget sits in a ledger account that cannot go below zero, so the ledger itself
refuses a subsidy the budget cannot pay: a budget is never overspent, under any concurrency.
Counts (in total, per consumer per day, per consumer in all) are kept in rows updated with a
condition inside the payment's own transaction, so a limit is never exceeded either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.db import read, write
from saoma.ledger import Account, AccountFlags, AccountKind, Result, Transfer, TransferCode
from saoma.ledger import models as ledger_models
from saoma.ledger.domain import AccountResult
from saoma.ledger.tx import Tx
from saoma.merchants.service import Merchant, check_text
from saoma.payments import models as pm
from saoma.payments.idempotency import Claim
from saoma.payments.ids import new_account_id, new_id, now_us
from saoma.problems import Problem, invalid, not_found
from saoma.promotions import models as m
from saoma.promotions.rules import SHANGHAI, Campaign, Context, Kind, best_offer, eligible
from saoma.wallets.service import Consumer
from saoma.webhooks.outbox import rfc3339

log = logging.getLogger(__name__)

OFFER_TTL_US = 5 * 60 * 1_000_000  # a quoted price holds for five minutes
CACHE_TTL_S = 1.0
STALE_LIMIT_S = 5.0  # past this a preview waits for the list rather than use an old one
PLATFORM = "platform"
UNLIMITED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class TakenOffer:
    """A verified offer on its way into a payment."""

    id: str
    campaign_id: str
    discount: int
    budget_account_id: int
    needs_coupon: bool
    per_consumer_per_day: int
    per_consumer_total: int
    expires_at_us: int
    merchant_id: str
    subject: str
    amount: int


def shenzhen_day(at_us: int) -> str:
    return datetime.fromtimestamp(at_us / 1_000_000, SHANGHAI).strftime("%Y-%m-%d")


def _campaign(row: Any) -> Campaign:
    return Campaign(
        id=row.id,
        name=row.name,
        kind=Kind(row.kind),
        merchant_id=row.merchant_id,
        amount_off=row.amount_off,
        percent_ppm=row.percent_ppm,
        cap=row.cap,
        min_spend=row.min_spend,
        random_min=row.random_min,
        random_max=row.random_max,
        first_payment_only=bool(row.first_payment_only),
        window_start_min=row.window_start_min,
        window_end_min=row.window_end_min,
        starts_at_us=row.starts_at_us,
        ends_at_us=row.ends_at_us,
        per_consumer_per_day=row.per_consumer_per_day,
        per_consumer_total=row.per_consumer_total,
        total_count=row.total_count,
        needs_coupon=bool(row.needs_coupon),
        state=row.state,
    )


def _int(
    spec: dict[str, Any], name: str, default: int = 0, *, low: int = 0, high: int = 10**12
) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(name, f"{name} must be an integer between {low} and {high}")
    return value


class Promotions:
    def __init__(self, engine: Engine, payments: Any) -> None:
        self.engine = engine
        self.payments = payments
        self.ledger = payments.ledger
        self.currency: str = payments.currency
        self._cache: tuple[float, dict[str | None, list[Campaign]]] = (0.0, {})
        self._cache_lock = threading.Lock()
        self._refreshing = threading.Lock()  # held while a background thread reads the list
        self._generation = 0  # bumped by every change made here
        self._definitions: dict[str, tuple[int, Campaign]] = {}  # id → (updated_at_us, campaign)
        self._secret: bytes | None = None
        self._used_counts: dict[str, int] = {}
        self._budgets_left: dict[str, int] = {}

    # --- managing campaigns ----------------------------------------------------------------------

    def create(
        self, funder: Merchant | None, spec: dict[str, Any], *, claim: Claim | None = None
    ) -> dict[str, Any]:
        """A campaign funded by a merchant (its settlement account) or by the platform (fees).

        With an Idempotency-Key ``claim`` the campaign's id derives from the key, so a request
        taken over after its process died finds the budget already moved instead of moving it
        again.
        """
        name = check_text("name", str(spec.get("name", "")), 64)
        try:
            kind = Kind(spec.get("kind", ""))
        except ValueError as exc:
            kinds = ", ".join(k.value for k in Kind)
            raise invalid("kind", f"kind must be one of {kinds}") from exc
        budget = _int(spec, "budget", low=1)
        now = now_us()
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
            raise invalid("amount_off", "amount_off must be at least 1 for this kind")
        if kind is Kind.SPEND_GET and values["min_spend"] <= values["amount_off"]:
            raise invalid("min_spend", "min_spend must be above amount_off")
        if kind is Kind.PERCENT_OFF and values["percent_ppm"] < 1:
            raise invalid("percent_ppm", "percent_ppm must be at least 1 for a percentage")
        if kind is Kind.RANDOM and not 1 <= values["random_min"] <= values["random_max"]:
            raise invalid("random_max", "a random reduction needs 1 <= random_min <= random_max")
        if values["ends_at_us"] <= values["starts_at_us"]:
            raise invalid("ends_at_us", "ends_at_us must be after starts_at_us")
        if funder is None:
            funder_id, funder_account = PLATFORM, self.payments.fees_account
            merchant_id = spec.get("merchant_id")
        else:
            funder_id, funder_account, merchant_id = funder.id, funder.account_id, funder.id
        campaign_id = new_id("cmp") if claim is None else _campaign_id_of(claim)
        if claim is not None and self._exists(campaign_id):  # a first try funded it, then died
            return self.get(funder, campaign_id)
        budget_account = self._open_budget_account()
        row = {
            "id": campaign_id,
            "name": name,
            "kind": kind.value,
            "merchant_id": merchant_id,
            "funder": funder_id,
            "funder_account_id": funder_account,
            "budget_account_id": budget_account,
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
        fund = Transfer(
            f"fund:{campaign_id}",
            funder_account,
            budget_account,
            budget,
            TransferCode.BUDGET,
            ref=campaign_id,
        )

        def record(tx: Tx) -> None:
            cols = ", ".join(row)
            names = ", ".join(f":{k}" for k in row)
            tx.execute(f"INSERT INTO campaigns ({cols}) VALUES ({names})", row)

        results, sent = self.payments._move([fund], record)
        if not sent.wrote:
            if results[0] is Result.EXCEEDS_CREDITS:
                raise Problem(
                    "insufficient-funds",
                    402,
                    "the settlement account cannot fund this budget",
                    field="budget",
                )
            self.payments._raise_for(results, [fund])
        self._invalidate()
        return self.get(funder, campaign_id)

    def _exists(self, campaign_id: str) -> bool:
        with read(self.engine) as conn:
            found = conn.execute(select(m.campaigns.c.id).where(m.campaigns.c.id == campaign_id))
            return found.first() is not None

    def _open_budget_account(self) -> int:
        for _ in range(5):
            account_id = new_account_id()
            (result,) = self.ledger.create_accounts(
                [
                    Account(
                        account_id,
                        self.currency,
                        AccountKind.PROMOTION_BUDGET,
                        AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                    )
                ]
            )
            if result is AccountResult.OK:
                return account_id
        raise RuntimeError("could not allocate a budget account id")

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
        return {
            "id": row.id,
            "name": row.name,
            "kind": row.kind,
            "state": row.state,
            "merchant_id": row.merchant_id,
            "funder": row.funder,
            "budget": row.budget,
            "budget_left": account.balance if account else 0,
            "used_count": row.used_count,
            "subsidy_paid": row.used_amount,
            "sales_with_discount": int(sales),
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
        row = self._row(funder, campaign_id)
        allowed = {"paused": ("active",), "active": ("paused",), "ended": ("active", "paused")}
        if row.state == state:
            return self.get(funder, campaign_id)
        if row.state not in allowed[state]:
            raise Problem("campaign-ended", 409, f"the campaign is {row.state}")
        with write(self.engine) as conn:
            done = conn.execute(
                update(m.campaigns)
                .where(m.campaigns.c.id == campaign_id, m.campaigns.c.state == row.state)
                .values(state=state, updated_at_us=now_us())
            )
        if done.rowcount != 1:
            raise Problem("conflict", 409, "the campaign changed meanwhile; try again")
        self._invalidate()
        if state == "ended":
            self._return_budget(row)
        return self.get(funder, campaign_id)

    def _return_budget(self, row: Any) -> None:
        # The state change committed first: no payment can take from the budget any more.
        account = self.ledger.account(row.budget_account_id)
        left = account.balance if account else 0
        if left <= 0:
            return
        back = Transfer(
            f"return:{row.id}",
            row.budget_account_id,
            row.funder_account_id,
            left,
            TransferCode.BUDGET,
            ref=row.id,
        )

        def record(tx: Tx) -> None:
            tx.execute(
                "UPDATE campaigns SET returned = :left WHERE id = :id", {"left": left, "id": row.id}
            )

        results, sent = self.payments._move([back], record)
        if not sent.wrote and results[0] is not Result.EXISTS:
            self.payments._raise_for(results, [back])

    # --- coupons ---------------------------------------------------------------------------------

    def collect(self, consumer: Consumer, campaign_id: str) -> dict[str, Any]:
        with read(self.engine) as conn:
            row = conn.execute(select(m.campaigns).where(m.campaigns.c.id == campaign_id)).first()
        if row is None or not row.needs_coupon:
            raise not_found("coupon campaign", campaign_id)
        if row.state != "active":
            raise Problem("campaign-ended", 409, "this campaign is not running")
        with write(self.engine) as conn:
            exists = conn.execute(
                select(m.coupons.c.state).where(
                    m.coupons.c.campaign_id == campaign_id, m.coupons.c.consumer_id == consumer.id
                )
            ).first()
            if exists is None:
                conn.execute(
                    m.coupons.insert().values(
                        campaign_id=campaign_id,
                        consumer_id=consumer.id,
                        state="collected",
                        collected_at_us=now_us(),
                    )
                )
        return {
            "campaign_id": campaign_id,
            "name": row.name,
            "state": exists.state if exists else "collected",
        }

    def coupons_of(self, consumer: Consumer) -> list[dict[str, Any]]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(m.coupons.c.campaign_id, m.coupons.c.state, m.campaigns.c.name)
                .join(m.campaigns, m.campaigns.c.id == m.coupons.c.campaign_id)
                .where(m.coupons.c.consumer_id == consumer.id)
            ).all()
        return [{"campaign_id": r.campaign_id, "name": r.name, "state": r.state} for r in rows]

    # --- offers ----------------------------------------------------------------------------------

    def active(self) -> dict[str | None, list[Campaign]]:
        """Active campaigns by merchant (None: platform-wide), read again every second.

        When the list is merely due, previews go on with the last one while a background thread
        reads the new one (reading 1,000 campaigns takes tens of milliseconds: no preview waits
        for it). After a change made here — a campaign created, paused or ended, an offer
        refused — the next preview waits for the fresh list.
        """
        loaded_at, by_merchant = self._cache
        age = time.monotonic() - loaded_at
        if age < CACHE_TTL_S:
            return by_merchant
        if loaded_at and age < STALE_LIMIT_S:
            if self._refreshing.acquire(blocking=False):
                threading.Thread(
                    target=self._refresh_in_background, name="saoma-campaigns", daemon=True
                ).start()
            return by_merchant
        return self._load()

    def _refresh_in_background(self) -> None:
        try:
            self._load()
        except Exception:  # the next preview past STALE_LIMIT_S loads it itself, or says why
            log.exception("reading the active campaigns failed")
        finally:
            self._refreshing.release()

    def _load(self) -> dict[str | None, list[Campaign]]:
        """Each second: the active campaigns' ids, versions and totals (a narrow read); the full
        definition only of a campaign not seen before or changed since (its updated_at_us)."""
        c = m.campaigns
        with self._cache_lock:
            generation = self._generation
            budget = ledger_models.accounts
            left = budget.c.credits_posted - budget.c.debits_posted - budget.c.debits_pending
            with read(self.engine) as conn:
                rows = (
                    conn.execute(
                        select(c.c.id, c.c.updated_at_us, c.c.used_count, left.label("budget_left"))
                        .join(budget, budget.c.id == c.c.budget_account_id)
                        .where(c.c.state == "active")
                    )
                    .tuples()
                    .all()
                )
                known = self._definitions
                changed = [r[0] for r in rows if known.get(r[0], (None,))[0] != r[1]]
                for start in range(0, len(changed), 500):
                    for row in conn.execute(
                        select(c).where(c.c.id.in_(changed[start : start + 500]))
                    ):
                        known[row.id] = (row.updated_at_us, _campaign(row))
            fresh: dict[str | None, list[Campaign]] = {}
            definitions = {}
            used_counts = {}
            budgets_left = {}
            for campaign_id, version, used, budget_left in rows:
                definitions[campaign_id] = entry = known[campaign_id]
                used_counts[campaign_id] = used
                budgets_left[campaign_id] = budget_left
                if entry[0] == version and entry[1].state == "active":
                    fresh.setdefault(entry[1].merchant_id, []).append(entry[1])
            self._definitions = definitions
            if generation == self._generation:  # else a change came in meanwhile: read again
                # Totals as of the last second: a payment still checks them exactly.
                self._used_counts = used_counts
                self._budgets_left = budgets_left
                self._cache = (time.monotonic(), fresh)
        return fresh

    def _invalidate(self) -> None:
        """This process changed campaigns or found a budget spent: the next preview reads anew."""
        self._generation += 1
        self._cache = (0.0, self._cache[1])

    def context(
        self, consumer: Consumer, merchant_id: str, amount: int, candidates: list[Campaign]
    ) -> Context:
        """The payer's history that the candidates' rules ask about, in one round trip."""
        now = now_us()
        day = shenzhen_day(now)
        key = (
            any(c.per_consumer_per_day or c.per_consumer_total for c in candidates),
            any(c.needs_coupon for c in candidates),
            any(c.first_payment_only for c in candidates),
        )
        rows: list[Any] = []
        if any(key):
            with read(self.engine) as conn:
                rows = list(
                    conn.execute(
                        history_query(*key),
                        {"consumer": consumer.id, "day": day, "merchant": merchant_id},
                    )
                )
        return Context(
            consumer.id,
            merchant_id,
            amount,
            now,
            paid_here_before=any(r[0] == "paid" and r[3] for r in rows),
            uses_today={r[1]: r[3] for r in rows if r[0] == "use" and r[2] == day},
            uses_total={r[1]: r[3] for r in rows if r[0] == "use" and r[2] == "all"},
            coupons=frozenset(r[1] for r in rows if r[0] == "coupon"),
            count_used=self._used_counts,
        )

    def quote(
        self, consumer: Consumer, merchant_id: str, amount: int, subject: str
    ) -> dict[str, Any] | None:
        """The best offer for this payment, held for five minutes; None when nothing applies.

        The offer is a signed token, not a row: a preview writes nothing. Its id is recorded
        when a payment uses it, so it is used at most once.
        """
        active = self.active()
        now = now_us()
        probe = Context(consumer.id, merchant_id, amount, now, count_used=self._used_counts)
        # Rules that need no database first; the payer's own history only for what is left.
        candidates = [
            c
            for c in active.get(merchant_id, []) + active.get(None, [])
            if eligible(c, probe, history=False)
        ]
        if not candidates:
            return None
        context = self.context(consumer, merchant_id, amount, candidates)
        while True:
            offer = best_offer(candidates, context, prefiltered=True)
            if offer is None:
                return None
            # A budget already spent offers nothing (the ledger would refuse the subsidy anyway,
            # and the payer would be asked again and again). As of the last second, like the
            # counts: the ledger still has the last word at payment.
            if self._budgets_left.get(offer.campaign_id, 0) >= offer.discount:
                break
            candidates = [c for c in candidates if c.id != offer.campaign_id]
        expires = now + OFFER_TTL_US
        claims = {
            "n": secrets.token_hex(8),
            "c": offer.campaign_id,
            "u": consumer.id,
            "m": merchant_id,
            "s": subject,
            "a": amount,
            "d": offer.discount,
            "e": expires,
        }
        return {
            "offer_id": self._sign(claims),
            "campaign_id": offer.campaign_id,
            "reason": offer.reason(),
            "discount": offer.discount,
            "pay_amount": amount - offer.discount,
            "expires_at": rfc3339(expires),
        }

    def _key(self) -> bytes:
        """The offer-signing key, made once per database and shared by all its processes."""
        if self._secret is not None:
            return self._secret
        name = "offer-signing-key"
        with self._cache_lock:
            for _ in range(2):
                with read(self.engine) as conn:
                    found = conn.execute(
                        select(m.platform_secrets.c.value).where(m.platform_secrets.c.name == name)
                    ).scalar()
                if found is not None:
                    self._secret = bytes.fromhex(found)
                    return self._secret
                try:
                    with write(self.engine) as conn:
                        conn.execute(
                            m.platform_secrets.insert().values(
                                name=name, value=secrets.token_hex(32)
                            )
                        )
                except IntegrityError:  # another process made it first: read theirs
                    continue
        return self._key()

    def _sign(self, claims: dict[str, Any]) -> str:
        raw = json.dumps(claims, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        mac = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()[:16]
        return body + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _unsign(self, token: str) -> dict[str, Any] | None:
        body, _, mac = token.partition(".")
        if not body or not mac or len(token) > 600:
            return None
        expected = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()[:16]
        try:
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
            if not hmac.compare_digest(expected, given):
                return None
            claims: dict[str, Any] = json.loads(
                base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            )
        except ValueError:
            return None
        return claims

    def take(
        self, consumer: Consumer, offer_id: str, merchant_id: str, amount: int, subject: str
    ) -> Any:
        """The quoted offer a payment uses, if it still matches this payment."""
        claims = self._unsign(offer_id)
        if (
            claims is None
            or claims.get("u") != consumer.id
            or claims.get("m") != merchant_id
            or claims.get("s") != subject
            or claims.get("a") != amount
        ):
            raise invalid("offer_id", "this offer is not for this payment")
        if claims["e"] <= now_us():
            raise self.unavailable()
        with read(self.engine) as conn:
            row = conn.execute(
                select(
                    m.campaigns.c.budget_account_id,
                    m.campaigns.c.needs_coupon,
                    m.campaigns.c.per_consumer_per_day,
                    m.campaigns.c.per_consumer_total,
                ).where(m.campaigns.c.id == claims["c"])
            ).one()
        return TakenOffer(
            id=claims["n"],
            campaign_id=claims["c"],
            discount=claims["d"],
            budget_account_id=row.budget_account_id,
            needs_coupon=bool(row.needs_coupon),
            per_consumer_per_day=row.per_consumer_per_day,
            per_consumer_total=row.per_consumer_total,
            expires_at_us=claims["e"],
            merchant_id=merchant_id,
            subject=subject,
            amount=amount,
        )

    def unavailable(self) -> Problem:
        """The refusal when an offer cannot be honoured; the next quote reads fresh totals."""
        self._invalidate()
        return Problem(
            "offer-unavailable",
            409,
            "the discount is no longer available: review the new price and confirm again",
            field="offer_id",
        )

    def subsidy_transfer(
        self, offer: Any, transfer_id: str, merchant_account: int, ref: str
    ) -> Transfer:
        return Transfer(
            "sub" + transfer_id[3:],
            offer.budget_account_id,
            merchant_account,
            offer.discount,
            TransferCode.SUBSIDY,
            ref=ref,
        )

    def record_use(self, tx: Tx, offer: Any, consumer: Consumer, now: int) -> None:
        """In the payment's transaction: every count and state checked, or the payment aborts."""
        used = tx.execute(
            "INSERT INTO offers (id, campaign_id, consumer_id, merchant_id, subject, amount,"
            " discount, state, expires_at_us) VALUES (:id, :cid, :consumer, :merchant, :subject,"
            " :amount, :discount, 'used', :expires) ON CONFLICT (id) DO NOTHING",
            {
                "id": offer.id,
                "cid": offer.campaign_id,
                "consumer": consumer.id,
                "merchant": offer.merchant_id,
                "subject": offer.subject,
                "amount": offer.amount,
                "discount": offer.discount,
                "expires": offer.expires_at_us,
            },
        )
        if offer.expires_at_us <= now:
            raise self.unavailable()
        counted = tx.execute(
            "UPDATE campaigns SET used_count = used_count + 1, used_amount = used_amount + :off"
            " WHERE id = :id AND state = 'active'"
            " AND (total_count = 0 OR used_count < total_count)",
            {"off": offer.discount, "id": offer.campaign_id},
        )
        if used.rowcount != 1 or counted.rowcount != 1:
            raise self.unavailable()
        # This process's next previews see the use at once; other processes within a second or
        # two, when they read the totals again.
        self._budgets_left[offer.campaign_id] = (
            self._budgets_left.get(offer.campaign_id, 0) - offer.discount
        )
        self._used_counts[offer.campaign_id] = self._used_counts.get(offer.campaign_id, 0) + 1
        for period, limit in (
            (shenzhen_day(now), offer.per_consumer_per_day),
            ("all", offer.per_consumer_total),
        ):
            upsert = tx.execute(
                "INSERT INTO campaign_usage (campaign_id, consumer_id, period, count)"
                " VALUES (:cid, :consumer, :period, 1)"
                " ON CONFLICT (consumer_id, campaign_id, period) DO UPDATE"
                " SET count = campaign_usage.count + 1 WHERE campaign_usage.count < :limit",
                {
                    "cid": offer.campaign_id,
                    "consumer": consumer.id,
                    "period": period,
                    "limit": limit or UNLIMITED,
                },
            )
            if upsert.rowcount != 1:
                raise self.unavailable()
        if offer.needs_coupon:
            spent = tx.execute(
                "UPDATE coupons SET state = 'used' WHERE campaign_id = :cid"
                " AND consumer_id = :consumer AND state = 'collected'",
                {"cid": offer.campaign_id, "consumer": consumer.id},
            )
            if spent.rowcount != 1:
                raise self.unavailable()


HISTORY_PARTS = (
    # The payer's own rows: a few, where an IN list of the candidates could be 1,000 ids.
    "SELECT 'use' AS what, campaign_id, period, count AS n FROM campaign_usage"
    " WHERE consumer_id = :consumer AND period IN (:day, 'all')",
    "SELECT 'coupon', campaign_id, '', 0 FROM coupons"
    " WHERE consumer_id = :consumer AND state = 'collected'",
    "SELECT 'paid', '', '', COUNT(*) FROM (SELECT id FROM payments"
    " WHERE consumer_id = :consumer AND merchant_id = :merchant LIMIT 1) AS paid_here",
)


@lru_cache(maxsize=8)
def history_query(uses: bool, coupons: bool, paid: bool) -> TextClause:
    """One round trip for what the rules ask of the payer's past; built once per shape."""
    parts = [
        sql for sql, wanted in zip(HISTORY_PARTS, (uses, coupons, paid), strict=True) if wanted
    ]
    return text(" UNION ALL ".join(parts))


def _campaign_id_of(claim: Claim) -> str:
    digest = hashlib.blake2b(f"{claim.scope}\x1f{claim.key}".encode(), digest_size=10).digest()
    return f"cmp_{base64.b32encode(digest).decode().lower()}"
