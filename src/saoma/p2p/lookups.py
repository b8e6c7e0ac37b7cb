"""How often a consumer may look up who gets money sent to a phone, e-mail or wallet id.

A lookup tells whether a phone or e-mail has a wallet, so it is counted: ``LOOKUPS_MAX`` per
consumer in ``LOOKUP_WINDOW_US``, each claimed with one conditional upsert (saoma.windows) before
anything is looked up, so concurrent lookups never pass the limit. A merchant's mandate requests,
which tell the same, are counted the same way, per merchant (saoma.mandates).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from saoma.core.errors import TooManyLookups
from saoma.core.ids import now_us
from saoma.db import write
from saoma.p2p import tables as m
from saoma.windows import claim_params, claim_statement

LOOKUPS_MAX = 30
LOOKUP_WINDOW_US = 10 * 60 * 1_000_000


class LookupLimit:
    def __init__(
        self,
        engine: Engine,
        *,
        most: int = LOOKUPS_MAX,
        window_us: int = LOOKUP_WINDOW_US,
        what: str = "recipient lookups",
    ) -> None:
        self.engine = engine
        self.most = most
        self.window_us = window_us
        self.what = what

    def take(self, consumer_id: str) -> None:
        """Count one lookup for ``consumer_id`` (or a merchant's id: the ids never meet), or
        refuse it (429) once the window's are used."""
        table = m.lookup_limits
        now = now_us()
        with write(self.engine) as conn:
            counted = conn.execute(
                claim_statement(
                    self.engine, table, key_column="consumer_id", count_column="lookups"
                ),
                claim_params(consumer_id, self.most, self.window_us, now),
            ).first()
            if counted is not None:
                return
            start = conn.execute(
                select(table.c.window_start_us).where(table.c.consumer_id == consumer_id)
            ).scalar()
        wait_s = max(1, ((start or now) + self.window_us - now + 999_999) // 1_000_000)
        minutes = max(1, self.window_us // 60_000_000)
        raise TooManyLookups(
            f"{self.most} {self.what} per {minutes} minutes: try again in {wait_s} s",
            limit=self.most,
            window_s=self.window_us // 1_000_000,
            retry_after_s=wait_s,
        )
