"""Reading work from a standby (``SAOMA_DATABASE_REPLICA_URL``): merchants' summaries and
statements and the operators' search say where they were read and how old their figures may
be; a standby that cannot be reached is passed over for the primary, and money is never
decided there. Over real server processes on PostgreSQL (a standby follows a PostgreSQL
primary). Reading from the standby of a real failover group: tests/chaos/test_failover.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import event, text

from observability.scrape import TIMEOUT_S, scrape, value
from saoma.db import make_engine
from saoma.replicas import CURRENT, Replicas
from support import PIN, Server, _database, free_port, new_consumer, new_merchant, start_server
from support_dashboard import dashboard
from support_ops import operator_at

pytestmark = pytest.mark.postgres
SHENZHEN = ZoneInfo("Asia/Shanghai")


def _serve(tmp: Path, replica: str) -> Iterator[Server]:
    for database_url in _database("postgres", tmp):
        srv = start_server(database_url, tmp, SAOMA_DATABASE_REPLICA_URL=replica or database_url)
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose "standby" is its primary itself: a connection that reads current data."""
    yield from _serve(tmp_path_factory.mktemp("mirrored"), "")


@pytest.fixture(scope="module")
def stranded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose standby is nowhere: nothing listens on its port."""
    yield from _serve(
        tmp_path_factory.mktemp("stranded"), f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    )


def _statement(server: Server, token: str) -> httpx.Response:
    day = datetime.now(SHENZHEN).date().isoformat()
    return httpx.get(
        f"{server.url}/v1/merchant/statement.csv",
        params={"from": day, "to": day},
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_S,
    )


def test_reports_and_search_say_they_were_read_from_the_standby(mirrored: Server) -> None:
    shop = new_merchant(mirrored, name="Replica Noodles")
    payer = new_consumer(mirrored, balance=5_000)
    payer.client.pay_static(shop.id, 1_250, PIN)

    summary = shop.client.summary(days=1)
    assert summary["today"]["gross"] == 1_250
    assert (summary["read_from"], summary["data_age_s"]) == ("replica", 0.0)
    statement = _statement(mirrored, shop.token)
    assert statement.status_code == 200 and "12.50" in statement.text
    assert statement.headers["Saoma-Read-From"] == "replica"
    assert statement.headers["Saoma-Data-Age"] == "0.0"

    finder = operator_at(mirrored.database_url, "support")
    found = httpx.get(
        mirrored.url + "/v1/ops/search",
        params={"q": "Replica Noodles"},
        headers=finder.headers(),
        timeout=TIMEOUT_S,
    ).json()
    assert [r["id"] for r in found["results"]] == [shop.id]
    assert found["read_from"] == "replica"
    samples = scrape(mirrored.url)
    assert value(samples, "saoma_replica_reads_total", source="replica", reason="") >= 3


def test_the_dashboard_says_its_figures_come_from_a_standby(
    mirrored: Server, browser: object
) -> None:
    shop = new_merchant(mirrored, name="Standby Tea")
    new_consumer(mirrored, balance=5_000).client.pay_static(shop.id, 800, PIN)
    context, page = dashboard(browser, mirrored.url, shop)
    try:
        expect(page.locator("#d-age")).to_be_visible()
        expect(page.locator("#d-age")).to_contain_text("standby")
        expect(page.locator("#d-age")).to_contain_text("0 s")
    finally:
        context.close()


def test_a_standby_that_cannot_be_reached_is_passed_over_for_the_primary(
    stranded: Server,
) -> None:
    shop = new_merchant(stranded, name="Stranded Dumplings")
    payer = new_consumer(stranded, balance=5_000)
    paid = payer.client.pay_static(shop.id, 700, PIN)  # money is decided on the primary

    summary = shop.client.summary(days=1)
    assert summary["today"]["gross"] == 700
    assert (summary["read_from"], summary["data_age_s"]) == ("primary", 0.0)
    statement = _statement(stranded, shop.token)
    assert paid["id"] in statement.text
    assert statement.headers["Saoma-Read-From"] == "primary"
    samples = scrape(stranded.url)
    passed_over = value(
        samples, "saoma_replica_reads_total", source="primary", reason="standby unavailable"
    )
    assert passed_over >= 2
    assert value(samples, "saoma_replica_reads_total", source="replica", reason="") == 0


def test_a_standby_for_the_embedded_database_is_refused_at_start(tmp_path: Path) -> None:
    """A standby follows a PostgreSQL primary: with SQLite the server will not start."""
    env = {
        "SAOMA_DATABASE_URL": f"sqlite:///{tmp_path / 'saoma.db'}",
        "SAOMA_DATABASE_REPLICA_URL": "postgresql://postgres@127.0.0.1:5432/test",
    }
    run = subprocess.run(
        [sys.executable, "-m", "saoma.cli", "serve", "--port", str(free_port())],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "SAOMA_DATABASE_REPLICA_URL needs a PostgreSQL SAOMA_DATABASE_URL" in run.stderr


def test_an_unreachable_standby_is_tried_once_then_left_alone_for_a_while(
    postgres_database: str,
) -> None:
    """A standby machine gone costs one connection attempt, not one per reading."""
    primary = make_engine(postgres_database)
    standby = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    attempts: list[int] = []
    event.listen(standby, "do_connect", lambda *_args: attempts.append(1))
    replicas = Replicas(primary, standby, lag_max_s=30.0)
    try:
        for _ in range(3):
            with replicas.reading() as (conn, freshness):
                assert conn.execute(text("SELECT 1")).scalar() == 1
                assert freshness == CURRENT
        assert len(attempts) == 1
        replicas.unreachable_until = 0.0  # the wait is over: the standby is tried again
        with replicas.reading() as (_conn, freshness):
            assert freshness == CURRENT
        assert len(attempts) == 2
    finally:
        primary.dispose()
        standby.dispose()
