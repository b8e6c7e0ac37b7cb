"""/readyz says whether a server can serve (its database answers, at the schema this code
expects); /metrics asks for the token when one is set, and adds up several processes' metrics
in multiprocess mode. Over a real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command

from observability.scrape import TIMEOUT_S, scrape, value
from saoma.db import alembic_config
from support import Server, _database, start_server

TOKEN = "scrape-token-7f3a"
OLDER = "0015_lookup_limits"


@pytest.fixture(params=["sqlite", "postgres"])
def guarded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server with a metrics token, its metrics kept in files as by several processes."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    for database_url in _database(request.param, tmp_path):
        srv = start_server(
            database_url, tmp_path, SAOMA_METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(folder)
        )
        try:
            yield srv
        finally:
            srv.stop()


def test_readyz_names_the_revision_of_a_database_not_migrated(guarded: Server) -> None:
    assert httpx.get(guarded.url + "/readyz", timeout=TIMEOUT_S).status_code == 200
    config = alembic_config(guarded.database_url)
    command.downgrade(config, OLDER)
    try:
        answer = httpx.get(guarded.url + "/readyz", timeout=TIMEOUT_S)
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"].endswith("/not-ready") and problem["revision"] == OLDER
        assert OLDER in problem["detail"] and problem["expected"] in problem["detail"]
        assert (
            httpx.get(guarded.url + "/healthz", timeout=TIMEOUT_S).status_code == 200
        )  # alive all the same
    finally:
        command.upgrade(config, "head")
    assert httpx.get(guarded.url + "/readyz", timeout=TIMEOUT_S).status_code == 200


def test_metrics_ask_for_the_token_and_add_up_the_processes_files(guarded: Server) -> None:
    for wrong in ({}, {"authorization": "Bearer nope"}, {"authorization": TOKEN}):
        refused = httpx.get(guarded.url + "/metrics", headers=wrong, timeout=TIMEOUT_S)
        assert refused.status_code == 401 and refused.json()["type"].endswith("/unauthenticated")
    for _ in range(3):
        httpx.get(guarded.url + "/readyz", timeout=TIMEOUT_S)
    samples = scrape(guarded.url, authorization=f"Bearer {TOKEN}")
    count = "saoma_http_request_duration_seconds_count"
    assert value(samples, count, route="/readyz", method="GET", status="2xx") == 3
    assert value(samples, count, route="unmatched", method="GET", status="4xx") == 0
    httpx.get(guarded.url + "/no/such/path/42", timeout=TIMEOUT_S)
    samples = scrape(guarded.url, authorization=f"Bearer {TOKEN}")
    assert value(samples, count, route="unmatched", method="GET", status="4xx") == 1
    assert list(Path(guarded.env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))
