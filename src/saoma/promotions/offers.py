"""Offers: the best discount quoted at preview as a signed token, verified when a payment uses it.

A preview writes nothing: the offer is a token signed with a key shared by every process on the
database. Its id is recorded only when a payment uses it, so it is used at most once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import InvalidRequest
from saoma.core.ids import now_us, rfc3339
from saoma.db import read, write
from saoma.promotions import tables as m
from saoma.promotions.catalogue import Catalogue
from saoma.promotions.rules import Campaign, Context, Offer, best_offer, eligible
from saoma.promotions.usage import TakenOffer, Usage, shenzhen_day
from saoma.wallets.service import Consumer

OFFER_TTL_US = 5 * 60 * 1_000_000  # a quoted price holds for five minutes
OFFER_TOKEN_CHARS_MAX = 600
SIGNING_KEY_NAME = "offer-signing-key"

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


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


class Offers:
    def __init__(self, engine: Engine, catalogue: Catalogue, usage: Usage) -> None:
        self.engine = engine
        self.catalogue = catalogue
        self.usage = usage
        self._secret: bytes | None = None
        self._secret_lock = threading.Lock()

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
            count_used=self.catalogue.used_counts,
        )

    def best(self, consumer: Consumer, merchant_id: str, amount: int) -> Offer | None:
        """The best offer the active campaigns make for this payment, if any."""
        active = self.catalogue.active()
        probe = Context(
            consumer.id, merchant_id, amount, now_us(), count_used=self.catalogue.used_counts
        )
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
            if self.catalogue.budgets_left.get(offer.campaign_id, 0) >= offer.discount:
                return offer
            candidates = [c for c in candidates if c.id != offer.campaign_id]

    def quote(
        self, consumer: Consumer, merchant_id: str, amount: int, subject: str
    ) -> dict[str, Any] | None:
        """The best offer for this payment, held for five minutes; None when nothing applies."""
        offer = self.best(consumer, merchant_id, amount)
        if offer is None:
            return None
        expires = now_us() + OFFER_TTL_US
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
            "coupon": offer.coupon,
            "discount": offer.discount,
            "pay_amount": amount - offer.discount,
            "expires_at": rfc3339(expires),
        }

    def take(
        self, consumer: Consumer, offer_id: str, merchant_id: str, amount: int, subject: str
    ) -> TakenOffer:
        """The quoted offer a payment uses, if it still matches this payment."""
        claims = self._unsign(offer_id)
        if (
            claims is None
            or claims.get("u") != consumer.id
            or claims.get("m") != merchant_id
            or claims.get("s") != subject
            or claims.get("a") != amount
        ):
            raise InvalidRequest("this offer is not for this payment", field="offer_id")
        if claims["e"] <= now_us():
            raise self.usage.unavailable()
        c = m.campaigns.c
        with read(self.engine) as conn:
            row = conn.execute(
                select(
                    c.budget_account_id,
                    c.needs_coupon,
                    c.per_consumer_per_day,
                    c.per_consumer_total,
                ).where(c.id == claims["c"])
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

    # --- the signing key -------------------------------------------------------------------------

    def _key(self) -> bytes:
        """The offer-signing key, made once per database and shared by all its processes."""
        if self._secret is not None:
            return self._secret
        with self._secret_lock:
            for _ in range(2):
                with read(self.engine) as conn:
                    found = conn.execute(
                        select(m.platform_secrets.c.value).where(
                            m.platform_secrets.c.name == SIGNING_KEY_NAME
                        )
                    ).scalar()
                if found is not None:
                    self._secret = bytes.fromhex(found)
                    return self._secret
                try:
                    with write(self.engine) as conn:
                        conn.execute(
                            m.platform_secrets.insert().values(
                                name=SIGNING_KEY_NAME, value=secrets.token_hex(32)
                            )
                        )
                except IntegrityError:  # another process made it first: read theirs
                    continue
        return self._key()

    def _sign(self, claims: dict[str, Any]) -> str:
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()[:16]
        return body + "." + _b64(mac)

    def _unsign(self, token: str) -> dict[str, Any] | None:
        body, _, mac = token.partition(".")
        if not body or not mac or len(token) > OFFER_TOKEN_CHARS_MAX:
            return None
        expected = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()[:16]
        try:
            if not hmac.compare_digest(expected, _unb64(mac)):
                return None
            claims: dict[str, Any] = json.loads(_unb64(body))
        except ValueError:
            return None
        return claims
