"""The OpenAPI document describes every operation's answer: a typed success body with an
example, and the problem documents it may give.

A merchant generates a client from ``/openapi.json``: a success answer without a schema (or
with an open ``{}``) gives it nothing to type, an example that does not match its schema
misleads whoever reads it. The document comes from the application itself, as served.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import compile_path

from api.openapi_strict import StrictDocument
from saoma.bootstrap import Platform
from saoma.server import create_app

PROBLEM_REF = "#/components/schemas/ProblemDoc"


@pytest.fixture(scope="module")
def document(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("openapi") / "saoma.db"
    shutil.copy(sqlite_template, path)
    platform = Platform.open(f"sqlite:///{path}", migrate_first=False)
    try:
        yield create_app(platform, start=False).openapi()
    finally:
        platform.close()


def operations(document: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def successes(operation: dict[str, Any]) -> dict[str, Any]:
    return {s: r for s, r in operation["responses"].items() if s.startswith("2")}


def referenced(schema: dict[str, Any]) -> list[str]:
    """The component names a success schema stands for: one, or each branch of a oneOf."""
    refs = [schema.get("$ref")] if "$ref" in schema else [b.get("$ref") for b in schema["oneOf"]]
    assert all(isinstance(r, str) for r in refs), schema
    return [str(r).rsplit("/", 1)[-1] for r in refs]


def test_every_operation_has_a_typed_success_answer_with_an_example(document: Any) -> None:
    schemas = document["components"]["schemas"]
    untyped = []
    for method, path, operation in operations(document):
        answers = successes(operation)
        assert len(answers) == 1, (method, path, list(answers))
        ((status, answer),) = answers.items()
        content = answer.get("content", {})
        if status == "204":
            assert not content, (method, path)
            continue
        ((media, body),) = content.items()
        if media == "application/json":
            for name in referenced(body["schema"]):
                component = schemas[name]
                if not component.get("properties") or not component.get("examples"):
                    untyped.append(f"{method} {path}: {name}")
        elif not (body["schema"] == {"type": "string"} and body.get("example")):
            untyped.append(f"{method} {path}: {media} without an example")
    assert untyped == []
    assert len(operations(document)) >= 78


def test_every_example_matches_its_schema(document: Any) -> None:
    strict = StrictDocument(document)
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            ref = {"$ref": f"#/components/schemas/{name}"}
            assert strict.errors(ref, example) == [], name
            checked += 1
    assert checked >= 50


def test_every_problem_is_a_problem_document(document: Any) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert {"422", "500"} <= set(responses), (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": PROBLEM_REF}}
                }, (method, path, status)


def test_an_example_that_breaks_its_schema_is_caught(document: Any) -> None:
    """The strict check itself: a member more, a wrong type and a missing member all fail."""
    strict = StrictDocument(document)
    order = {"$ref": "#/components/schemas/OrderOut"}
    (example,) = document["components"]["schemas"]["OrderOut"]["examples"]
    assert strict.errors(order, example) == []
    assert strict.errors(order, example | {"surprise": 1})
    assert strict.errors(order, example | {"amount": "2500"})
    assert strict.errors(order, {k: v for k, v in example.items() if k != "payment_id"})


def test_no_two_operations_answer_the_same_request(document: Any) -> None:
    """Routes are tried in order and the first that matches answers: with no two matching the
    same method and path, their order (the payments' routers first) changes no answer."""

    def sample(path: str) -> str:  # a request this path answers: each parameter a plain word
        return re.sub(r"\{[^}]+\}", "x1", path)

    ops = [(method, path, compile_path(path)[0]) for method, path, _ in operations(document)]
    assert len(ops) > 150, "the document lost its operations"
    both = [
        f"{method} {path} also answers {other}"
        for method, path, pattern in ops
        for other_method, other, _ in ops
        if other != path and other_method == method and pattern.match(sample(other))
    ]
    assert not both, both
