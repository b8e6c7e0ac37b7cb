"""How often a consumer may look up who gets money sent to a phone, e-mail or wallet id.

A lookup tells whether a phone or e-mail has a wallet, so it is counted: ``LOOKUPS_MAX`` per
consumer in ``LOOKUP_WINDOW_US``, each claimed with one conditional upsert (saoma.windows) before
anything is looked up, so concurrent lookups never pass the limit. A merchant's mandate requests,
which tell the same, are counted the same way, per merchant (saoma.mandates).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from saoma.core.errors import TooManyLookups
from saoma.core.ids import now_us
from saoma.db import write
from saoma.p2p import tables as m
from saoma.windows import claim_or_wait, too_many

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
        with write(self.engine) as conn:
            wait_s = claim_or_wait(
                conn,
                m.lookup_limits,
                key_column="consumer_id",
                count_column="lookups",
                key=consumer_id,
                limit=self.most,
                window_us=self.window_us,
                now=now_us(),
            )
        if wait_s:
            raise too_many(TooManyLookups, f"{self.what} per", self.most, self.window_us, wait_s)
