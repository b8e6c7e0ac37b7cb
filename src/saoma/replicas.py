"""Reading work from a standby: merchants' reports and statements, the operators' search.

``SAOMA_DATABASE_REPLICA_URL`` names a PostgreSQL standby (or a multi-host URL with
``target_session_attrs=prefer-standby``, which finds the standby of a failover group wherever it
is now). Nothing that decides money reads there: balances, limits, holds, PINs and every write
stay on the primary. A reading says where it came from and how old its figures may be, so the
page can say it too.

How old: a standby that streams and has replayed all it received is current (0 s); one that is
behind, or has lost its primary, is as old as the last transaction it replayed. A standby further
behind than ``SAOMA_REPLICA_LAG_MAX_S``, or one that cannot be reached, is passed over: the
primary answers instead (counted in ``saoma_replica_reads``). One that could not be reached is
tried again only after ``RETRY_UNREACHABLE_S``, so a lost machine costs a reading its connect
timeout once, not every time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from saoma.db import database_unavailable, read
from saoma.observe.metrics import replica_read

log = logging.getLogger(__name__)
RETRY_UNREACHABLE_S = 10.0  # a standby that could not be reached is tried again after this

# Seconds behind: 0 on a primary (or a promoted standby) and on a standby that streams and has
# replayed everything it received; else the age of the last transaction it replayed (NULL if it
# has replayed none since it started).
_AGE = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0.0"
    " WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')"
    " AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0"
    " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END"
)


@dataclass(frozen=True)
class Freshness:
    """Where a reading came from (``primary`` or ``replica``) and how many seconds behind the
    primary its figures may be."""

    source: str
    age_s: float

    def view(self) -> dict[str, object]:
        return {"read_from": self.source, "data_age_s": round(self.age_s, 1)}


CURRENT = Freshness("primary", 0.0)


class Replicas:
    """Connections for reading work: the standby's when one is set, current enough and
    reachable; else the primary's."""

    def __init__(self, primary: Engine, standby: Engine | None, *, lag_max_s: float) -> None:
        self.primary = primary
        self.standby = standby
        self.lag_max_s = lag_max_s
        self.unreachable_until = 0.0  # monotonic: the standby is not tried again before it

    @contextmanager
    def reading(self) -> Iterator[tuple[Connection, Freshness]]:
        """A connection (autocommit, as :func:`saoma.db.read`) and how fresh its reads are."""
        found = self._standby()
        if found is None:
            with read(self.primary) as primary:
                yield primary, CURRENT
            return
        standby, freshness = found
        try:
            yield standby, freshness
        finally:
            standby.close()

    def _standby(self) -> tuple[Connection, Freshness] | None:
        """An open connection to the standby and its freshness, or None: read the primary."""
        if self.standby is None:
            return None
        if time.monotonic() < self.unreachable_until:
            replica_read("primary", "standby unavailable")
            return None
        conn = None
        try:
            conn = read(self.standby)
            age = conn.execute(_AGE).scalar()
        except DBAPIError as exc:
            if conn is not None:
                conn.close()
            if not database_unavailable(exc):
                raise
            log.warning("the standby cannot be reached; reading from the primary: %s", exc.orig)
            self.unreachable_until = time.monotonic() + RETRY_UNREACHABLE_S
            replica_read("primary", "standby unavailable")
            return None
        if age is None or age > self.lag_max_s:
            conn.close()
            replica_read("primary", "standby behind")
            return None
        replica_read("replica", "")
        return conn, Freshness("replica", float(age))
