"""This process's list of active campaigns, with their totals as of the last second.

Previews read it instead of the database: with 1,000 campaigns running, reading them for each
preview would cost more than the payment. A payment still checks every total exactly, in its own
transaction; the list only decides what is offered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.db import read
from saoma.ledger import tables as ledger_models
from saoma.promotions import tables as m
from saoma.promotions.rules import Campaign, Kind

log = logging.getLogger(__name__)

CACHE_TTL_S = 1.0
STALE_LIMIT_S = 5.0  # past this a preview waits for the list rather than use an old one
READ_CHUNK = 500  # campaign definitions read per statement


def campaign_of(row: Any) -> Campaign:
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


class Catalogue:
    """Active campaigns by merchant, and their uses and budgets left, read again every second."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: tuple[float, dict[str | None, list[Campaign]]] = (0.0, {})
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # held while a background thread reads the list
        self._generation = 0  # bumped by every change made here
        self._definitions: dict[str, tuple[int, Campaign]] = {}  # id → (updated_at_us, campaign)
        self.used_counts: dict[str, int] = {}
        self.budgets_left: dict[str, int] = {}

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
        return self.load()

    def _refresh_in_background(self) -> None:
        try:
            self.load()
        except Exception:  # the next preview past STALE_LIMIT_S loads it itself, or says why
            log.exception("reading the active campaigns failed")
        finally:
            self._refreshing.release()

    def _read_totals(self) -> Sequence[tuple[str, int, int, int]]:
        """Each active campaign's id, version, uses and budget left (a narrow read); the full
        definition only of a campaign not seen before or changed since (its updated_at_us)."""
        c = m.campaigns
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
            for start in range(0, len(changed), READ_CHUNK):
                chunk = changed[start : start + READ_CHUNK]
                for row in conn.execute(select(c).where(c.c.id.in_(chunk))):
                    known[row.id] = (row.updated_at_us, campaign_of(row))
        return rows

    def load(self) -> dict[str | None, list[Campaign]]:
        """Read the list and the totals now."""
        with self._lock:
            generation = self._generation
            rows = self._read_totals()
            known = self._definitions
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
                self.used_counts = used_counts
                self.budgets_left = budgets_left
                self._cache = (time.monotonic(), fresh)
        return fresh

    def invalidate(self) -> None:
        """This process changed campaigns or found a budget spent: the next preview reads anew.

        Harmless to repeat, so a refusal inside a transaction the ledger retries may call it.
        """
        self._generation += 1
        self._cache = (0.0, self._cache[1])

    def note_use(self, campaign_id: str, discount: int) -> None:
        """A committed use: this process's next previews see it at once; other processes within
        a second or two, when they read the totals again. Call it once per committed use."""
        self.budgets_left[campaign_id] = self.budgets_left.get(campaign_id, 0) - discount
        self.used_counts[campaign_id] = self.used_counts.get(campaign_id, 0) + 1
