"""The error catalogue: every slug raised is listed, documented, mapped to a status and translated.

The catalogue (:mod:`saoma.core.errors`) and the status table (:mod:`saoma.api.problems`) are
read as a client would read them: the JSON export, ``GET /v1/problems``, ``saoma errors``, and
problem responses of a few routes whose type, status and field must not change.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from saoma.api import problems
from saoma.bootstrap import Platform
from saoma.cli import app as cli
from saoma.core import errors
from saoma.db import migrate
from saoma.movements import from_ledger
from saoma.server import create_app

SRC = Path(__file__).resolve().parents[1] / "src" / "saoma"
PAGES_JS = SRC / "web" / "static" / "saoma.js"


def _raised_names() -> Iterator[tuple[str, int, str]]:
    """Every ``raise Name(...)`` in src of a name from saoma.core.errors: (file, line, name)."""
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "saoma.core.errors"
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            if isinstance(func, ast.Name) and func.id in imported:
                yield str(path.relative_to(SRC)), node.lineno, func.id


def _dictionary(lang: str) -> dict[str, str]:
    """The ``err_*`` sentences of one language in the pages' dictionary."""
    text = PAGES_JS.read_text()
    start = text.index(f"\n  {lang}: {{")
    end = text.index("\n  },", start)
    block = text[start:end]
    return dict(re.findall(r'"err_([a-z0-9-]+)":\s*"((?:[^"\\]|\\.)*)"', block))


def test_raise_sites_name_a_catalogue_class_and_no_status() -> None:
    helpers = {"not_found", "from_ledger"}  # build catalogue classes themselves
    raised = list(_raised_names())
    assert len(raised) > 100  # the walk sees the raise sites
    wrong = [
        f"{where}:{line}: {name} is not in the catalogue"
        for where, line, name in raised
        if name not in helpers and getattr(errors, name, None) not in errors.catalogue
    ]
    assert not wrong, "\n".join(wrong)
    # No raise site carries an HTTP status: the old ``Problem(slug, status, ...)`` form is gone.
    calls = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Problem"
    ]
    assert calls == []


def test_every_class_is_documented_and_has_a_status() -> None:
    classes = [errors.SaomaError, *errors.catalogue]
    assert all(k.__dict__.get("__doc__", "").strip() for k in classes), [
        k.__name__ for k in classes if not k.__dict__.get("__doc__", "").strip()
    ]
    assert errors.SaomaError not in problems.STATUS  # a class left out is not silently answered
    missing = []
    for klass in errors.catalogue:
        if issubclass(klass, errors.PassedOn):
            continue
        if not any(base in problems.STATUS for base in klass.__mro__):
            missing.append(klass.__name__)
    assert not missing, f"no HTTP status in saoma.api.problems.STATUS for {missing}"
    assert set(problems.STATUS) <= set(errors.catalogue)


def test_no_two_classes_share_a_slug_and_a_cause() -> None:
    seen: dict[tuple[str, str], str] = {}
    for klass in errors.catalogue:
        assert klass.slug and re.fullmatch(r"[a-z]+(-[a-z]+)*", klass.slug), klass
        key = (klass.slug, klass.cause)
        assert key not in seen, f"{klass.__name__} and {seen[key]} are both {key}"
        seen[key] = klass.__name__
        first = errors.by_slug[klass.slug]
        if first is not klass:
            # A second cause under a slug of today: a subclass of the slug's class, which names
            # the precise slug it will answer with once clients are told.
            assert issubclass(klass, first), f"{klass.__name__} shares {klass.slug!r} by accident"
            assert klass.cause != klass.slug


def test_every_slug_has_an_english_and_a_chinese_sentence() -> None:
    english, chinese = _dictionary("en"), _dictionary("zh")
    slugs = {klass.slug for klass in errors.catalogue}
    assert not slugs - set(english), f"no English sentence for {sorted(slugs - set(english))}"
    assert not slugs - set(chinese), f"no Chinese sentence for {sorted(slugs - set(chinese))}"
    han = re.compile(r"[\u4e00-\u9fff]")
    assert all(han.search(chinese[slug]) for slug in slugs), "a Chinese sentence in English"
    assert all(not han.search(english[slug]) for slug in slugs)


def test_a_catalogue_error_becomes_its_problem_document() -> None:
    refused = errors.PinLocked("locked", field="pin", locked_until_us=7)
    assert isinstance(refused, errors.SaomaError)  # ``except SaomaError`` catches every one
    assert problems.document(refused, "/v1/x") == {
        "type": "https://saoma.dev/problems/pin-locked",
        "title": "Pin locked",
        "status": 423,
        "detail": "locked",
        "instance": "/v1/x",
        "field": "pin",
        "locked_until_us": 7,
    }
    assert errors.not_found("order", "o_1").detail == "no order 'o_1'"
    assert errors.OrderExpired().detail == errors.OrderExpired.doc()  # no detail: the doc
    # A cause under a shared slug answers as its slug does, and names its own precise slug.
    raced = errors.RefundRaced("y")
    assert (raced.slug, raced.cause) == ("conflict", "refund-raced")
    assert problems.status_of(raced) == problems.status_of(errors.Conflict("x")) == 409


def test_ledger_refusals_translate_to_catalogue_classes() -> None:
    from saoma.ledger import errors as ledger_errors

    short = from_ledger(ledger_errors.InsufficientFunds("short"))
    assert (type(short), problems.status_of(short), short.field) == (
        errors.InsufficientFunds,
        402,
        "amount",
    )


def test_the_catalogue_is_exported_to_the_cli_and_the_openapi_document() -> None:
    rows = problems.catalogue()
    printed = CliRunner().invoke(cli, ["errors"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == rows
    by_name = {row["name"]: row for row in rows}
    assert by_name["RefundRaced"] | {"doc": ""} == {
        "name": "RefundRaced",
        "slug": "conflict",
        "cause": "refund-raced",
        "title": "Conflict",
        "status": 409,
        "doc": "",
        "type": "https://saoma.dev/problems/conflict",
    }
    assert all(row["doc"] and row["title"] for row in rows)
    document = problems.describe({"paths": {}})
    assert document["x-problem-types"] == rows
    types = document["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    assert set(types) == {row["type"] for row in rows}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    migrate(db_url)
    platform = Platform.open(db_url)
    try:
        with TestClient(create_app(platform, start=False)) as test_client:
            yield test_client
    finally:
        platform.close()


def _problem(response: object) -> tuple[int, str, str | None]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.headers["content-type"].startswith("application/problem+json")
    doc = response.json()
    assert doc["status"] == response.status_code
    return response.status_code, doc["type"].rsplit("/", 1)[1], doc.get("field")


def test_problem_responses_keep_their_type_status_and_field(client: TestClient) -> None:
    assert _problem(client.get("/v1/problems", params={"x": "\x00"})) == (
        422,
        "invalid-request",
        "x",
    )
    assert _problem(client.get("/v1/nowhere")) == (404, "not-found", None)
    assert _problem(client.delete("/v1/problems")) == (405, "method-not-allowed", None)
    assert _problem(client.get("/v1/me")) == (401, "unauthenticated", None)
    assert _problem(client.post("/v1/sessions", json={"login": "a@b.cn"})) == (
        422,
        "invalid-request",
        "password",
    )
    wrong = client.post("/v1/sessions", json={"login": "nobody@b.cn", "password": "x" * 12})
    assert _problem(wrong) == (401, "sign-in-failed", None)
    twice = client.post(
        "/v1/sessions",
        content=b'{"login": "a@b.cn", "login": "c@d.cn", "password": "pw"}',
        headers={"content-type": "application/json"},
    )
    assert _problem(twice) == (422, "invalid-request", "login")
    too_big = client.post("/v1/sessions", content=b"x" * 70_000)
    assert _problem(too_big) == (413, "body-too-large", None)
    assert _problem(client.get("/v1/merchant")) == (401, "signature-missing", None)
    demo = client.post("/web/demo-sessions", json={"kind": "consumer", "login": "a@b.cn"})
    assert _problem(demo) == (404, "not-found", None)


def test_the_catalogue_is_served(client: TestClient) -> None:
    served = client.get("/v1/problems")
    assert served.status_code == 200
    assert served.json() == {"data": problems.catalogue()}
    openapi = client.get("/openapi.json").json()
    assert openapi["x-problem-types"] == problems.catalogue()
    assert "Problem" in openapi["components"]["schemas"]
