"""The bank workload in short: money is conserved and nothing is lost or doubled through crashes,
also the money paid out to merchants by settlement runs and instant payouts.

Two servers over PostgreSQL (SIGKILLs, every connection of the database dropped now and then,
the database refusing connections for a few seconds, clients giving up after 50 ms) and one over
SQLite (SIGKILLs, short timeouts). A full PostgreSQL restart joins in with
SAOMA_CHAOS_PG_RESTART=1 (CI sets it where it runs as root beside pg_ctlcluster); the PostgreSQL
run then comes after every other test of the session, whose connections the restart would cut.
SAOMA_CHAOS_SEED repeats a run's choices. The long form:
``python tests/chaos/bank.py --help``.
"""

from __future__ import annotations

import os
from pathlib import Path

import bank
import pytest

# Runs after the other tests, on its own (Makefile): its time budgets (a settle-down, a
# failover within seconds, a crash's recovery) assume a machine no other test worker shares.
pytestmark = pytest.mark.alone


@pytest.mark.slow
@pytest.mark.parametrize(
    "db",
    [
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.restarts_postgres]),
    ],
)
def test_money_survives_crashes(db: str, tmp_path: Path) -> None:
    settings = bank.ci_settings(db, tmp_path)
    try:
        summary = bank.run(settings)
    except bank.Unavailable as exc:
        if os.environ.get("SAOMA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required: {exc}")
        pytest.skip(str(exc))
    print(summary.render())
    assert summary.violations == [], summary.render()
    # The run did what it is for: money moved, faults hit it, and requests were retried.
    assert summary.acknowledged >= 100, summary.render()
    assert summary.faults["server SIGKILLs"] >= 1, summary.render()
    assert summary.faults["client timeouts"] >= 1, summary.render()
    assert sum(summary.resolved.values()) >= 1, summary.render()
    # Money went out too: settlement runs (one SIGKILLed if it lasted long enough), instant
    # payouts asked for through servers being killed, and the merchants' banks paid.
    assert summary.settlement["settlement runs"] >= 2, summary.render()
    assert summary.settlement["instant payouts asked"] >= 1, summary.render()
    assert summary.settlement["payouts paid"] >= 1, summary.render()
    assert summary.settlement["movements settled"] >= 100, summary.render()
    if db == "postgres":
        assert summary.faults["PostgreSQL connection drops"] >= 1, summary.render()
        assert summary.faults["PostgreSQL restarts"] == settings.pg_restarts, summary.render()
