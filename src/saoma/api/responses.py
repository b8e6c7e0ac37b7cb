"""What routes answer: the typed success bodies' base, how a body is sent, and the errors each
route documents in the OpenAPI document.

A route declares its success body with ``response_model=SomethingOut`` and sends the service's
view with :func:`answer`. FastAPI then uses the model for the document only: it neither
validates nor filters the body on the way out, so a field missing from a model cannot vanish
from an answer and no request pays for a second validation. The tests hold the two together:
every JSON answer of a tour of the API must match the documented schema with no member more
(``tests/api/test_response_contract.py``), and every model's example must match it too.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from saoma.api.schemas import ProblemDoc

_MEANING = {
    400: "Bad request",
    401: "Not signed in, wrong signature, wrong PIN or wrong password",
    402: "Insufficient funds",
    403: "Not allowed",
    404: "No such object (or not yours)",
    409: "Conflict with the object's state, or the same Idempotency-Key still running",
    410: "Gone",
    413: "Body too large",
    422: "Invalid request: the `field` member names what is wrong",
    423: "PIN locked after too many wrong tries",
    429: "Too many tries",
}
JSON = "application/json"


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": ProblemDoc,
            "description": _MEANING[status],
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


def answer(body: Any, status_code: int = 200) -> Response:
    """``body`` as JSON, the bytes FastAPI itself would have sent for a ``dict[str, Any]``."""
    return Response(to_json(body), status_code=status_code, media_type=JSON)


def example(value: dict[str, Any]) -> ConfigDict:
    """A model's configuration carrying one example of its JSON form."""
    return ConfigDict(json_schema_extra={"examples": [value]})


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def sometimes(**kwargs: Any) -> Any:
    """A member present in some states only: absent otherwise, never null.

    Annotate it ``X | SkipJsonSchema[None]``: the document says "an X, not required".
    """
    return Field(default=None, json_schema_extra=_no_default, **kwargs)


class Out(BaseModel):
    """A success body. Open to new members: a client generated today keeps working tomorrow."""


T = TypeVar("T")


class Page(Out, Generic[T]):
    """One page of a list, newest first; ``next_cursor`` (null on the last page) asks for the
    next one."""

    data: list[T]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page.")


class Listing(Out, Generic[T]):
    """A short list, whole."""

    data: list[T]


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    found = [root]
    for sub in root.__subclasses__():
        found += _models(sub)
    return found


def restore_examples(schemas: dict[str, Any]) -> None:
    """Put the models' examples back as written: FastAPI drops every null from the document it
    builds, those of the examples too (an order's ``"payment_id": null``, say)."""
    models: list[type[BaseModel]] = [ProblemDoc, *_models(Out)]
    for model in models:
        extra = model.model_config.get("json_schema_extra")
        if isinstance(extra, dict) and "examples" in extra and model.__name__ in schemas:
            schemas[model.__name__]["examples"] = extra["examples"]
