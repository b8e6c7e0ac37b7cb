"""``GET /v1/sandbox/bank-statement``: the sandbox bank's statement over HTTP, only in a sandbox.

The statement fetched over HTTP is the one reconciliation reads: a day of top-ups through the
API has no break, and the breaks asked for are found.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from saoma.client import ConsumerClient
from saoma.db import make_engine
from saoma.settlement import reconcile as recon
from support import PASSWORD, Server, _database, start_server, wait_for


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    """A server in sandbox mode and one that is not, over the same database."""
    tmp = tmp_path_factory.mktemp(f"statement-{request.param}")
    for database_url in _database(request.param, tmp):
        sandbox = start_server(database_url, tmp, "sandbox", SAOMA_SANDBOX_MESSAGES_VISIBLE="1")
        plain = start_server(database_url, tmp, "plain")
        try:
            yield sandbox, plain
        finally:
            sandbox.stop()
            plain.stop()


def test_the_statement_over_http_reconciles_and_shows_the_breaks_asked_for(
    servers: tuple[Server, Server],
) -> None:
    sandbox, _ = servers
    payer = ConsumerClient(sandbox.url)
    body = payer.request("POST", "/v1/consumers", {"login": "+8613900001111", "password": PASSWORD})
    payer.token = body["token"]
    payer.request("POST", "/v1/me/top-ups", {"amount": 25_000})
    wait_for(lambda: payer.request("GET", "/v1/me")["balance"] == 25_000, what="a top-up")
    payer.request("POST", "/v1/me/top-ups", {"amount": 10_000})
    wait_for(lambda: payer.request("GET", "/v1/me")["balance"] == 35_000, what="another")

    clean = httpx.get(sandbox.url + "/v1/sandbox/bank-statement")
    assert clean.status_code == 200 and clean.headers["content-type"] == "application/xml"
    engine = make_engine(sandbox.database_url)
    try:
        assert recon.reconcile(engine, clean.content).breaks == []
        broken = httpx.get(
            sandbox.url + "/v1/sandbox/bank-statement",
            params={
                "date": recon.parse_statement(clean.content).day.isoformat(),
                "faults": "amount,duplicate",
            },
        )
        assert broken.status_code == 200
        found = recon.reconcile(engine, broken.content).breaks
    finally:
        engine.dispose()
    assert {(b["kind"], b["expected"], b["reported"]) for b in found} == {
        ("amount", 25_000, 25_001),
        ("duplicate", 10_000, 10_000),
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date": "2026-13-01"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"date": "0001-01-01"}, "date"),
        ({"faults": "missing,lost"}, "faults"),
        ({"faults": "missing"}, "faults"),  # a day with no line: nothing to drop
    ],
)
def test_a_wrong_parameter_is_a_problem_naming_it(
    servers: tuple[Server, Server], params: dict[str, str], field: str
) -> None:
    sandbox, _ = servers
    params = {"date": "2001-01-01", **params}
    answer = httpx.get(sandbox.url + "/v1/sandbox/bank-statement", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field


def test_outside_a_sandbox_there_is_no_statement(servers: tuple[Server, Server]) -> None:
    _, plain = servers
    answer = httpx.get(plain.url + "/v1/sandbox/bank-statement")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
