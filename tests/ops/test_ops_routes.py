"""Every ``/v1/ops/`` route: operators only, the roles its permission names, the reason typed;
a person's page is logged before it is read, and the person sees the entry."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import text

from ops.conftest import People
from saoma.api.app import create_app
from saoma.bootstrap import Platform
from saoma.operators.roles import ROLES, may
from support import PASSWORD
from support_ops import signed_in_operator

REASON = "Ticket 4521: 付款未到"


def ops_routes(platform: Platform) -> list[tuple[str, str, APIRoute]]:
    app = create_app(platform, start=False)
    return [
        (method, route.path, route)
        for route in (context.original_route for context in iter_route_contexts(app.routes))
        if isinstance(route, APIRoute) and route.path.startswith("/v1/ops/")
        for method in sorted(route.methods or ())
    ]


def gate(route: APIRoute) -> Any:
    """The ``ops_deps.allowed`` dependency of the route, or None (any operator)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if hasattr(dependency.call, "permission"):
            return dependency.call
        pending += dependency.dependencies
    return None


def concrete(path: str, people: People) -> str:
    path = path.replace("{consumer_id}", people.consumer_id)
    path = path.replace("{merchant_id}", people.merchant_id)
    return re.sub(r"\{[a-z_]+\}", "x_1", path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    query = "?q=Wang" if path.endswith("/search") else ""
    body = {} if method in {"POST", "PUT"} else None
    return client.request(method, path + query, headers=headers, json=body).status_code


def test_consumer_and_merchant_credentials_open_no_ops_route(
    platform: Platform, client: TestClient, people: People
) -> None:
    routes = ops_routes(platform)
    assert len(routes) >= 6
    for method, path, _ in routes:
        url = concrete(path, people)
        if (method, path) == ("POST", "/v1/ops/sessions"):  # a consumer's login is no operator's
            body = {"login": people.consumer_login, "password": PASSWORD, "code": "000000"}
            assert client.post(url, json=body).status_code == 401
            continue
        for headers in (
            {"Authorization": f"Bearer {people.consumer_token}"},
            {"Authorization": f"Bearer {people.merchant_token}"},
            {"Cookie": f"saoma_session={people.consumer_token}"},
            {"Cookie": f"saoma_merchant={people.merchant_token}"},
            {"Cookie": f"saoma_ops={people.consumer_token}"},
        ):
            headers["Saoma-Reason"] = "Ticket 1"
            assert call(client, method, url, headers) == 401, (method, path, headers)


def test_each_role_gets_through_exactly_where_its_permission_allows(
    platform: Platform, client: TestClient, people: People
) -> None:
    operators = {role: signed_in_operator(platform.engine, role) for role in ROLES}
    checked = 0
    for method, path, route in ops_routes(platform):
        if path.startswith("/v1/ops/sessions"):  # signing in and out: any operator
            continue
        needed = gate(route)
        for role, operator in operators.items():
            status = call(client, method, concrete(path, people), operator.headers(REASON))
            if needed is None or may(role, needed.permission):
                assert status not in {401, 403}, (method, path, role, status)
            else:
                assert status == 403, (method, path, role, status)
            checked += 1
    assert checked >= 20


BAD_REASONS = {
    "missing": None,
    "blank": "%20%20%20%20",
    "two characters": "ab",
    "201 characters": "x" * 201,
    "not UTF-8": "%FF%FEticket",
    "a control character": "Ticket%0712",
    "a NUL": "Ticket%0012",
}


def audit_count(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM audit_log")).scalar_one())


def test_routes_that_need_a_reason_refuse_a_missing_or_bad_one_and_write_nothing(
    platform: Platform, client: TestClient, people: People
) -> None:
    admin = signed_in_operator(platform.engine, "admin")
    needing = [
        (method, path)
        for method, path, route in ops_routes(platform)
        if getattr(gate(route), "needs_reason", False)
    ]
    assert ("GET", "/v1/ops/consumers/{consumer_id}") in needing
    assert len(needing) >= 10
    before = audit_count(platform)
    for method, path in needing:
        url = concrete(path, people)
        for name, raw in BAD_REASONS.items():
            headers = admin.headers()
            if raw is not None:
                headers["Saoma-Reason"] = raw  # sent as typed, not encoded again
            answer = client.request(
                method, url, headers=headers, json={} if method == "POST" else None
            )
            assert answer.status_code == 422, (method, path, name, answer.status_code)
            assert answer.json()["field"] == "Saoma-Reason", (method, path, name)
            assert "Saoma-Reason" in answer.json()["detail"], (method, path, name)
    assert audit_count(platform) == before


def test_the_consumer_sees_who_looked_by_role_and_reason(
    platform: Platform, client: TestClient, people: People
) -> None:
    support = signed_in_operator(platform.engine, "support")
    page = client.get(f"/v1/ops/consumers/{people.consumer_id}", headers=support.headers(REASON))
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["consumer"]["display_name"] == "Wang Fang"
    assert body["wallet"] == {"currency": "CNY", "balance": 0, "available": 0, "reserved": 0}
    assert body["freeze"] is None
    log = client.get(
        "/v1/me/access-log", headers={"Authorization": f"Bearer {people.consumer_token}"}
    )
    assert log.status_code == 200
    (entry,) = log.json()["entries"]
    assert entry["role"] == "support"
    assert entry["reason"] == REASON
    assert entry["action"] == "consumer.view"
    assert entry["what"] == "wallet, history, holds, devices"
    assert support.id not in log.text and "Test support" not in log.text
    merchant_log = client.get(
        "/v1/merchant/access-log", headers={"Authorization": f"Bearer {people.merchant_token}"}
    )
    assert merchant_log.json()["entries"] == []


def test_a_merchant_page_is_logged_for_the_merchant(
    platform: Platform, client: TestClient, people: People
) -> None:
    risk = signed_in_operator(platform.engine, "risk")
    page = client.get(f"/v1/ops/merchants/{people.merchant_id}", headers=risk.headers("Ticket 9"))
    assert page.status_code == 200, page.text
    assert page.json()["merchant"]["name_zh"] == "老陈面馆"
    log = client.get(
        "/v1/merchant/access-log", headers={"Authorization": f"Bearer {people.merchant_token}"}
    ).json()["entries"]
    assert [(e["role"], e["action"], e["reason"]) for e in log] == [
        ("risk", "merchant.view", "Ticket 9")
    ]


def test_the_look_is_on_record_even_when_the_answer_never_leaves(
    platform: Platform, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(_: str) -> Any:
        raise RuntimeError("the process died while reading")

    monkeypatch.setattr(platform.lookup, "consumer", lost)
    support = signed_in_operator(platform.engine, "support")
    with TestClient(create_app(platform, start=False), raise_server_exceptions=False) as client:
        answer = client.get(
            f"/v1/ops/consumers/{people.consumer_id}", headers=support.headers(REASON)
        )
    assert answer.status_code == 500
    with platform.engine.connect() as conn:
        rows = conn.execute(text("SELECT role, action, subject_id, reason FROM audit_log")).all()
    assert [tuple(r) for r in rows] == [("support", "consumer.view", people.consumer_id, REASON)]


def test_search_is_logged_and_masks_what_it_finds(
    platform: Platform, client: TestClient, people: People
) -> None:
    support = signed_in_operator(platform.engine, "support")
    for q in ("wang", people.consumer_id, "1234", "NOODLES", "老陈"):
        found = client.get("/v1/ops/search", params={"q": q}, headers=support.headers())
        assert found.status_code == 200, found.text
        ids = [r["id"] for r in found.json()["results"]]
        assert people.consumer_id in ids or people.merchant_id in ids, q
    wang = client.get("/v1/ops/search", params={"q": "Wang F"}, headers=support.headers()).json()
    assert wang["results"] == [
        {
            "kind": "consumer",
            "id": people.consumer_id,
            "name": "W*** F***",
            "login": "+86*******1234",
        }
    ]
    assert (
        client.get("/v1/ops/search", params={"q": "%"}, headers=support.headers()).status_code
        == 422
    )
    assert client.get("/v1/ops/search", params={"q": "_%"}, headers=support.headers()).json() == {
        "results": [],
        "read_from": "primary",  # no standby set
        "data_age_s": 0.0,
    }
    admin = signed_in_operator(platform.engine, "admin")
    log = client.get("/v1/ops/audit", headers=admin.headers()).json()["data"]
    assert [e["action"] for e in log][:2] == ["audit.view", "search"]
    assert log[1]["operator_id"] == support.id and log[1]["subject_id"] == ""
