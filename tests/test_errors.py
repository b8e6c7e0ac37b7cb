"""The error catalogue: every slug raised is listed, documented, mapped to a status and translated.

The catalogue (:mod:`saoma.errors`) and the status table (:mod:`saoma.api.problems`) are read as
a client would read them: the JSON export, ``GET /v1/problems``, ``saoma errors``, and problem
responses of a few routes whose type, status and field must not change.
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

from saoma import errors
from saoma.api import problems
from saoma.cli import app as cli
from saoma.db import migrate
from saoma.platform import Platform
from saoma.problems import Problem, from_ledger_error, invalid, not_found
from saoma.server import create_app

SRC = Path(__file__).resolve().parents[1] / "src" / "saoma"
PAGES_JS = SRC / "web" / "static" / "saoma.js"


def _literal_raises() -> Iterator[tuple[str, int, str, int | None]]:
    """Every ``Problem("slug", status, ...)`` in src: (file, line, slug, status or None)."""
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id != "Problem" or not node.args:
                continue
            slug = node.args[0]
            if not (isinstance(slug, ast.Constant) and isinstance(slug.value, str)):
                continue
            status = node.args[1] if len(node.args) > 1 else None
            code = status.value if isinstance(status, ast.Constant) else None
            yield str(path.relative_to(SRC)), node.lineno, slug.value, code


def _dictionary(lang: str) -> dict[str, str]:
    """The ``err_*`` sentences of one language in the pages' dictionary."""
    text = PAGES_JS.read_text()
    start = text.index(f"\n  {lang}: {{")
    end = text.index("\n  },", start)
    block = text[start:end]
    return dict(re.findall(r'"err_([a-z0-9-]+)":\s*"((?:[^"\\]|\\.)*)"', block))


def test_every_slug_raised_in_src_is_in_the_catalogue_with_its_status() -> None:
    wrong = []
    for where, line, slug, status in _literal_raises():
        klass = errors.by_slug.get(slug)
        if klass is None or klass not in errors.catalogue:
            wrong.append(f"{where}:{line}: {slug!r} is not in saoma.errors")
        elif status is not None and problems.STATUS.get(klass) != status:
            wrong.append(
                f"{where}:{line}: {slug!r} raised with {status}, the table says "
                f"{problems.STATUS.get(klass)}"
            )
    assert not wrong, "\n".join(wrong)


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


def test_the_old_forms_build_catalogue_classes() -> None:
    made = Problem("order-expired", 409, "this order has expired: ask for a new code")
    assert type(made) is errors.OrderExpired and problems.status_of(made) == 409
    assert made.detail == "this order has expired: ask for a new code"
    with pytest.raises(Problem):  # ``except Problem`` catches every catalogue error
        raise errors.PinWrong("wrong PIN: 4 tries left", field="pin", tries_left=4)
    refused = Problem("pin-locked", 423, "locked", field="pin", locked_until_us=7)
    assert problems.document(refused, "/v1/x") == {
        "type": "https://saoma.dev/problems/pin-locked",
        "title": "Pin locked",
        "status": 423,
        "detail": "locked",
        "instance": "/v1/x",
        "field": "pin",
        "locked_until_us": 7,
    }
    assert type(invalid("amount", "amount must be positive")) is errors.InvalidRequest
    assert not_found("order", "o_1").detail == "no order 'o_1'"
    unlisted = Problem("not-listed-yet", 418, "a slug added meanwhile")
    assert (unlisted.slug, problems.status_of(unlisted)) == ("not-listed-yet", 418)
    assert unlisted.type == "https://saoma.dev/problems/not-listed-yet"
    assert (
        problems.status_of(Problem("conflict", 409, "x"))
        == problems.status_of(errors.RefundRaced("y"))
        == 409
    )


def test_ledger_refusals_translate_to_catalogue_classes() -> None:
    from saoma.ledger import errors as ledger_errors

    short = from_ledger_error(ledger_errors.InsufficientFunds("short"))
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
    assert served.json() == problems.catalogue()
    openapi = client.get("/openapi.json").json()
    assert openapi["x-problem-types"] == problems.catalogue()
    assert "Problem" in openapi["components"]["schemas"]
